// The device GEMM reference on the host-SIMT emulator (reference_host.cpp): the same pipeline and
// kernels as on the GPU (reference_pipeline.hpp), under any Arch's warp size, with the block sums
// from Eigen instead of cuBLAS. The tests hold it bit for bit to gemm_ideal and gemm_model.
#pragma once

#include <cstddef>

#include "kernels/gemm/reference_gpu.hpp"
#include "kernels/portable/arch.hpp"

namespace ulpgate::gemm_kernels {

struct HostOptions {
  std::size_t scratch_bytes = std::size_t(64) << 20;  // block sums per slab of rows (small: many slabs)
  double widen = 0;  // added to every rounding's error bound: huge sends every element to the host
};

GpuIdeal ideal_host(const Arch& arch, const gemm::Spec& spec, const gemm::Operands& in, const HostOptions& options = {});
gemm::Output replay_host(const Arch& arch, const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in);
gemm::Replay bounded_replay_host(const Arch& arch, const gemm::Spec& spec, const gemm::AccumModel& model,
                                 const gemm::Operands& in);
std::unique_ptr<HeldOperands> hold_operands_host(const Arch& arch, const gemm::Spec& spec, const gemm::Operands& in);
GpuComparison compare_host(const Arch& arch, const gemm::Spec& spec, const gemm::Ideal& expected, const gemm::Output& got,
                           const CompareBudget& budget = {});
GpuComparison compare_host(const Arch& arch, const gemm::Spec& spec, const gemm::Output& expected,
                           const gemm::Output& got, const CompareBudget& budget = {});

}  // namespace ulpgate::gemm_kernels
