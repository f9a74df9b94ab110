// The all-reduce reference computed on a device (kernels/allreduce/reference_gpu.hpp): the ideal
// (exact sums rounded once, magnitudes) and the documented order's sum, bit for bit what
// reference/allreduce computes on the host (the kernel's tests hold it to that on the host-SIMT
// emulator). A backend whose kernels run on GPUs offers one (Backend::allreduce_reference);
// run_case then judges messages of a GiB at the kernels' speed.
#pragma once

#include <string>

#include "harness/allreduce/compare.hpp"
#include "harness/core/backend.hpp"

namespace ulpgate::allreduce {

class DeviceReference {
 public:
  virtual ~DeviceReference() = default;
  virtual std::string name() const = 0;  // "cuda", "host-simt (host-w32)"
  virtual Expected expected(const Case& c, const Inputs& in) = 0;
};

// The case's expected results: on the backend's device where it has an all-reduce reference
// (`where`, when given, gets its name), else here.
Expected expected_on(Backend& backend, const Case& c, const Inputs& in, std::string* where = nullptr);

}  // namespace ulpgate::allreduce
