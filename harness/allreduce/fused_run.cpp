#include "harness/allreduce/fused_run.hpp"

#include <chrono>

#include "harness/core/family.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::allreduce {
namespace {

constexpr uint16_t kPoison16 = norm::kPoison16;

// The catalog, sized for CI on the host world: both shardings at worlds 2 and 4 on 5 rows (two-shot
// splits them unevenly), bf16 and fp32 weights, dynamic per-token, per-group (ue8m0-packed for
// DeepGEMM; all-zero rows, where the per-token 2^-9 floor must not apply) and static
// quantization, DeepSeek-V3's hidden size, fp16, one row, NaN and Inf.
std::vector<FusedCase> fused_catalog() {
  std::vector<FusedCase> out;
  const auto add = [&](std::string_view op, const FusedVariant& v, int world, std::string_view rest) {
    out.push_back(FusedCase::parse(std::string(op) + "/" + std::string(v.name) + "/w" + std::to_string(world) + "/" +
                                   std::string(rest)));
  };
  for (const FusedVariant& v : fused_variants()) {
    for (int w : {2, 4}) {
      add(kFusedOps[0], v, w, "bf16/5x1024/w.bf16/normal/s1");
      add(kFusedOps[0], v, w, "bf16/5x1024/w.fp32/normal/s1");
      add(kFusedOps[1], v, w, "bf16/5x1024/w.fp32/e4m3fn/token/normal/s1");
    }
    add(kFusedOps[1], v, 2, "bf16/5x1024/w.bf16/e4m3fn/static=0.05/normal/s1");
    add(kFusedOps[0], v, 2, "bf16/3x7168/w.fp32/normal_sigma=2/s1");
    add(kFusedOps[1], v, 2, "bf16/3x7168/w.bf16/e4m3fn/token/normal_sigma=2/s1");
    add(kFusedOps[0], v, 2, "fp16/4x512/w.fp32/normal/s1");
    add(kFusedOps[0], v, 2, "bf16/1x1024/w.bf16/normal_nan=97_inf=131/s1");
    add(kFusedOps[1], v, 2, "bf16/5x1024/w.fp32/e4m3fn/token/normal_nan=97_inf=131/s1");
    add(kFusedOps[1], v, 2, "bf16/5x1024/w.fp32/e4m3fn/gs128/ue8m0-packed/normal/s1");
    add(kFusedOps[1], v, 2, "bf16/4x1024/w.bf16/e4m3fn/gs128/ue8m0-packed/zeros/s1");
    add(kFusedOps[1], v, 4, "bf16/5x1024/w.bf16/e4m3fn/gs64/ue8m0-packed/normal/s1");
  }
  return out;
}

std::vector<BundleTensor> bundle_tensors(const FusedCase& c, const FusedRun& run) {
  const norm::Spec& s = c.spec.norm;
  const std::string t(format_name(s.dtype));
  std::vector<BundleTensor> out;
  for (size_t r = 0; r < run.inputs.x.size(); ++r)
    out.push_back(bundle_tensor("x.r" + std::to_string(r), "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.x[r])));
  out.push_back(bundle_tensor("residual", "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.residual)));
  out.push_back(bundle_tensor("weight", "input", s.fp32_weight ? "fp32" : t, {s.h}, std::span<const std::byte>(run.inputs.weight)));
  const std::vector<uint16_t> sum(run.expected.sum.begin(), run.expected.sum.end());
  out.push_back(bundle_tensor("sum_expected", "expected", t, {s.m, s.h}, std::span<const uint16_t>(sum)));
  const norm::Result& p = run.expected.norm.profile;
  out.push_back(bundle_tensor("residual_expected", "expected", t, {s.m, s.h}, std::span<const uint16_t>(p.residual)));
  out.push_back(bundle_tensor("residual_actual", "actual", t, {s.m, s.h}, run.observed[0].residual));
  if (!s.quantizes()) {
    out.push_back(bundle_tensor("y_expected", "expected", t, {s.m, s.h}, std::span<const uint16_t>(p.y)));
    out.push_back(bundle_tensor("y_actual", "actual", t, {s.m, s.h}, run.observed[0].y));
    return out;
  }
  const std::string fp8(format_name(s.format));
  out.push_back(bundle_tensor("codes_expected", "expected", fp8, {s.m, s.h}, std::span<const uint8_t>(p.quant.codes)));
  out.push_back(bundle_tensor("codes_actual", "actual", fp8, {s.m, s.h}, run.observed[0].codes));
  return out;
}

}  // namespace

FusedRun run_fused(const FusedCase& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  FusedRun run;
  run.inputs = c.inputs();
  run.expected = fused_expected(c, run.inputs);
  const norm::Result& p = run.expected.norm.profile;
  for (int r = 0; r < c.spec.world; ++r) {
    const std::string rank = ".r" + std::to_string(r);
    const std::span<uint16_t> residual = run.outputs.add("residual" + rank, p.residual.size(), kPoison16);
    const std::span<uint16_t> y = run.outputs.add("y" + rank, p.y.size(), kPoison16);
    const std::span<uint8_t> codes = run.outputs.add("codes" + rank, p.quant.codes.size(), quant::kPoison);
    const std::span<uint8_t> scales = run.outputs.add("scales" + rank, p.quant.storage.size(), quant::kPoison);
    run.buffers.push_back({run.inputs.x[size_t(r)],
                           {{}, run.inputs.residual, run.inputs.weight, std::as_writable_bytes(y),
                            std::as_writable_bytes(residual), codes, scales}});
    run.observed.push_back({y, residual, codes, scales});
  }
  std::string repeat;
  run.result = judged(
      c.id(), "allreduce", c.spec.variant->name, run.outputs,
      [&] {
        backend.allreduce_norm(c.spec, run.buffers);
        const std::vector<std::byte> first = run.outputs.bytes();
        backend.allreduce_norm(c.spec, run.buffers);
        if (run.outputs.bytes() != first) repeat = "not deterministic: a repeated run wrote different bits";
      },
      [&] { return fused_compare(c, run.inputs, run.expected, run.observed, quant::default_budgets()); });
  worsen(run.result, Verdict::over_budget, repeat);
  stamp(run.result, run.outputs.bytes(), backend, t0);
  return run;
}

std::vector<std::string> fused_catalog_ids(Tier) { return case_ids(fused_catalog()); }

CaseResult run_fused_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors) {
  return ulpgate::run_case_id<FusedCase>(id, backend, tensors, run_fused, bundle_tensors);
}

// Per rank: x, the outputs (residual, y or codes and scales); once: residual, sum, the norm stage's
// inputs and expected results (its exact values in double): about 60 bytes per element.
double fused_host_bytes(std::string_view id) {
  const FusedCase c = FusedCase::parse(id);
  const double n = double(c.spec.norm.m) * double(c.spec.norm.h);
  return n * (double(c.spec.world) * 8 + 60);
}

}  // namespace ulpgate::allreduce
