#include "harness/gemm/device_reference.hpp"

#include "harness/gemm/compare.hpp"
#include "harness/quant/budget.hpp"

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

CaseResult judged_on_device(gemm_kernels::HeldOperands& held, const Spec& spec, const AccumModel& model, int64_t m0,
                            int64_t m1, std::span<const std::byte> got) {
  const gemm_kernels::SlabCounts counts = held.judge(model, m0, m1, got, bound_factor(quant::default_budgets(), spec, true));
  CaseResult r;
  r.elements = uint64_t((m1 - m0) * spec.n);
  r.n_nan = uint64_t(counts.nan);
  r.n_over = uint64_t(counts.not_exact);
  r.n_exact = r.elements - r.n_over;
  r.ulp_hist[0] = r.n_exact;  // an exact element is the model's bits: 0 ulps
  r.verdict = verdict_of_counts(r);
  return r;
}

}  // namespace ulpgate::gemm
