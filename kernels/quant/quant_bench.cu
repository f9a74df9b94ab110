// Event timing of the quantization kernels and of a device-to-device copy (quant_bench.hpp).
// CUDA only (CUDA events, cudaDeviceProp); not part of the HIP compile checks.
//
// L2: a run must read its input from HBM, not from what the previous run left in L2 (50 MB on
// H200). An input of at least 4x L2 evicts itself; the bench rows (bf16 [32768, 7168]: 470 MB of
// input) are far above that, so they use one buffer set. Smaller inputs rotate over up to 64
// buffer sets covering 4x L2.
#include "kernels/quant/quant_bench.hpp"

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/portable/gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"

namespace ulpgate::quant_kernels {
namespace {

constexpr int kWarmups = 3;          // first launch loads the module; later ones settle clocks
constexpr int kMaxSets = 64;         // buffer sets rotated when the input is small
constexpr std::size_t kAlign = 256;  // set stride: keeps every set's 16-byte vector loads aligned
constexpr unsigned kFillThreads = 256, kFillBlocks = 4096;

struct FreeDevice {
  void operator()(void* p) const { (void)cudaFree(p); }  // nothing useful to do with an error here
};
using DevicePtr = std::unique_ptr<void, FreeDevice>;

DevicePtr device_alloc(std::size_t n) {
  void* p = nullptr;
  ULPGATE_GPU_CHECK(cudaMalloc(&p, n == 0 ? 1 : n));
  return DevicePtr(p);
}

uint8_t* bytes_at(const DevicePtr& p, std::size_t offset) { return static_cast<uint8_t*>(p.get()) + offset; }

struct DestroyEvent {
  void operator()(cudaEvent_t e) const { (void)cudaEventDestroy(e); }
};
using Event = std::unique_ptr<std::remove_pointer_t<cudaEvent_t>, DestroyEvent>;

Event make_event() {
  cudaEvent_t e = nullptr;
  ULPGATE_GPU_CHECK(cudaEventCreate(&e));
  return Event(e);
}

std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

int current_device() {
  int dev = 0;
  ULPGATE_GPU_CHECK(cudaGetDevice(&dev));
  return dev;
}

int64_t l2_bytes(int dev) {
  int l2 = 0;
  ULPGATE_GPU_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  return l2;
}

// splitmix64's finalizer: a well-mixed 64-bit hash of the element index.
__device__ uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Element i = +-(1 + m/128) * 2^(e-8), m in [0, 128), e in [0, 16]: finite, never zero, spread
// over 17 binades, exact in bf16, fp16 and fp32 (7 mantissa bits), written as raw bits.
__global__ void fill_input(void* x, int64_t n, Format input, uint64_t seed) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const uint64_t h = mix64(seed + uint64_t(i) * 0x9e3779b97f4a7c15ull);
    const uint32_t sign = uint32_t(h >> 63), m = uint32_t(h) & 0x7f, e = uint32_t(h >> 8) % 17;
    if (input == Format::fp32)
      static_cast<uint32_t*>(x)[i] = sign << 31 | (127 - 8 + e) << 23 | m << 16;
    else if (input == Format::fp16)
      static_cast<uint16_t*>(x)[i] = uint16_t(sign << 15 | (15 - 8 + e) << 10 | m << 3);
    else
      static_cast<uint16_t*>(x)[i] = uint16_t(sign << 15 | (127 - 8 + e) << 7 | m);
  }
}

void fill(const DevicePtr& x, std::size_t bytes, Format input) {
  const std::size_t elem = input == Format::fp32 ? 4 : 2;
  const int64_t n = int64_t(bytes / elem);
  const unsigned blocks = unsigned(std::clamp<int64_t>((n + kFillThreads - 1) / kFillThreads, 1, kFillBlocks));
  fill_input<<<blocks, kFillThreads>>>(x.get(), n, input, 0x5eed);
  ULPGATE_GPU_CHECK(cudaGetLastError());
  ULPGATE_GPU_CHECK(cudaDeviceSynchronize());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// run(i) kWarmups times untimed, then `reps` times, each between its own pair of events on the
// default stream (back to back: the GPU never idles between timed runs).
template <class Run>
Timing time_runs(int reps, Run&& run) {
  if (reps < 1) throw BenchError("reps must be positive, got " + std::to_string(reps));
  for (int i = 0; i < kWarmups; ++i) run(i);
  ULPGATE_GPU_CHECK(cudaDeviceSynchronize());
  std::vector<Event> start, stop;
  for (int i = 0; i < reps; ++i) {
    start.push_back(make_event());
    stop.push_back(make_event());
  }
  for (int i = 0; i < reps; ++i) {
    ULPGATE_GPU_CHECK(cudaEventRecord(start[i].get(), cudaStream_t{}));
    run(kWarmups + i);
    ULPGATE_GPU_CHECK(cudaEventRecord(stop[i].get(), cudaStream_t{}));
  }
  ULPGATE_GPU_CHECK(cudaDeviceSynchronize());  // also reports a run that failed on the device
  std::vector<double> us(reps);
  for (int i = 0; i < reps; ++i) {
    float ms = 0;
    ULPGATE_GPU_CHECK(cudaEventElapsedTime(&ms, start[i].get(), stop[i].get()));
    us[i] = double(ms) * 1000.0;
  }
  return {median(us), *std::min_element(us.begin(), us.end()), reps};
}

}  // namespace

std::string gpu_unavailable_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaErrorInsufficientDriver) {  // what the runtime says when there is no driver at all
    int runtime = 0;
    (void)cudaRuntimeGetVersion(&runtime);  // needs no driver; 0 only if it fails too
    return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e) +
           " (no NVIDIA driver installed, or one older than this build's CUDA runtime " + cuda_version(runtime) + ")";
  }
  if (e != cudaSuccess) return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device present";
  return {};
}

BenchDevice bench_device() {
  try {
    const int dev = current_device();
    cudaDeviceProp prop{};
    ULPGATE_GPU_CHECK(cudaGetDeviceProperties(&prop, dev));
    int driver = 0, runtime = 0;
    ULPGATE_GPU_CHECK(cudaDriverGetVersion(&driver));
    ULPGATE_GPU_CHECK(cudaRuntimeGetVersion(&runtime));
    return {prop.name, cuda_version(driver), cuda_version(runtime), prop.major, prop.minor, l2_bytes(dev)};
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
                      std::size_t scale_bytes, int reps) {
  try {
    const std::size_t xs = round_up(x_bytes, kAlign), cs = round_up(codes_bytes, kAlign),
                      ss = round_up(scale_bytes, kAlign);
    const std::size_t cover = std::size_t(4 * l2_bytes(current_device()));
    const std::size_t sets = std::clamp<std::size_t>((cover + xs - 1) / std::max<std::size_t>(xs, 1), 1, kMaxSets);
    const DevicePtr x = device_alloc(sets * xs), codes = device_alloc(sets * cs), scales = device_alloc(sets * ss);
    fill(x, sets * xs, plan.input);
    return time_runs(reps, [&](int i) {
      const std::size_t s = std::size_t(i) % sets;
      launch_quant_gpu(plan, bytes_at(x, s * xs), bytes_at(codes, s * cs), bytes_at(scales, s * ss));
    });
  } catch (const gpu::GpuError& e) {
    throw BenchError(e.what());
  } catch (const QuantError& e) {
    throw BenchError(e.what());
  }
}

}  // namespace ulpgate::quant_kernels
