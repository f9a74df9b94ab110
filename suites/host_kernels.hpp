// The host backend's kernels (warp 32) as a Backend a test wraps: the device-reference tests derive
// from it, add an emulated device reference and perturb the outputs they forward.
#pragma once

#include <memory>

#include "harness/backends/kernel_backends.hpp"

namespace ulpgate::test_support {

class HostKernels : public Backend {
 public:
  HostKernels() {
    static const bool registered = (register_kernel_backends(), true);
    (void)registered;
    kernel_ = make_backend("host", "host-w32");
  }
  std::string name() const override { return kernel_->name(); }
  void quant(const quant::Spec& s, Format in, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    kernel_->quant(s, in, x, codes, scales);
  }

 protected:
  std::unique_ptr<Backend> kernel_;
};

}  // namespace ulpgate::test_support
