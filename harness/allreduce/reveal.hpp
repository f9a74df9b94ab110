// `ulpgate reveal --case allreduce/...`: the order in which an all-reduce adds the ranks' values,
// per element and per output rank, from designed inputs (FPRev's swamping, as harness/gemm/
// reveal.hpp): for each pair of ranks (i, j), rank i holds +L and rank j -L at every element, every
// other rank r a unit 2^r (times a dtype's scale); a unit added to +L or -L before the two met is
// swamped, so the units that survive are the ranks outside the node where i and j meet. The nodes
// of all pairs are the sum's tree. W (W - 1) / 2 calls for W ranks, each run twice (bits that
// differ: not deterministic, no order); every element is its own experiment, so an order that
// changes along the message (two-shot partitions, ring chunks) shows as runs of elements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/backend.hpp"
#include "reference/allreduce/allreduce.hpp"

namespace ulpgate::allreduce {

struct RevealedRun {
  int64_t begin, end;  // elements [begin, end) of the view
  std::string ranks;   // the output ranks this holds for: "0-3", "2"
  std::string tree;    // "((r0+r1)+r2)+r3": ranks grouped as they were added (operand order not shown)
  std::string expected;  // the variant's documented tree there ("" for per-hop variants)
};

struct RevealedAllreduce {
  bool deterministic = true;
  std::string problem;  // why no order was revealed ("" when one was)
  std::vector<RevealedRun> runs;
  int calls = 0;
  std::string ring_row;  // NCCL: the runs as a row of reference/allreduce/nccl_ring.cpp, where one fits
  std::string story() const;
};

// The ring row (nccl_ring.hpp) whose chains are these runs' trees at every run's ends, if one is:
// the runs (one output rank set, one chain each) are the chunks in order, the first run's length the
// chunk, the first step of another chunk length a region's rest, the last step the last region's.
std::optional<RingOrder> fit_ring(const Spec& s, std::string_view arch, const std::vector<RevealedRun>& runs);

// The tree of a left-deep sum of the ranks in this order: "((r2+r3)+r0)+r1".
std::string chain_tree(const std::vector<int>& ranks);

// Throws BackendError when the kernel fails, NotSupported when it refuses the case.
RevealedAllreduce reveal_allreduce(const Spec& s, Backend& backend);

}  // namespace ulpgate::allreduce
