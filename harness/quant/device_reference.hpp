// The quantization reference computed on a device (kernels/quant/reference_gpu.hpp): the profile's
// codes, scales and scale storage and the ideal codes, bit for bit what reference/quant computes on
// the host (the kernels' tests hold them to it on the host-SIMT emulator). A backend whose kernels
// run on a GPU offers one (Backend::quant_reference); run_case then judges production shapes (2^31
// elements) at the kernels' speed, and keeps the host reference for what it declines (silu-mul).
#pragma once

#include <memory>
#include <string>

#include "harness/core/backend.hpp"
#include "harness/quant/quant_case.hpp"
#include "kernels/quant/held_reference.hpp"

namespace ulpgate::quant {

class DeviceReference {
 public:
  virtual ~DeviceReference() = default;
  virtual std::string name() const = 0;  // "cuda", "host-simt (host-w32)"
  // Why it does not compute this case (empty: it does).
  virtual std::string declines(const Case& c) const = 0;
  // The case's results left on the device, from its input's rows (uploaded a slab at a time, and
  // kept there): the scales here, both codes and the input fetched by rows.
  virtual std::unique_ptr<quant_kernels::HeldReference> held(const Case& c, const InputRows& raw) = 0;
  // Every row of them here.
  Expected expected(const Case& c, const Inputs& in);
};

// The backend's device reference where it computes the case, else nullptr.
DeviceReference* reference_for(Backend& backend, const Case& c);

}  // namespace ulpgate::quant
