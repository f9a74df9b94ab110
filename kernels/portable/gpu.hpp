// CUDA/HIP launch and error checking for kernels written against device.hpp. Include only from
// a .cu file; nvcc compiles it as CUDA, `clang -x hip` / hipcc as HIP.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include "kernels/portable/device.hpp"
#include "kernels/portable/guard.hpp"

#if !defined(ULPGATE_GPU)
#error "gpu.hpp needs a CUDA or HIP compiler"
#endif

namespace ulpgate::gpu {

#if defined(__HIP__)
using Error = hipError_t;
using Stream = hipStream_t;
using EventHandle = hipEvent_t;
inline constexpr auto kAttrMultiprocessors = hipDeviceAttributeMultiprocessorCount;
inline constexpr auto kAttrL2Bytes = hipDeviceAttributeL2CacheSize;
inline constexpr Error kSuccess = hipSuccess;
inline const char* error_string(Error e) { return hipGetErrorString(e); }
#define ULPGATE_GPU_API(name) hip##name
#else
using Error = cudaError_t;
using Stream = cudaStream_t;
using EventHandle = cudaEvent_t;
inline constexpr auto kAttrMultiprocessors = cudaDevAttrMultiProcessorCount;
inline constexpr auto kAttrL2Bytes = cudaDevAttrL2CacheSize;
inline constexpr Error kSuccess = cudaSuccess;
inline const char* error_string(Error e) { return cudaGetErrorString(e); }
#define ULPGATE_GPU_API(name) cuda##name
#endif

struct GpuError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const char* call, Error e, const char* file, int line) {
  throw GpuError(std::string(call) + " failed: " + error_string(e) + " (" + file + ":" +
                 std::to_string(line) + ")");
}

}  // namespace ulpgate::gpu

// Checks a CUDA/HIP runtime call; the error names the call and where it was made.
#define ULPGATE_GPU_CHECK(call)                                                          \
  do {                                                                                   \
    const ::ulpgate::gpu::Error ulpgate_gpu_err_ = (call);                               \
    if (ulpgate_gpu_err_ != ::ulpgate::gpu::kSuccess)                                    \
      ::ulpgate::gpu::fail(#call, ulpgate_gpu_err_, __FILE__, __LINE__);                 \
  } while (0)

namespace ulpgate::gpu {

template <class Kernel>
ULPGATE_KERNEL void run_kernel(Kernel kernel) {
  kernel();
}

// A kernel may cap its registers per thread (static constexpr int kMaxRegisters): a
// multiprocessor holds as many threads as their registers allow, and kernels of one library
// want different caps. CUDA only (__maxnreg__); elsewhere, or where the cap is 0, the compiler
// chooses (any cap, even 255, changes how many it takes).
template <class Kernel>
concept CapsRegisters = requires { requires Kernel::kMaxRegisters > 0; };

#if defined(__CUDACC__) && !defined(__HIP__)
template <class Kernel>
__global__ __maxnreg__(Kernel::kMaxRegisters) void run_kernel_capped(Kernel kernel) {
  kernel();
}
#endif

// The entry point that runs Kernel.
template <class Kernel>
constexpr auto entry() {
#if defined(__CUDACC__) && !defined(__HIP__)
  if constexpr (CapsRegisters<Kernel>)
    return &run_kernel_capped<Kernel>;
  else
#endif
    return &run_kernel<Kernel>;
}

// How many blocks of Kernel, launched as cfg, the current device's multiprocessors hold at once
// (their registers and shared memory).
template <class Kernel>
unsigned resident_blocks(const LaunchConfig& cfg) {
  int device = 0, sms = 0, per_sm = 0;
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(GetDevice)(&device));
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(DeviceGetAttribute)(&sms, kAttrMultiprocessors, device));
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(OccupancyMaxActiveBlocksPerMultiprocessor)(&per_sm, entry<Kernel>(),
                                                                              int(cfg.block.count()), cfg.shared_bytes));
  return unsigned(per_sm * sms > 1 ? per_sm * sms : 1);
}

