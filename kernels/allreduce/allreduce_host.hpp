// The custom all-reduce on the host-SIMT emulator: the world's ranks are ranks of one world launch
// sharing host memory (host_simt::launch_world), so CI runs the whole path — registration, the
// copy into the registered buffer, both kernels and their flag protocol — without a GPU. Every
// rank's registered buffer and tmp buffer is declared to the emulator as that rank's memory: a
// peer that touches it after the rank returned (no end barrier) is a kernel error.
#pragma once

#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "kernels/allreduce/allreduce_plan.hpp"
#include "kernels/portable/host_simt.hpp"

namespace ulpgate::allreduce_kernels {

inline constexpr unsigned kHostBlocks = 4, kHostThreads = 128;

// Every rank's registered buffer, tmp buffer and signal, kept across calls (the signal counters
// number the calls, as on a GPU).
class HostWorld {
 public:
  // Sized for `world` ranks and messages up to `bytes` (grows; signals survive growth). A world of
  // another size is a new communicator: its signals start at zero on every rank, or the ranks'
  // call counters would disagree and the barriers wait forever.
  void reserve(int world, int64_t bytes);
  // After a failed launch the signals hold whatever the ranks got to: the next call starts anew.
  void forget_signals() { world_ = 0; }
  // The first `world` ranks.
  WorldPointers pointers(int world) const;
  std::vector<host_simt::RankRegion> regions(int world, int64_t bytes) const;

 private:
  struct Rank {
    std::unique_ptr<uint8_t[]> data, tmp;
    std::unique_ptr<Signal> signal;
  };
  std::vector<Rank> ranks_;
  int64_t capacity_ = 0;
  int world_ = 0;
};

// Runs spec on io (the harness's RankBuffers): plan (AllreduceError for a refused input), copy each
// view into its rank's registered buffer, launch the world, return the kernel that ran.
// Throws host_simt::KernelError when the kernel fails. Faults: tests only.
template <class Faults = NoFault>
allreduce::Order run_allreduce_host(const Arch& arch, const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io,
                                    HostWorld& world, Faults faults = {}) {
  const Plan plan = plan_allreduce(spec, spec.variant->max_bytes, kHostBlocks, kHostThreads);
  const size_t at = size_t(spec.view.offset) * (info(spec.dtype).bits / 8), bytes = size_t(spec.bytes());
  world.reserve(spec.world, int64_t(bytes));
  const WorldPointers p = world.pointers(spec.world);
  for (int r = 0; r < spec.world; ++r) std::memcpy(const_cast<uint8_t*>(p.data[r]), io[size_t(r)].input.data() + at, bytes);
  const std::vector<host_simt::RankRegion> regions = world.regions(spec.world, int64_t(bytes));
  with_kernels(
      plan,
      [&](auto make) {
        using Kernel = decltype(make(p, 0, nullptr));
        std::vector<Kernel> kernels;
        for (int r = 0; r < spec.world; ++r)
          kernels.push_back(make(p, r, reinterpret_cast<uint8_t*>(io[size_t(r)].output.data() + at)));
        try {
          host_simt::launch_world(arch, plan.config, std::span<const Kernel>(kernels), {regions});
        } catch (...) {
          world.forget_signals();
          throw;
        }
      },
      faults);
  return plan.kernel;
}

// NCCL's ring as measured (reference/allreduce/nccl_ring.hpp), replayed on the host: every rank's
// output view gets ring_sum of the inputs' views, the rest of its storage untouched.
void run_nccl_ring_host(const allreduce::RingOrder& ring, const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io);

// ---- one rank per process (mpirun): the world's memory is a shared-memory segment per rank ----

// Rank r's segment: its signal, then its registered buffer and its tmp buffer, from the segment's
// first 256-byte boundary (a shared window's segments are only 8-byte aligned).
inline constexpr size_t kSegmentAlign = 256, kSegmentHeader = (sizeof(Signal) + 255) / 256 * 256;
inline size_t segment_bytes(int64_t registered) { return kSegmentAlign + kSegmentHeader + 2 * size_t(registered); }
WorldPointers segment_pointers(std::span<std::byte* const> segments, int64_t registered);

// How long a rank waits for peers it cannot see before it reports a deadlock.
inline constexpr std::chrono::milliseconds kPeerPatience{30000};

// Runs rank `rank` of spec alone on this process's host-SIMT emulator; the other ranks are other
// processes whose flags and data arrive through the segments (p). Throws AllreduceError for a
// refused input, host_simt::KernelError when the kernel fails or the peers never arrive.
template <class Faults = NoFault>
allreduce::Order run_allreduce_rank_host(const Arch& arch, const allreduce::Spec& spec, int rank,
                                         const allreduce::RankBuffers& mine, const WorldPointers& p, Faults faults = {}) {
  const Plan plan = plan_allreduce(spec, spec.variant->max_bytes, kHostBlocks, kHostThreads);
  const size_t at = size_t(spec.view.offset) * (info(spec.dtype).bits / 8);
  std::memcpy(const_cast<uint8_t*>(p.data[rank]), mine.input.data() + at, size_t(spec.bytes()));
  with_kernels(
      plan,
      [&](auto make) {
        const auto kernel = make(p, rank, reinterpret_cast<uint8_t*>(mine.output.data() + at));
        host_simt::launch_world(arch, plan.config, std::span(&kernel, 1), {{}, kPeerPatience});
      },
      faults);
  return plan.kernel;
}

}  // namespace ulpgate::allreduce_kernels
