// NCCL's ring all-reduce as measured (`ulpgate reveal --case allreduce/nccl/...`, which
// ci/gpu-run.sh's allreduce step runs at every NCCL golden case's shape): the message is cut into
// regions (one per channel), each region into steps of `world` chunks; chunk k of a step is reduced
// around the ring starting at rank k + 1 and ending at rank k, each hop adding one rank's value and
// rounding to the element type (element::per_hop). A region takes as many steps of full chunks as
// fit and then one step of the rest in smaller chunks; the last region is the message's rest. Where
// regions, chunks and the rest fall is NCCL's choice per message size (channels, protocol,
// alignment), so it is measured, one row per (arch, world, message bytes), never derived; with two
// ranks every order is the same single rounding, so world 2 needs no row.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ulpgate::allreduce {

struct RingOrder {
  std::string_view arch;          // the golden/<arch> rows this describes
  int world;
  int64_t bytes;                  // the message (the view), any element type
  int64_t region_bytes;           // a channel's region (the last region: the rest of the message)
  int64_t chunk_bytes;            // a chunk of a full step (world chunks per step)
  int64_t rest_chunk_bytes;       // a chunk of the step after a region's full steps
  int64_t last_rest_chunk_bytes;  // the same in the last region (its last chunk ends with the message)
  std::string_view source;        // where it was measured

  // The rank whose value starts the chain at the element `at_byte` bytes into the message.
  int first_rank(int64_t at_byte) const;
};

std::span<const RingOrder> ring_orders();
// The row for this message, or nullptr; world 2 has a row for every size on an arch with rows.
const RingOrder* find_ring_order(std::string_view arch, int world, int64_t bytes);

}  // namespace ulpgate::allreduce
