#include "kernels/portable/gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"

namespace ulpgate::quant_kernels {
namespace {

// The plan's kernels on device pointers; throws gpu::GpuError.
void launch_plan(const QuantPlan& plan, const void* x, uint8_t* codes, uint8_t* scales, gpu::Stream stream) {
  launch_quant(plan, x, codes, scales,
               [stream](const LaunchConfig& cfg, const auto& kernel) { gpu::launch(cfg, kernel, stream); });
}

}  // namespace

int gpu_device_count() { return gpu::device_count(); }
void gpu_use_device(int device) { ULPGATE_GPU_CHECK(ULPGATE_GPU_API(SetDevice)(device)); }

void launch_quant_gpu(const QuantPlan& plan, const void* x_dev, uint8_t* codes_dev, uint8_t* scales_dev,
                      void* stream) {
  try {
    launch_plan(plan, x_dev, codes_dev, scales_dev, static_cast<gpu::Stream>(stream));
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());
  }
}

void run_quant_gpu(const QuantPlan& plan, std::span<const std::byte> x, std::span<uint8_t> codes,
                   std::span<uint8_t> scales) {
  if (plan.m == 0) return;
  try {
    gpu::DeviceBytes dx(x.size());
    const auto dcodes = gpu::DeviceBytes::output("codes", codes.size());
    const auto dscales = gpu::DeviceBytes::output("scales", scales.size());
    dx.upload(x.data());
    launch_plan(plan, dx.get<const void>(), dcodes.get(), dscales.get(), gpu::Stream{});
    gpu::synchronize();
    dcodes.download(codes.data());
    dscales.download(scales.data());
    gpu::check_guards({&dcodes, &dscales});
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());  // the caller adds the op and the case
  }
}

}  // namespace ulpgate::quant_kernels