// A kernel whose blocks first build shared state (static constexpr bool kResidentGrid = true, a
// table) runs no more blocks than the device holds at once, its threads striding over the rest,
// so each resident block builds it once. The count is kept per thread for the device and shape
// last asked about: a query between a timed call's events would be timed with it.
template <class Kernel>
concept FillsResidentGrid = requires { requires Kernel::kResidentGrid; };

template <class Kernel>
unsigned resident_grid(const LaunchConfig& cfg) {
  struct Known {
    int device = -1;
    unsigned threads = 0;
    std::size_t shared = 0;
    unsigned blocks = 0;
  };
  thread_local Known known;
  int device = 0;
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(GetDevice)(&device));
  if (known.device != device || known.threads != cfg.block.count() || known.shared != cfg.shared_bytes)
    known = {device, unsigned(cfg.block.count()), cfg.shared_bytes, resident_blocks<Kernel>(cfg)};
  return known.blocks < cfg.grid.x ? known.blocks : cfg.grid.x;
}

// Launches kernel() on every thread of cfg's grid; checks the launch itself.
template <class Kernel>
void launch(const LaunchConfig& cfg, const Kernel& kernel, Stream stream = 0) {
  unsigned blocks = cfg.grid.x;
  if constexpr (FillsResidentGrid<Kernel>) blocks = resident_grid<Kernel>(cfg);
  const dim3 grid(blocks, cfg.grid.y, cfg.grid.z), block(cfg.block.x, cfg.block.y, cfg.block.z);
  constexpr auto run = entry<Kernel>();
  if (cfg.shared_bytes > 48 * 1024)  // above the default limit a kernel must opt in
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(FuncSetAttribute)(reinterpret_cast<const void*>(run),
                                                        ULPGATE_GPU_API(FuncAttributeMaxDynamicSharedMemorySize),
                                                        int(cfg.shared_bytes)));
  run<<<grid, block, cfg.shared_bytes, stream>>>(kernel);
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(GetLastError)());
}

inline int device_count() {
  int n = 0;
  return ULPGATE_GPU_API(GetDeviceCount)(&n) == kSuccess ? n : 0;
}

inline void synchronize() { ULPGATE_GPU_CHECK(ULPGATE_GPU_API(DeviceSynchronize)()); }

// Puts the caller's current device back on scope exit. Code that walks a world's GPUs must not
// leave the next single-GPU call of the process on the last of them: its cached streams and
// library handles belong to the device they were made on.
class KeepCurrentDevice {
 public:
  KeepCurrentDevice() { ULPGATE_GPU_CHECK(ULPGATE_GPU_API(GetDevice)(&device_)); }
  ~KeepCurrentDevice() { (void)ULPGATE_GPU_API(SetDevice)(device_); }  // nothing useful to do with an error here
  KeepCurrentDevice(const KeepCurrentDevice&) = delete;
  KeepCurrentDevice& operator=(const KeepCurrentDevice&) = delete;

 private:
  int device_ = 0;
};

// Raw device memory for one tensor of a case, freed on scope exit. An output (output()) sits
// between guard regions (guard.hpp) filled before the kernel runs and checked by check_guards()
// after, so a stray write is reported instead of landing in a neighbouring allocation; its own
// bytes start as the harness's poison (0xA5), as the host buffers do. Empty outputs keep their
// guards: a kernel that writes to one is caught too.
class DeviceBytes {
 public:
  static constexpr int kPoisonByte = 0xA5;

