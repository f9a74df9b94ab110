#include <vector>

#include "kernels/portable/device_copies.hpp"
#include "kernels/portable/gpu.hpp"

namespace ulpgate {
namespace {

class CudaCopies : public DeviceCopies {
 public:
  CudaCopies() { ULPGATE_GPU_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~CudaCopies() override { (void)cudaStreamDestroy(stream_); }

  void* input(std::span<const std::byte> host) override {
    gpu::DeviceBytes& d = inputs_.emplace_back(host.size());
    d.upload(host.data());
    return d.get();
  }
  void* output(const std::string& name, std::span<std::byte> host) override {
    outputs_.push_back({gpu::DeviceBytes::output(name, host.size()), host});
    outputs_.back().device.upload(host.data());
    return outputs_.back().device.get();
  }
  void* stream() override { return stream_; }
  int device() override {
    int d = 0;
    ULPGATE_GPU_CHECK(cudaGetDevice(&d));
    return d;
  }
  void finish() override {
    ULPGATE_GPU_CHECK(cudaStreamSynchronize(stream_));
    std::vector<guard::Violation> outside;
    for (Output& o : outputs_) {
      o.device.download(o.host.data());
      for (guard::Violation& v : o.device.violations()) outside.push_back(std::move(v));
    }
    if (!outside.empty()) throw guard::OutOfBounds(std::move(outside));
  }

 private:
  struct Output {
    gpu::DeviceBytes device;
    std::span<std::byte> host;
  };
  cudaStream_t stream_ = nullptr;
  std::vector<gpu::DeviceBytes> inputs_;
  std::vector<Output> outputs_;
};

}  // namespace

std::unique_ptr<DeviceCopies> make_cuda_copies() { return std::make_unique<CudaCopies>(); }

}  // namespace ulpgate
