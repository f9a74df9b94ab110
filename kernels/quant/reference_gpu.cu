#include "kernels/quant/reference_gpu.hpp"

#include "kernels/portable/gpu_bench.cuh"
#include "kernels/portable/gpu_pipeline.cuh"
#include "kernels/quant/quant_gpu.hpp"
#include "kernels/quant/reference_pipeline.hpp"

namespace ulpgate::quant_kernels {

// The RMSNorm reference's quantization step (kernels/norm/reference_pipeline.hpp) runs these
// kernels as this file compiles them, not under norm/reference_gpu.cu's register flag.
template OnDevice<gpu::PipelineDevice> compute_on(gpu::PipelineDevice&, const quant::Spec&, Format, const void*);

namespace {

QuantError device_error(const gpu::GpuError& e) {
  return QuantError(std::string("device quantization reference: ") + e.what());
}

class HeldOnGpu final : public HeldOn<gpu::PipelineDevice> {
 public:
  using HeldOn::HeldOn;
  void rows(int64_t row0, int64_t row1, std::span<uint8_t> codes, std::span<uint8_t> ideal) override {
    try {
      HeldOn::rows(row0, row1, codes, ideal);
    } catch (const gpu::GpuError& e) {
      throw device_error(e);
    }
  }
  void input(int64_t row0, int64_t row1, std::span<std::byte> out) override {
    try {
      HeldOn::input(row0, row1, out);
    } catch (const gpu::GpuError& e) {
      throw device_error(e);
    }
  }
};

}  // namespace

std::unique_ptr<HeldReference> hold_reference_gpu(const quant::Spec& spec, Format input, const InputRows& raw) {
  require_reference(spec, input);
  try {
    return std::make_unique<HeldOnGpu>(spec, input, raw, nullptr);
  } catch (const gpu::GpuError& e) {
    throw device_error(e);
  }
}

ReferenceResult reference_gpu(const quant::Spec& spec, Format input, std::span<const std::byte> raw) {
  return hold_reference_gpu(spec, input, InputRows::of(raw, spec.m))->whole(spec.m, spec.k);
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