  explicit DeviceBytes(std::size_t n) : DeviceBytes(n, 0, {}) {}
  static DeviceBytes output(std::string name, std::size_t n) {
    DeviceBytes b(n, guard::kBytes, std::move(name));
    std::vector<std::byte> before(b.guard_), after(b.guard_);
    guard::fill(before, after);
    b.copy_in(b.base_, before.data(), b.guard_);
    b.copy_in(b.base_ + b.guard_ + b.n_, after.data(), b.guard_);
    if (b.n_ > 0) ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memset)(b.get(), kPoisonByte, b.n_));
    return b;
  }
  ~DeviceBytes() {
    if (base_) (void)ULPGATE_GPU_API(Free)(base_);  // nothing useful to do with an error here
  }
  DeviceBytes(DeviceBytes&& o) noexcept
      : base_(std::exchange(o.base_, nullptr)), n_(o.n_), guard_(o.guard_), name_(std::move(o.name_)) {}
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;

  template <class T = uint8_t>
  T* get() const { return reinterpret_cast<T*>(base_ + guard_); }
  std::size_t size() const { return n_; }
  void upload(const void* host) { copy_in(get(), host, n_); }
  // n bytes from host to [offset, offset + n) (a part of the tensor at a time).
  void upload_at(std::size_t offset, const void* host, std::size_t n) {
    if (offset > n_ || n > n_ - offset) throw std::logic_error("DeviceBytes::upload_at: past the buffer's end");
    copy_in(get() + offset, host, n);
  }
  void download(void* host) const {
    if (n_ > 0) ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(host, get(), n_, ULPGATE_GPU_API(MemcpyDeviceToHost)));
  }
  std::vector<guard::Violation> violations() const {
    if (guard_ == 0) return {};
    std::vector<std::byte> before(guard_), after(guard_);
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(before.data(), base_, guard_, ULPGATE_GPU_API(MemcpyDeviceToHost)));
    ULPGATE_GPU_CHECK(
        ULPGATE_GPU_API(Memcpy)(after.data(), base_ + guard_ + n_, guard_, ULPGATE_GPU_API(MemcpyDeviceToHost)));
    return guard::check(name_, int64_t(n_), before, after);
  }

 private:
  DeviceBytes(std::size_t n, std::size_t guard, std::string name) : n_(n), guard_(guard), name_(std::move(name)) {
    if (n_ + 2 * guard_ > 0) ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Malloc)(reinterpret_cast<void**>(&base_), n_ + 2 * guard_));
  }
  void copy_in(void* device, const void* host, std::size_t n) {
    if (n > 0) ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(device, host, n, ULPGATE_GPU_API(MemcpyHostToDevice)));
  }

  std::byte* base_ = nullptr;
  std::size_t n_, guard_;
  std::string name_;
};

// Throws guard::OutOfBounds when a kernel wrote outside any of these outputs (after the caller
// has copied their contents out, so the harness still judges what is inside).
inline void check_guards(std::initializer_list<const DeviceBytes*> outputs) {
  std::vector<guard::Violation> all;
  for (const DeviceBytes* b : outputs)
    for (guard::Violation& v : b->violations()) all.push_back(std::move(v));
  if (!all.empty()) throw guard::OutOfBounds(std::move(all));
}

// Device memory holding a copy of a host vector.
template <class T>
class Buffer {
 public:
  explicit Buffer(std::size_t n) : n_(n) {
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Malloc)(reinterpret_cast<void**>(&p_), bytes()));
  }
  explicit Buffer(const std::vector<T>& host) : Buffer(host.size()) {
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(p_, host.data(), bytes(),
                                              ULPGATE_GPU_API(MemcpyHostToDevice)));
  }
  ~Buffer() { (void)ULPGATE_GPU_API(Free)(p_); }  // nothing useful to do with an error here
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  T* get() const { return p_; }
  std::size_t bytes() const { return n_ * sizeof(T); }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(host.data(), p_, bytes(),
                                              ULPGATE_GPU_API(MemcpyDeviceToHost)));
    return host;
  }

 private:
  T* p_ = nullptr;
  std::size_t n_;
};

}  // namespace ulpgate::gpu
