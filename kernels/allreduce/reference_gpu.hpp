// The device all-reduce reference on CUDA (reference_pipeline.hpp over gpu::PipelineDevice), on
// the current device: the ranks' inputs from host memory, the results back to it. Throws
// GpuWorldError for a CUDA failure.
#pragma once

#include "kernels/allreduce/reference_pipeline.hpp"

namespace ulpgate::allreduce_kernels {

ReferenceResult reference_gpu(const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in);

}  // namespace ulpgate::allreduce_kernels
