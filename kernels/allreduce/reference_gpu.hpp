// The device all-reduce reference on CUDA (reference_pipeline.hpp over gpu::PipelineDevice), on
// the current device: the ranks' inputs from host memory, the results back to it. Throws
// GpuWorldError for a CUDA failure.
#pragma once

#include "kernels/allreduce/reference_pipeline.hpp"
#include "kernels/quant/quant_bench.hpp"

namespace ulpgate::allreduce_kernels {

ReferenceResult reference_gpu(const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in);

// The device reference's time on these inputs, uploaded once (compute_on alone: its results stay
// on the device, as the bench times the other families' references). Throws GpuWorldError.
quant_kernels::Timing time_reference_gpu(const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in,
                                         int reps);

}  // namespace ulpgate::allreduce_kernels
