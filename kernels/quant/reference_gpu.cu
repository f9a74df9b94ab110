#include "kernels/quant/reference_gpu.hpp"

#include "kernels/portable/gpu_bench.cuh"
#include "kernels/portable/gpu_pipeline.cuh"
#include "kernels/quant/quant_gpu.hpp"
#include "kernels/quant/reference_pipeline.hpp"

namespace ulpgate::quant_kernels {

// The RMSNorm reference's quantization step (kernels/norm/reference_pipeline.hpp) runs these
// kernels as this file compiles them, not under norm/reference_gpu.cu's register flag.
template OnDevice<gpu::PipelineDevice> compute_on(gpu::PipelineDevice&, const quant::Spec&, Format, const void*);

ReferenceResult reference_gpu(const quant::Spec& spec, Format input, std::span<const std::byte> raw) {
  try {
    gpu::PipelineDevice dev(nullptr);
    return reference_on(dev, spec, input, raw);
  } catch (const gpu::GpuError& e) {
    throw QuantError(std::string("device quantization reference: ") + e.what());
  }
}

Timing time_reference_gpu(const quant::Spec& spec, Format input, int reps) {
  try {
    const std::size_t bytes = std::size_t(spec.m * spec.input_cols()) * (input == Format::fp32 ? 4 : 2);
    const gpu_bench::DevicePtr x = gpu_bench::device_alloc(bytes);
    gpu_bench::fill(x.get(), bytes, input, 0x5eed);
    gpu::PipelineDevice dev(nullptr);
    return gpu_bench::time_runs(reps, [&](int) { (void)compute_on(dev, spec, input, x.get()); });
  } catch (const gpu::GpuError& e) {
    throw BenchError(std::string("device quantization reference: ") + e.what());
  }
}

}  // namespace ulpgate::quant_kernels
