// A device reference's pipeline on a CUDA device, on one stream: the device that
// host_pipeline.hpp describes (alloc, poison, to_device, to_host, launch). Allocations are cached
// by size for the device's life: a benchmark's repeated runs take the same buffers (gigabytes of
// GEMM block sums) without cudaMalloc and cudaFree, which synchronize the device, in the timed
// region. Include from a .cu file (CUDA only).
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/portable/gpu.hpp"

namespace ulpgate::gpu {

class PipelineDevice;

// Device memory from PipelineDevice's pool, returned to it when dropped.
template <class T>
class PoolMemory {
 public:
  PoolMemory(PipelineDevice* owner, void* p, std::size_t bytes) : owner_(owner), p_(p), bytes_(bytes) {}
  PoolMemory(PoolMemory&& o) noexcept : owner_(o.owner_), p_(std::exchange(o.p_, nullptr)), bytes_(o.bytes_) {}
  PoolMemory(const PoolMemory&) = delete;
  PoolMemory& operator=(const PoolMemory&) = delete;
  ~PoolMemory();
  T* get() const { return static_cast<T*>(p_); }

 private:
  PipelineDevice* owner_;
  void* p_;
  std::size_t bytes_;
};

class PipelineDevice {
 public:
  explicit PipelineDevice(cudaStream_t stream) : stream_(stream) {}
  PipelineDevice(const PipelineDevice&) = delete;
  PipelineDevice& operator=(const PipelineDevice&) = delete;
  ~PipelineDevice() {
    for (auto& [p, bytes] : cached_) (void)cudaFree(p);  // nothing useful to do with an error here
  }

  template <class T>
  PoolMemory<T> alloc(std::size_t n) {
    const std::size_t bytes = std::max<std::size_t>(n * sizeof(T), 1);
    const auto it = std::find_if(cached_.begin(), cached_.end(), [&](const auto& c) { return c.second == bytes; });
    if (it != cached_.end()) {
      void* p = it->first;
      cached_.erase(it);
      return {this, p, bytes};
    }
    void* p = nullptr;
    ULPGATE_GPU_CHECK(cudaMalloc(&p, bytes));
    return {this, p, bytes};
  }
  void release(void* p, std::size_t bytes) { cached_.emplace_back(p, bytes); }

  void poison(void* p, std::size_t bytes) {
    if (bytes) ULPGATE_GPU_CHECK(cudaMemsetAsync(p, DeviceBytes::kPoisonByte, bytes, stream_));
  }
  void to_device(void* dst, const void* src, std::size_t bytes) {
    if (bytes) ULPGATE_GPU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  }
  void to_host(void* dst, const void* src, std::size_t bytes) {
    if (!bytes) return;
    ULPGATE_GPU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    ULPGATE_GPU_CHECK(cudaStreamSynchronize(stream_));
  }
  template <class Kernel>
  void launch(const LaunchConfig& cfg, const Kernel& kernel) {
    gpu::launch(cfg, kernel, stream_);
  }
  void synchronize() { ULPGATE_GPU_CHECK(cudaStreamSynchronize(stream_)); }

  cudaStream_t stream() const { return stream_; }
  std::size_t cached_bytes() const {
    std::size_t n = 0;
    for (const auto& c : cached_) n += c.second;
    return n;
  }

 private:
  cudaStream_t stream_;
  std::vector<std::pair<void*, std::size_t>> cached_;
};

template <class T>
PoolMemory<T>::~PoolMemory() {
  if (p_) owner_->release(p_, bytes_);
}

}  // namespace ulpgate::gpu
