#include "kernels/portable/gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"

namespace ulpgate::quant_kernels {
namespace {

constexpr int kPoisonByte = 0xA5;  // what the harness poisons outputs with

// Device memory of n bytes, freed on scope exit.
class DeviceBytes {
 public:
  explicit DeviceBytes(std::size_t n) : n_(n) { ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Malloc)(&p_, n == 0 ? 1 : n)); }
  ~DeviceBytes() { (void)ULPGATE_GPU_API(Free)(p_); }  // nothing useful to do with an error here
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;

  template <class T = uint8_t>
  T* get() const { return static_cast<T*>(p_); }
  void poison() { ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memset)(p_, kPoisonByte, n_)); }
  void upload(const void* host) {
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(p_, host, n_, ULPGATE_GPU_API(MemcpyHostToDevice)));
  }
  void download(void* host) const {
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(host, p_, n_, ULPGATE_GPU_API(MemcpyDeviceToHost)));
  }

 private:
  void* p_ = nullptr;
  std::size_t n_;
};

// The plan's kernels on device pointers; throws gpu::GpuError.
void launch_plan(const QuantPlan& plan, const void* x, uint8_t* codes, uint8_t* scales, gpu::Stream stream) {
  launch_quant(plan, x, codes, scales,
               [stream](const LaunchConfig& cfg, const auto& kernel) { gpu::launch(cfg, kernel, stream); });
}

}  // namespace

int gpu_device_count() { return gpu::device_count(); }

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
    DeviceBytes dx(x.size()), dcodes(codes.size()), dscales(scales.size());
    dcodes.poison();
    dscales.poison();
    dx.upload(x.data());
    launch_plan(plan, dx.get<const void>(), dcodes.get(), dscales.get(), gpu::Stream{});
    gpu::synchronize();
    dcodes.download(codes.data());
    dscales.download(scales.data());
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());  // the caller adds the op and the case
  }
}

}  // namespace ulpgate::quant_kernels
