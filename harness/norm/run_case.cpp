#include "harness/norm/run_case.hpp"

#include <chrono>

#include "harness/core/family.hpp"
#include "harness/norm/catalog.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/compare.hpp"

namespace ulpgate::norm {
namespace {

constexpr uint16_t kPoison16 = uint16_t(quant::kPoison) * 0x0101;

std::span<std::byte> bytes_of(std::vector<uint16_t>& v) { return std::as_writable_bytes(std::span(v)); }

// The backend's output bytes in a fixed order: y, residual, codes, scale storage (each may be empty).
std::vector<std::byte> output_bytes(const CaseRun& run) {
  std::vector<std::byte> out;
  for (const auto* part : {&run.y, &run.residual}) {
    const auto b = std::as_bytes(std::span(*part));
    out.insert(out.end(), b.begin(), b.end());
  }
  for (const auto* part : {&run.codes, &run.storage})
    for (uint8_t v : *part) out.push_back(std::byte(v));
  return out;
}

}  // namespace

CaseRun run_case(const Case& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseRun run;
  run.inputs = c.inputs();
  run.expected = expected(c, run.inputs.values);
  // Outputs the op has, poisoned; the others stay empty.
  run.y.assign(run.expected.profile.y.size(), kPoison16);
  run.residual.assign(run.expected.profile.residual.size(), kPoison16);
  run.codes.assign(run.expected.profile.quant.codes.size(), quant::kPoison);
  run.storage.assign(run.expected.profile.quant.storage.size(), quant::kPoison);
  run.result = judged(c.id(), "norm", c.spec.profile->name, [&] {
    backend.norm(c.spec, Buffers{run.inputs.x, run.inputs.residual, run.inputs.weight, bytes_of(run.y),
                                 bytes_of(run.residual), run.codes, run.storage});
    return compare(c, run.inputs.values, run.expected, {run.y, run.residual, run.codes, run.storage},
                   quant::default_budgets());
  });
  stamp(run.result, output_bytes(run), backend, t0);
  return run;
}

std::vector<std::string> catalog_ids() { return case_ids(catalog()); }

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
  const Case c = Case::parse(id);
  CaseRun run = run_case(c, backend);
  if (tensors) *tensors = bundle_tensors(c, run);
  return std::move(run.result);
}

}  // namespace ulpgate::norm
