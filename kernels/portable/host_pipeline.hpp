// A device reference's pipeline on the host-SIMT emulator: host memory stands for device memory
// and kernels run under an Arch's warp size and conversions. The pipelines (GEMM's and
// quantization's reference) are written once over a device that provides
//   template <class T> Memory<T> alloc(std::size_t n)   n T (get()), poisoned, freed with it
//   void to_device(void* dst, const void* src, std::size_t bytes), to_host(...) likewise
//   void poison(void* p, std::size_t bytes)              0xA5 bytes (outputs before a run)
//   template <class K> void launch(const LaunchConfig&, const K&)
// This one and gpu::PipelineDevice (kernels/portable/gpu_pipeline.cuh) provide them.
#pragma once

#include <cstddef>
#include <cstring>
#include <vector>

#include "kernels/portable/arch.hpp"
#include "kernels/portable/host_simt.hpp"

namespace ulpgate::host_simt {

// Every allocation starts as poison, so a result the kernels never wrote cannot pass for one. An
// allocation of nothing is a real one, as cudaMalloc's of at least a byte on the GPU
// (gpu_pipeline.cuh): a kernel that tells "none" by a null pointer fails here as it would there.
template <class T>
struct HostMemory {
  std::vector<T> v;
  T* get() const { return const_cast<T*>(v.data()); }
};

class PipelineDevice {
 public:
  explicit PipelineDevice(const Arch& arch) : arch_(arch) {}

  template <class T>
  HostMemory<T> alloc(std::size_t n) {
    HostMemory<T> m{std::vector<T>(n > 0 ? n : 1)};
    poison(m.get(), m.v.size() * sizeof(T));
    return m;
  }
  void poison(void* p, std::size_t bytes) {
    if (bytes) std::memset(p, 0xA5, bytes);
  }
  void to_device(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
  void to_host(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
  template <class Kernel>
  void launch(const LaunchConfig& cfg, const Kernel& kernel) {
    host_simt::launch(arch_, cfg, kernel);
  }

 private:
  const Arch& arch_;

  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
};

}  // namespace ulpgate::host_simt
