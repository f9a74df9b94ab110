// The all-reduce on GPUs, one process driving `world` devices (0..world-1): the custom kernels
// with every rank's registered buffer, tmp buffer and signal reachable through peer access (P2P
// over NVLink), and NCCL (ncclCommInitAll, the `nccl` variant). Plain C++ interface; the CUDA side
// is allreduce_gpu.cu. NVLink multicast (NVLS) is never used: the runner refuses to start unless
// NCCL_NVLS_ENABLE=0 is set, and creates no multicast object.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/allreduce/allreduce.hpp"
#include "reference/allreduce/fused.hpp"

namespace ulpgate::allreduce_kernels {

inline constexpr unsigned kGpuBlocks = 36, kGpuThreads = 512;

// A driver, NCCL or peer-access failure (the verdict `error`, or exit 3 in the bench).
struct GpuWorldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int gpu_count();

class GpuWorld {
 public:
  // Registered buffers of `registered_bytes` per rank (grown on demand up to that limit).
  explicit GpuWorld(int64_t registered_bytes = allreduce::kDefaultRegisteredBytes);
  ~GpuWorld();
  GpuWorld(const GpuWorld&) = delete;
  GpuWorld& operator=(const GpuWorld&) = delete;

  // The custom kernels (AllreduceError for an input they refuse); returns the kernel that ran.
  // Every rank's output storage sits between guard regions (guard::OutOfBounds when a kernel
  // writes outside it); inputs and outputs travel as whole storages, so the harness sees writes
  // around the views too.
  allreduce::Order custom(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io);
  // NCCL's all-reduce of the same buffers; returns NCCL's version text.
  std::string nccl(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io);
  // allreduce.rms / allreduce.rms-quant with rank r on GPU r, the message in the registered
  // buffers (grown to it); outputs checked as custom's.
  void fused(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io);

  // The bench: seconds per call over `iterations` back-to-back calls of `bytes` of bf16 on
  // `world` GPUs (custom: inputs already registered, as under CUDA graphs; NCCL: out of place),
  // and the element count whose result was not the exact sum of exactly summable inputs.
  struct Timing {
    double seconds;
    int64_t wrong;
  };
  Timing time_custom(int world, int64_t bytes, int iterations);
  Timing time_nccl(int world, int64_t bytes, int iterations);
  // The fused op against what it replaces (NCCL's all-reduce, then the norm kernel on every rank),
  // on the same exactly summable bf16 inputs with a zero residual: wrong counts written-back
  // residual elements that are not the exact sum.
  Timing time_fused(const allreduce::FusedSpec& spec, int iterations);
  Timing time_unfused(const allreduce::FusedSpec& spec, int iterations);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One rank per process (mpirun -np N, a GPU each): rank r drives GPU r mod gpu_count(); its
// registered buffer, tmp buffer and signal reach the peers through CUDA IPC handles, and NCCL's
// communicator comes from ncclCommInitRank. `exchange` hands every process's blob to every process
// (MPI's all-gather); it and every call below are collective: all ranks make them together.
using Exchange = std::function<std::vector<std::string>(const std::string&)>;

class GpuRank {
 public:
  GpuRank(int rank, int world, Exchange exchange, int64_t registered_bytes = allreduce::kDefaultRegisteredBytes);
  ~GpuRank();
  GpuRank(const GpuRank&) = delete;
  GpuRank& operator=(const GpuRank&) = delete;

  // As GpuWorld's, for this process's rank only.
  allreduce::Order custom(const allreduce::Spec& spec, const allreduce::RankBuffers& mine);
  std::string nccl(const allreduce::Spec& spec, const allreduce::RankBuffers& mine);
  // allreduce.rms / allreduce.rms-quant (fused_gpu.hpp) on the same registered buffers: the
  // message must fit them (AllreduceError otherwise).
  void fused(const allreduce::FusedSpec& spec, const allreduce::FusedRankBuffers& mine);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ulpgate::allreduce_kernels
