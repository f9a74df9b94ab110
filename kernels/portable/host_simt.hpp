// The host-SIMT backend: runs a kernel written against device.hpp on the CPU.
//
// Each thread of a block is a fiber (Boost.Context) with a small guarded stack; dev::block_sync
// and the warp operations are the points where a thread yields. A block runs all its runnable
// threads until each waits or exits, then completes whatever sync points are complete (a warp
// group whose lanes all arrived; a barrier all threads reached) and repeats. When nothing can
// complete, the kernel is deadlocked on real hardware too (or undefined there): the launch throws
// KernelError naming the block, the threads and the operation. Blocks run on a worker pool.
//
// A world launch runs N ranks of one kernel at once, as the GPUs of an all-reduce do: every block
// of every rank is resident, and they signal each other through dev::store_flag / wait_flag.
// They run on the calling thread, deterministically and adversarially: pass after pass over rank
// 0's blocks, then rank 1's, ..., each block as far as it can go, so a rank runs ahead and leaves
// as soon as nothing holds it.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "kernels/portable/arch.hpp"
#include "kernels/portable/device.hpp"

namespace ulpgate::host_simt {

struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr unsigned kMaxBlockThreads = 1024;
inline constexpr std::size_t kStackBytes = 64 * 1024;        // per thread fiber, plus a guard page
inline constexpr std::size_t kMaxSharedBytes = 227 * 1024;   // static + dynamic, per block (sm90)

// Counts of the work done, for measuring the emulator itself.
struct LaunchStats {
  uint64_t thread_steps = 0;  // fiber resumptions: one per thread per sync point passed
  uint64_t blocks = 0;
};

using KernelBody = void (*)(const void* kernel);

// Runs body(kernel) on every thread of every block; throws KernelError on a kernel error and
// std::invalid_argument on a bad configuration. Launches from several threads are serialised.
LaunchStats launch_erased(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
                          const void* kernel);

template <class Kernel>
LaunchStats launch(const Arch& arch, const LaunchConfig& cfg, const Kernel& kernel) {
  return launch_erased(
      arch, cfg, [](const void* k) { (*static_cast<const Kernel*>(k))(); }, &kernel);
}

// Memory one rank owns that its peers read or write (its registered buffer). Once every block of
// that rank has exited, a peer's load16/store16 inside it is a KernelError: nothing ordered that
// access before the owner returned (a missing end barrier).
struct RankRegion {
  unsigned rank;
  const void* begin;
  std::size_t bytes;
};

struct WorldOptions {
  std::span<const RankRegion> regions;
  // 0: every rank of the world is in this launch, so a pass with no progress is a deadlock.
  // > 0: some flags are written by other processes (MPI ranks): a stalled world polls the flags
  // (sleeping briefly between polls) for this long before it reports the deadlock.
  std::chrono::milliseconds patience{0};
};

// kernels[i] is rank i's functor; every rank launches cfg and all ranks x blocks are resident at
// once (the all-reduce kernels need co-residency: a grid no larger than the SM count). Runs on the
// calling thread; world launches on different threads are independent, and each thread keeps its
// blocks and fiber stacks for its next world. A full pass over the world without progress (and
// patience exhausted) throws KernelError naming the first stuck block as "rank R block (x,y,z)",
// its threads and what they wait for (a flag wait: the site, the value awaited, the value held).
// A block stuck by itself (no thread waits for a flag: a block_sync or warp op misuse) is named
// before the blocks waiting for flags, and reported as launch() reports it, with the rank named;
// so are the threads' own errors. An error anywhere abandons the whole world (every fiber
// unwound). std::invalid_argument on a bad configuration or region.
LaunchStats launch_world_erased(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
                                std::span<const void* const> kernels, const WorldOptions& options);

template <class Kernel>
LaunchStats launch_world(const Arch& arch, const LaunchConfig& cfg, std::span<const Kernel> ranks,
                         const WorldOptions& options = {}) {
  std::vector<const void*> kernels;
  kernels.reserve(ranks.size());
  for (const Kernel& k : ranks) kernels.push_back(&k);
  return launch_world_erased(
      arch, cfg, [](const void* k) { (*static_cast<const Kernel*>(k))(); }, kernels, options);
}

// Number of worker threads that run blocks (default: the hardware's concurrency).
void set_worker_count(unsigned workers);
unsigned worker_count();

}  // namespace ulpgate::host_simt
