// What every kernel bench shares (CUDA only, included by the *_bench.cu files): device buffers,
// CUDA events, the input fill, buffer sets that keep a run's input out of L2, and event timing.
// L2: a run must read its input from HBM, not from what the previous run left in L2 (50 MB on an
// H200). An input of at least 4x L2 evicts itself; smaller inputs rotate over up to 64 buffer sets
// covering 4x L2.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/portable/gpu.hpp"
#include "kernels/quant/quant_bench.hpp"  // Timing, BenchError
#include "reference/formats/formats.hpp"

namespace ulpgate::gpu_bench {

using quant_kernels::BenchError;
using quant_kernels::Timing;

inline constexpr int kWarmups = 3;          // first launch loads the module; later ones settle clocks
inline constexpr int kMaxSets = 64;         // buffer sets rotated when the input is small
inline constexpr std::size_t kAlign = 256;  // set stride: keeps every set's 16-byte vector accesses aligned
inline constexpr unsigned kFillThreads = 256, kFillBlocks = 4096;

struct FreeDevice {
  void operator()(void* p) const { (void)ULPGATE_GPU_API(Free)(p); }  // nothing useful to do with an error here
};
using DevicePtr = std::unique_ptr<void, FreeDevice>;

inline DevicePtr device_alloc(std::size_t n) {
  void* p = nullptr;
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Malloc)(&p, n == 0 ? 1 : n));
  return DevicePtr(p);
}

struct DestroyEvent {
  void operator()(gpu::EventHandle e) const { (void)ULPGATE_GPU_API(EventDestroy)(e); }
};
using Event = std::unique_ptr<std::remove_pointer_t<gpu::EventHandle>, DestroyEvent>;

inline Event make_event() {
  gpu::EventHandle e = nullptr;
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(EventCreate)(&e));
  return Event(e);
}

inline std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

inline int64_t l2_bytes() {
  int dev = 0, l2 = 0;
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(GetDevice)(&dev));
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(DeviceGetAttribute)(&l2, gpu::kAttrL2Bytes, dev));
  return l2;
}

// How many buffer sets of `per_set` bytes cover 4x L2 (at least 1, at most kMaxSets).
inline std::size_t sets_covering_l2(std::size_t per_set) {
  const std::size_t cover = std::size_t(4 * l2_bytes());
  return std::clamp<std::size_t>((cover + per_set - 1) / std::max<std::size_t>(per_set, 1), 1, kMaxSets);
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

inline Sets make_sets(std::size_t bytes, std::size_t sets) {
  const std::size_t stride = round_up(bytes, kAlign);
  return {device_alloc(sets * stride), stride};
}

// splitmix64's finalizer: a well-mixed 64-bit hash of the element index.
__device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Element i = +-(1 + m/128) * 2^(e-8), m in [0, 128), e in [0, 16]: finite, never zero, spread
// over 17 binades, exact in bf16, fp16 and fp32 (7 mantissa bits), written as raw bits.
template <class = void>
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

inline void fill(void* x, std::size_t bytes, Format input, uint64_t seed) {
  const int64_t n = int64_t(bytes / (input == Format::fp32 ? 4 : 2));
  if (n == 0) return;
  const unsigned blocks = unsigned(std::clamp<int64_t>((n + kFillThreads - 1) / kFillThreads, 1, kFillBlocks));
  fill_input<<<blocks, kFillThreads>>>(x, n, input, seed);
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(GetLastError)());
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(DeviceSynchronize)());
}

inline double median(std::vector<double> v) {
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
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(DeviceSynchronize)());
  std::vector<Event> start, stop;
  for (int i = 0; i < reps; ++i) {
    start.push_back(make_event());
    stop.push_back(make_event());
  }
  for (int i = 0; i < reps; ++i) {
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(EventRecord)(start[i].get(), gpu::Stream{}));
    run(kWarmups + i);
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(EventRecord)(stop[i].get(), gpu::Stream{}));
  }
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(DeviceSynchronize)());  // also reports a run that failed on the device
  std::vector<double> us(reps);
  for (int i = 0; i < reps; ++i) {
    float ms = 0;
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(EventElapsedTime)(&ms, start[i].get(), stop[i].get()));
    us[i] = double(ms) * 1000.0;
  }
  return {median(us), *std::min_element(us.begin(), us.end()), reps};
}

}  // namespace ulpgate::gpu_bench
