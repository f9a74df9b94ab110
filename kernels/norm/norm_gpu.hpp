// The RMSNorm kernels on a CUDA or HIP device (norm_gpu.cu). Plain C++ declarations, so the
// harness links them without a GPU compiler.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/norm/held_outputs.hpp"
#include "kernels/portable/input_rows.hpp"
#include "kernels/norm/norm_plan.hpp"

namespace ulpgate::norm_kernels {

// Poisons the op's device outputs with 0xA5, copies the inputs in, launches the plan, copies
// the outputs out. Every runtime call is checked; a failure throws NormError naming the call
// (the caller adds the op and the case).
void run_norm_gpu(const NormPlan& plan, const norm::Buffers& io);

// The same run on x and the residual uploaded a slab of rows at a time, with them and the outputs
// (y or the codes and scales, the written-back residual) left on the device; the outputs sized as `sizes`, which
// plan_norm checked.
std::unique_ptr<HeldOutputs> hold_norm_gpu(const NormPlan& plan, const InputRows& x, const InputRows& residual,
                                           std::span<const std::byte> weight, const NormSizes& sizes);

// Launches the plan's kernels on device buffers the caller owns (sized as plan_norm checked), on
// `stream` (a cudaStream_t / hipStream_t; nullptr: the default stream). No copies, no
// synchronization: for timing. A launch failure throws NormError naming the call.
void launch_norm_gpu(const NormPlan& plan, const NormPointers& io, void* stream = nullptr);

// Elem<dtype>::mul_round2 as the device computes it (bf16 on sm_90+: mul.rn.bf16x2) against
// Elem<dtype>::mul_round, the portable exact-product rounding, for every pair of 16-bit values:
// how many results differ (two NaNs are the same) and the first few as (a << 16 | b).
struct PairProductCheck {
  uint64_t mismatches = 0;
  std::vector<uint32_t> first;
};
PairProductCheck check_pair_products_gpu(Format dtype);

}  // namespace ulpgate::norm_kernels
