// The RMSNorm reference computed on a device (kernels/norm/reference_gpu.hpp): the profile's y,
// written-back residual and r and the ideal's y and r (rms-quant: the quantizer's inputs, codes
// and scales, the quantization reference's on the device), bit for bit what reference/norm
// computes on the host (the kernels' tests hold them to it on the host-SIMT emulator). A backend
// whose kernels run on a GPU offers one (Backend::norm_reference); run_case then judges production
// shapes (2^31 elements) at the kernels' speed, and keeps the host reference for what it declines
// (a quantization step the device quantization reference declines).
#pragma once

#include <string>

#include "harness/core/backend.hpp"
#include "harness/norm/norm_case.hpp"

namespace ulpgate::norm {

class DeviceReference {
 public:
  virtual ~DeviceReference() = default;
  virtual std::string name() const = 0;  // "cuda", "host-simt (host-w32)"
  // Why it does not compute this case (empty: it does).
  virtual std::string declines(const Case& c) const = 0;
  virtual Expected expected(const Case& c, const Tensors& in) = 0;
};

// The case's expected results: on the backend's device where it has an RMSNorm reference that
// computes the case (`where`, when given, gets its name), else here.
Expected expected_on(Backend& backend, const Case& c, const Tensors& in, std::string* where = nullptr);

}  // namespace ulpgate::norm
