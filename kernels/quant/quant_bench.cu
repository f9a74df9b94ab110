// Event timing of the quantization kernels and of a device-to-device copy (quant_bench.hpp).
// CUDA only (CUDA events, cudaDeviceProp); not part of the HIP compile checks. The bench rows (bf16
// [32768, 7168]: 470 MB of input) evict L2 themselves; smaller inputs rotate over buffer sets
// (kernels/portable/gpu_bench.cuh).
#include "kernels/quant/quant_bench.hpp"

#include "kernels/portable/gpu_bench.cuh"
#include "kernels/quant/quant_gpu.hpp"

namespace ulpgate::quant_kernels {

using namespace gpu_bench;

BenchDevice bench_device() {
  try {
    int dev = 0;
    ULPGATE_GPU_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp prop{};
    ULPGATE_GPU_CHECK(cudaGetDeviceProperties(&prop, dev));
    int driver = 0, runtime = 0;
    ULPGATE_GPU_CHECK(cudaDriverGetVersion(&driver));
    ULPGATE_GPU_CHECK(cudaRuntimeGetVersion(&runtime));
    return {prop.name, cuda_version(driver), cuda_version(runtime), prop.major, prop.minor, l2_bytes()};
  } catch (const gpu::GpuError& e) {
    throw BenchError(e.what());
  }
}

Timing time_copy_gpu(std::size_t bytes, int reps) {
  try {
    const DevicePtr src = device_alloc(bytes), dst = device_alloc(bytes);
    ULPGATE_GPU_CHECK(cudaMemset(src.get(), 0x3C, bytes));  // touch both, outside the timing
    ULPGATE_GPU_CHECK(cudaMemset(dst.get(), 0, bytes));
    return time_runs(reps, [&](int) {
      ULPGATE_GPU_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, cudaStream_t{}));
    });
  } catch (const gpu::GpuError& e) {
    throw BenchError(e.what());
  }
}

Timing time_quant_gpu(const QuantPlan& plan, std::size_t x_bytes, std::size_t codes_bytes,
                      std::size_t scale_bytes, int reps, std::span<const int32_t> row_map) {
  try {
    const std::size_t sets = sets_covering_l2(round_up(x_bytes, kAlign));
    const Sets x = make_sets(x_bytes, sets), codes = make_sets(codes_bytes, sets), scales = make_sets(scale_bytes, sets);
    fill(x.mem.get(), sets * x.stride, plan.input, 0x5eed);
    gpu::DeviceBytes map(row_map.size_bytes());
    if (!row_map.empty()) map.upload(row_map.data());
    return time_runs(reps, [&](int i) {
      const std::size_t s = std::size_t(i) % sets;
      launch_quant_gpu(plan, x.at<uint8_t>(s), codes.at<uint8_t>(s), scales.at<uint8_t>(s), nullptr,
                       map.get<const int32_t>());
    });
  } catch (const gpu::GpuError& e) {
    throw BenchError(e.what());
  } catch (const QuantError& e) {
    throw BenchError(e.what());
  }
}

}  // namespace ulpgate::quant_kernels
