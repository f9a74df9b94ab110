#include "harness/quant/device_reference.hpp"

namespace ulpgate::quant {

Expected DeviceReference::expected(const Case& c, const Inputs& in) {
  quant_kernels::ReferenceResult r = held(c, InputRows::of(in.raw, c.spec.m))->whole(c.spec.m, c.spec.k);
  return {std::move(r.profile), std::move(r.ideal), {}};
}

DeviceReference* reference_for(Backend& backend, const Case& c) {
  DeviceReference* d = backend.quant_reference();
  return d && d->declines(c).empty() ? d : nullptr;
}

}  // namespace ulpgate::quant
