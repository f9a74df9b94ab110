#include "harness/norm/run_case.hpp"

#include <chrono>

#include "harness/core/family.hpp"
#include "harness/norm/device_reference.hpp"
#include "harness/norm/catalog.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/compare.hpp"

namespace ulpgate::norm {
CaseRun run_case(const Case& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseRun run;
  run.inputs = c.inputs();
  std::string device;  // where the references ran, when not here
  run.expected = expected_on(backend, c, run.inputs, &device);
  // Outputs the op has, poisoned, in the digest's order: y, residual, codes, scale storage (the
  // others are empty).
  const Result& p = run.expected.profile;
  run.y = run.outputs.add("y", p.y.size(), kPoison16);
  run.residual = run.outputs.add("residual", p.residual.size(), kPoison16);
  run.codes = run.outputs.add("codes", p.quant.codes.size(), quant::kPoison);
  run.storage = run.outputs.add("scales", p.quant.storage.size(), quant::kPoison);
  run.result = judged(
      c.id(), "norm", c.spec.profile->name, run.outputs,
      [&] {
        backend.norm(c.spec, Buffers{run.inputs.x, run.inputs.residual, run.inputs.weight, std::as_writable_bytes(run.y),
                                     std::as_writable_bytes(run.residual), run.codes, run.storage});
      },
      [&] {
        return compare(c, run.inputs.values, run.expected, {run.y, run.residual, run.codes, run.storage},
                       quant::default_budgets());
      });
  stamp(run.result, run.outputs.bytes(), backend, t0);
  if (!device.empty()) run.result.note = "references on " + device;
  return run;
}

std::vector<std::string> catalog_ids(Tier tier) { return case_ids(catalog(tier)); }

namespace {

std::vector<BundleTensor> bundle_tensors(const Case& c, const CaseRun& run) {
  const Spec& s = c.spec;
  const std::string t(format_name(s.dtype));
  std::vector<BundleTensor> out = {
      bundle_tensor("x", "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.x)),
      bundle_tensor("weight", "input", t, {s.h}, std::span<const std::byte>(run.inputs.weight)),
      bundle_tensor("r_expected", "expected", "fp32", {s.m}, std::span<const float>(run.expected.profile.r)),
  };
  if (s.has_residual()) {
    out.push_back(bundle_tensor("residual", "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.residual)));
    out.push_back(bundle_tensor("residual_expected", "expected", t, {s.m, s.h},
                                std::span<const uint16_t>(run.expected.profile.residual)));
    out.push_back(bundle_tensor("residual_actual", "actual", t, {s.m, s.h}, std::span<const uint16_t>(run.residual)));
  }
  if (!s.quantizes()) {
    out.push_back(bundle_tensor("y_expected", "expected", t, {s.m, s.h}, std::span<const uint16_t>(run.expected.profile.y)));
    out.push_back(bundle_tensor("y_ideal", "expected-ideal", t, {s.m, s.h}, std::span<const uint16_t>(run.expected.ideal.y)));
    out.push_back(bundle_tensor("y_actual", "actual", t, {s.m, s.h}, std::span<const uint16_t>(run.y)));
    return out;
  }
  const std::string fp8(format_name(s.format));
  const auto& q = run.expected.profile.quant;
  const int64_t storage = int64_t(run.storage.size());
  out.push_back(bundle_tensor("v_expected", "expected", "fp32", {s.m, s.h}, std::span<const float>(run.expected.profile.v)));
  out.push_back(bundle_tensor("codes_expected", "expected", fp8, {s.m, s.h}, std::span<const uint8_t>(q.codes)));
  out.push_back(bundle_tensor("codes_actual", "actual", fp8, {s.m, s.h}, std::span<const uint8_t>(run.codes)));
  out.push_back(bundle_tensor("scales_expected", "expected", "fp32", {int64_t(q.scales.size())}, std::span<const float>(q.scales)));
  out.push_back(bundle_tensor("scale_storage_expected", "expected", "uint8", {storage}, std::span<const uint8_t>(q.storage)));
  out.push_back(bundle_tensor("scale_storage_actual", "actual", "uint8", {storage}, std::span<const uint8_t>(run.storage)));
  return out;
}

}  // namespace

CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors) {
  return ulpgate::run_case_id<Case>(id, backend, tensors, run_case, bundle_tensors);
}

// Held per element: x (2 bytes) and its fp32 value (4), the profile's and the ideal's y (2 + 2),
// the exact value (8), the output (2): 20 bytes; a residual adds 10 (input, fp32, expected and
// output), the fused quantizer 3 over y (its fp32 input 4 and codes, the reconciled codes). Measured
// on the host emulation at 2048 x 7168 (with the emulated kernel's buffers): 25 (rms), 39
// (rms-add), 30 (rms-quant); times 1.5 bounds each.
double host_bytes(std::string_view id) {
  const Case c = Case::parse(id);
  const double held = 20 + (c.spec.has_residual() ? 10 : 0) + (c.spec.quantizes() ? 3 : 0);
  return double(c.spec.m) * double(c.spec.h) * held * 1.5;
}

}  // namespace ulpgate::norm
