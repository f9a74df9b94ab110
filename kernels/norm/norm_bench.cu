// Event timing of the RMSNorm kernels (norm_bench.hpp). CUDA only (CUDA events); not part of the
// HIP compile checks. L2: as quant_bench.cu, a run must read its input from HBM; the bench rows
// (bf16 [32768, 7168]: 470 MB of x) evict themselves, smaller inputs rotate over buffer sets.
#include "kernels/norm/norm_bench.hpp"

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/norm/norm_gpu.hpp"
#include "kernels/portable/gpu.hpp"

namespace ulpgate::norm_kernels {
namespace {

using quant_kernels::BenchError;
using quant_kernels::Timing;

constexpr int kWarmups = 3;          // first launch loads the module; later ones settle clocks
constexpr int kMaxSets = 64;         // buffer sets rotated when the input is small
constexpr std::size_t kAlign = 256;  // set stride: keeps every set's vector accesses aligned
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

__device__ uint64_t mix64(uint64_t z) {  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Element i = +-(1 + m/128) * 2^(e-8), e in [0, 16]: finite, non-zero, exact in bf16 and fp16.
__global__ void fill_elements(uint16_t* x, int64_t n, bool fp16, uint64_t seed) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const uint64_t h = mix64(seed + uint64_t(i) * 0x9e3779b97f4a7c15ull);
    const uint32_t sign = uint32_t(h >> 63), m = uint32_t(h) & 0x7f, e = uint32_t(h >> 8) % 17;
    x[i] = fp16 ? uint16_t(sign << 15 | (15 - 8 + e) << 10 | m << 3) : uint16_t(sign << 15 | (127 - 8 + e) << 7 | m);
  }
}

void fill(const DevicePtr& p, std::size_t bytes, Format dtype, uint64_t seed) {
  const int64_t n = int64_t(bytes / 2);
  if (n == 0) return;
  const unsigned blocks = unsigned(std::clamp<int64_t>((n + kFillThreads - 1) / kFillThreads, 1, kFillBlocks));
  fill_elements<<<blocks, kFillThreads>>>(static_cast<uint16_t*>(p.get()), n, dtype == Format::fp16, seed);
  ULPGATE_GPU_CHECK(cudaGetLastError());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// run(i) kWarmups times untimed, then `reps` times, each between its own pair of events.
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

// One buffer of `bytes` per set, sets `stride` bytes apart.
struct Sets {
  DevicePtr mem;
  std::size_t stride;
  template <class T = void>
  T* at(std::size_t set) const {
    return stride == 0 ? nullptr : static_cast<T*>(static_cast<void*>(static_cast<uint8_t*>(mem.get()) + set * stride));
  }
};

Sets make_sets(std::size_t bytes, std::size_t sets) {
  const std::size_t stride = round_up(bytes, kAlign);
  return {device_alloc(sets * stride), stride};
}

}  // namespace

std::size_t bytes_moved(const NormSizes& s) {
  return s.x + s.residual + s.weight + s.y + s.residual_out + s.codes + s.scales;
}

Timing time_norm_gpu(const NormPlan& plan, const NormSizes& sizes, int reps) {
  try {
    int dev = 0, l2 = 0;
    ULPGATE_GPU_CHECK(cudaGetDevice(&dev));
    ULPGATE_GPU_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    const std::size_t per_set = std::max<std::size_t>(sizes.x + sizes.residual, 1);
    const std::size_t sets = std::clamp<std::size_t>((4 * std::size_t(l2) + per_set - 1) / per_set, 1, kMaxSets);
    const Sets x = make_sets(sizes.x, sets), residual = make_sets(sizes.residual, sets),
               y = make_sets(sizes.y, sets), residual_out = make_sets(sizes.residual_out, sets),
               codes = make_sets(sizes.codes, sets), scales = make_sets(sizes.scales, sets);
    const DevicePtr weight = device_alloc(sizes.weight);
    fill(x.mem, sets * x.stride, plan.dtype, 0x5eed);
    fill(residual.mem, sets * residual.stride, plan.dtype, 0x7e5);
    fill(weight, sizes.weight, plan.dtype, 0xfeed);
    ULPGATE_GPU_CHECK(cudaDeviceSynchronize());
    return time_runs(reps, [&](int i) {
      const std::size_t s = std::size_t(i) % sets;
      launch_norm_gpu(plan, {x.at<const void>(s), residual.at<const void>(s), weight.get(), y.at(s),
                             residual_out.at(s), codes.at<uint8_t>(s), scales.at<uint8_t>(s)});
    });
  } catch (const gpu::GpuError& e) {
    throw BenchError(e.what());
  } catch (const NormError& e) {
    throw BenchError(e.what());
  }
}

}  // namespace ulpgate::norm_kernels
