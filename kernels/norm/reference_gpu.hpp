// The device RMSNorm reference on CUDA (reference_pipeline.hpp over gpu::PipelineDevice): inputs
// from host memory, both results back to it. Throws UsageError for a spec it declines
// (reference_declines) and NormError for a CUDA failure.
#pragma once

#include "kernels/norm/reference_plan.hpp"
#include "kernels/quant/quant_bench.hpp"

namespace ulpgate::norm_kernels {

ReferenceResult reference_gpu(const norm::Spec& spec, const RawInputs& in, RowPasses passes = RowPasses::one_where_decided);

// The reference's device work for `ulpgate bench` (compute_on: norm.rms's one pass where it decides
// every row, with its flag's trip to the host) on inputs filled on the device, as the kernels'
// rows are timed. Throws quant_kernels::BenchError.
quant_kernels::Timing time_reference_gpu(const norm::Spec& spec, int reps);

}  // namespace ulpgate::norm_kernels
