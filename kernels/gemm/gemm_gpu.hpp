// The GEMM kernel on a CUDA or HIP device (gemm_gpu.cu). Plain C++ declarations, so the harness
// links it without a GPU compiler.
#pragma once

#include "kernels/gemm/gemm_plan.hpp"

namespace ulpgate::gemm_kernels {

// Copies the operands in, launches the plan (plan_gemm with kGpuBlocks) on a guarded, poisoned
// device D, copies D out, then checks D's guards (guard::OutOfBounds after the copy, so the
// harness still judges what is inside). Every runtime call is checked; a failure throws GemmError
// naming the call (the caller adds the op and the case).
void run_gemm_gpu(const GemmPlan& plan, const gemm::Buffers& io);
// The same for a grouped GEMM (plan_grouped_gemm): D's rows that are not tokens come back poisoned.
void run_grouped_gemm_gpu(const GemmPlan& plan, const gemm::GroupedBuffers& io);
// ... with B and its scale storage made on the host a part of experts at a time (about 256 MB) and
// copied into the device's (plan_grouped_gemm with `weights`; io.b and io.sb empty).
void run_grouped_gemm_gpu(const GemmPlan& plan, const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io,
                          const gemm::ExpertWeights& weights);

}  // namespace ulpgate::gemm_kernels
