#include "harness/gemm/device_reference.hpp"

namespace ulpgate::gemm {

DeviceReference* device_for(Backend& backend, const Spec& spec, const AccumModel* model) {
  DeviceReference* d = backend.gemm_reference();
  return d && (!model || d->declines(spec, *model).empty()) ? d : nullptr;
}

Ideal ideal_of(Backend& backend, const Spec& spec, const Operands& in) {
  DeviceReference* d = device_for(backend, spec, nullptr);
  return d ? d->ideal(spec, in) : gemm_ideal(spec, in);
}

Replay replay_of(Backend& backend, const Spec& spec, const AccumModel& model, const Operands& in, std::string* where) {
  DeviceReference* d = device_for(backend, spec, &model);
  if (!d) return gemm_replay(spec, model, in);
  if (where) *where = d->name();
  return d->replay(spec, model, in);
}

}  // namespace ulpgate::gemm
