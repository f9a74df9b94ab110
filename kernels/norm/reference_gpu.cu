#include "kernels/norm/reference_gpu.hpp"

#include "kernels/norm/norm_plan.hpp"
#include "kernels/norm/reference_pipeline.hpp"
#include "kernels/portable/gpu_bench.cuh"
#include "kernels/portable/gpu_pipeline.cuh"

namespace ulpgate::quant_kernels {
// Compiled in quant/reference_gpu.cu with its flags.
extern template OnDevice<gpu::PipelineDevice> compute_on(gpu::PipelineDevice&, const quant::Spec&, Format, const void*);
}  // namespace ulpgate::quant_kernels

namespace ulpgate::norm_kernels {

ReferenceResult reference_gpu(const norm::Spec& spec, const RawInputs& in, RowPasses passes) {
  try {
    gpu::PipelineDevice dev(nullptr);
    return reference_on(dev, spec, in, 0x1p-40, passes);
  } catch (const gpu::GpuError& e) {
    throw NormError(std::string("device RMSNorm reference: ") + e.what());
  }
}

quant_kernels::Timing time_reference_gpu(const norm::Spec& spec, int reps) {
  using namespace gpu_bench;
  try {
    const auto n = std::size_t(spec.m * spec.h);
    const DevicePtr x = device_alloc(n * 2), residual = device_alloc(spec.has_residual() ? n * 2 : 1),
                    weight = device_alloc(std::size_t(spec.h) * 4);
    fill(x.get(), n * 2, spec.dtype, 0x5eed);
    if (spec.has_residual()) fill(residual.get(), n * 2, spec.dtype, 0x7e5);
    fill(weight.get(), std::size_t(spec.h) * 4, Format::fp32, 0xfeed);
    gpu::PipelineDevice dev(nullptr);
    const auto* res = spec.has_residual() ? static_cast<const uint16_t*>(residual.get()) : nullptr;
    return time_runs(reps, [&](int) {
      (void)compute_on(dev, spec, static_cast<const uint16_t*>(x.get()), res, static_cast<const float*>(weight.get()));
    });
  } catch (const gpu::GpuError& e) {
    throw quant_kernels::BenchError(std::string("device RMSNorm reference: ") + e.what());
  }
}

}  // namespace ulpgate::norm_kernels
