// allreduce.rms / allreduce.rms-quant on GPUs: every rank's grid co-resident on one GPU, or each
// rank on a GPU of its own. Plain C++ declarations; the GPU side is fused_gpu.cu (built for CUDA;
// its host side compile-checked for HIP).
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "kernels/allreduce/allreduce_kernels.hpp"
#include "kernels/quant/quant_bench.hpp"
#include "reference/allreduce/fused.hpp"

namespace ulpgate::allreduce_kernels {

// The world's ranks as concurrent grids on GPU 0, each of at most multiprocessors / world blocks
// on a stream of its own (all co-resident, so the flag barriers cannot deadlock), every rank's
// registered, tmp and signal buffers in its memory: what one GPU runs of any world.
// io's buffers are host memory; outputs come back with their device guard regions checked
// (guard::OutOfBounds). Throws AllreduceError / NormError for a refused input, GpuWorldError for a
// driver failure.
void run_fused_one_gpu(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io);

// Ranks first_rank .. first_rank + io.size() - 1 of the world in this process: rank
// first_rank + i on device devices[i] and stream streams[i], its grid alone on that device (one
// process over the GPUs through P2P: GpuWorld::fused; one rank per process under mpirun through
// CUDA IPC: GpuRank::fused). Every rank's registered, tmp and signal buffers are in p, registered
// buffers of `registered` bytes. Every rank is launched before any is waited for: their kernels
// meet at barriers. io is host memory.
void run_fused_ranks_gpu(const allreduce::FusedSpec& spec, int first_rank, std::span<const allreduce::FusedRankBuffers> io,
                         std::span<const int> devices, std::span<void* const> streams, const WorldPointers& p,
                         int64_t registered);

// The several-GPU bench (GpuWorld::time_fused / time_unfused): rank r's norm-stage buffers on
// device r, the residual zero (so the written-back residual must be the exact sum of exactly
// summable inputs), the weights filled. Throws GpuWorldError.
class FusedBenchRanks {
 public:
  explicit FusedBenchRanks(const allreduce::FusedSpec& spec);
  ~FusedBenchRanks();
  FusedBenchRanks(const FusedBenchRanks&) = delete;
  FusedBenchRanks& operator=(const FusedBenchRanks&) = delete;

  // Every rank's fused kernel on its device and stream, reading the registered inputs in p.
  void launch_fused(const WorldPointers& p, std::span<void* const> streams) const;
  // Every rank's unfused norm kernel (norm.rms-add or norm.rms-add-quant) reading sums[r] as x.
  void launch_norm(std::span<uint8_t* const> sums, std::span<void* const> streams) const;
  const uint8_t* residual_out(int rank) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The bench: every rank's kernel per call (inputs registered, filled on the device), timed as the
// norm bench times its kernels; `bytes` is the global-memory traffic of one call over all ranks
// (fused_gpu.cu says what it counts). Throws quant_kernels::BenchError.
struct FusedTiming {
  quant_kernels::Timing timing;
  std::size_t bytes;
};
FusedTiming time_fused_one_gpu(const allreduce::FusedSpec& spec, int reps);

}  // namespace ulpgate::allreduce_kernels
