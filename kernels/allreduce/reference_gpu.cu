#include "kernels/allreduce/reference_gpu.hpp"

#include "kernels/allreduce/allreduce_gpu.hpp"
#include "kernels/portable/gpu_bench.cuh"
#include "kernels/portable/gpu_pipeline.cuh"

namespace ulpgate::allreduce_kernels {

ReferenceResult reference_gpu(const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in) {
  try {
    gpu::PipelineDevice dev(nullptr);
    return reference_on(dev, spec, order, in);
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(std::string("device all-reduce reference: ") + e.what());
  }
}

quant_kernels::Timing time_reference_gpu(const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in,
                                         int reps) {
  try {
    gpu::PipelineDevice dev(nullptr);
    const auto ranks = upload_ranks(dev, spec, in);
    return gpu_bench::time_runs(reps, [&](int) { (void)compute_on(dev, spec, order, ranks.get()); });
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(std::string("device all-reduce reference: ") + e.what());
  }
}

}  // namespace ulpgate::allreduce_kernels
