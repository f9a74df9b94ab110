// allreduce.rms / allreduce.rms-quant on one GPU: the world's ranks as concurrent grids on the one
// device, each of at most multiprocessors / world blocks on a stream of its own (all co-resident,
// so the flag barriers cannot deadlock), every rank's registered, tmp and signal buffers in its
// memory. What one H200 runs of the fused kernels; runs over several GPUs are issue 33's. Plain
// C++ declarations; the GPU side is fused_gpu.cu (built for CUDA; its host side compile-checked for HIP).
#pragma once

#include <cstddef>
#include <span>

#include "kernels/allreduce/allreduce_kernels.hpp"
#include "kernels/quant/quant_bench.hpp"
#include "reference/allreduce/fused.hpp"

namespace ulpgate::allreduce_kernels {

// io's buffers are host memory; outputs come back with their device guard regions checked
// (guard::OutOfBounds). Throws AllreduceError / NormError for a refused input, GpuWorldError for a
// driver failure.
void run_fused_one_gpu(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io);

// One rank per process (mpirun, a GPU each: GpuRank::fused): rank `rank`'s kernel on `stream` of
// the current device, every rank's registered, tmp and signal buffers in p (this rank's own, the
// peers' mapped through CUDA IPC), registered buffers of `registered` bytes. mine is host memory.
void run_fused_rank_gpu(const allreduce::FusedSpec& spec, int rank, const allreduce::FusedRankBuffers& mine,
                        const WorldPointers& p, int64_t registered, void* stream);

// The bench: every rank's kernel per call (inputs registered, filled on the device), timed as the
// norm bench times its kernels; `bytes` is the global-memory traffic of one call over all ranks
// (fused_gpu.cu says what it counts). Throws quant_kernels::BenchError.
struct FusedTiming {
  quant_kernels::Timing timing;
  std::size_t bytes;
};
FusedTiming time_fused_one_gpu(const allreduce::FusedSpec& spec, int reps);

}  // namespace ulpgate::allreduce_kernels
