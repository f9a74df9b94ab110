// The host-SIMT backend: runs a kernel written against device.hpp on the CPU.
//
// Each thread of a block is a fiber (Boost.Context) with a small guarded stack; dev::block_sync
// and the warp operations are the points where a thread yields. A block runs all its runnable
// threads until each waits or exits, then completes whatever sync points are complete (a warp
// group whose lanes all arrived; a barrier all threads reached) and repeats. When nothing can
// complete, the kernel is deadlocked on real hardware too (or undefined there): the launch throws
// KernelError naming the block, the threads and the operation. Blocks run on a worker pool.
#pragma once

#include <cstdint>
#include <stdexcept>

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

// Number of worker threads that run blocks (default: the hardware's concurrency).
void set_worker_count(unsigned workers);
unsigned worker_count();

}  // namespace ulpgate::host_simt
