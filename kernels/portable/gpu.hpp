// CUDA/HIP launch and error checking for kernels written against device.hpp. Include only from
// a .cu file; nvcc compiles it as CUDA, `clang -x hip` / hipcc as HIP.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/portable/device.hpp"

#if !defined(ULPGATE_GPU)
#error "gpu.hpp needs a CUDA or HIP compiler"
#endif

namespace ulpgate::gpu {

#if defined(__HIP__)
using Error = hipError_t;
using Stream = hipStream_t;
inline constexpr Error kSuccess = hipSuccess;
inline const char* error_string(Error e) { return hipGetErrorString(e); }
#define ULPGATE_GPU_API(name) hip##name
#else
using Error = cudaError_t;
using Stream = cudaStream_t;
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
// want different caps. CUDA only (__maxnreg__); elsewhere the compiler chooses.
template <class Kernel>
concept CapsRegisters = requires { Kernel::kMaxRegisters; };

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

// Launches kernel() on every thread of cfg's grid; checks the launch itself.
template <class Kernel>
void launch(const LaunchConfig& cfg, const Kernel& kernel, Stream stream = 0) {
  const dim3 grid(cfg.grid.x, cfg.grid.y, cfg.grid.z), block(cfg.block.x, cfg.block.y, cfg.block.z);
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
