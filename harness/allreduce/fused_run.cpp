#include "harness/allreduce/fused_run.hpp"

#include <chrono>

#include "harness/allreduce/rank_reports.hpp"
#include "harness/core/family.hpp"
#include "harness/golden/golden_file.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::allreduce {
namespace {

constexpr uint16_t kPoison16 = norm::kPoison16;

// The catalog, sized for CI on the host world: both shardings at worlds 2 and 4 on 5 rows (two-shot
// splits them unevenly), bf16 and fp32 weights, dynamic per-token, per-group (ue8m0-packed for
// DeepGEMM; all-zero rows, where the per-token 2^-9 floor must not apply) and static
// quantization, DeepSeek-V3's hidden size, fp16, one row, NaN and Inf. The full tier adds
// DeepSeek-V3's prefill (16384 tokens of 7168 per rank; 8192 at world 4) and a decode batch of 128.
std::vector<FusedCase> fused_catalog(Tier tier) {
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
    if (tier != Tier::full) continue;
    add(kFusedOps[0], v, 2, "bf16/16384x7168/w.fp32/normal/s1");
    add(kFusedOps[1], v, 2, "bf16/16384x7168/w.fp32/e4m3fn/token/normal/s1");
    add(kFusedOps[1], v, 2, "bf16/16384x7168/w.bf16/e4m3fn/gs128/ue8m0-packed/normal/s1");
    add(kFusedOps[1], v, 2, "bf16/128x7168/w.fp32/e4m3fn/token/normal/s1");
    add(kFusedOps[1], v, 4, "bf16/8192x7168/w.fp32/e4m3fn/token/normal/s1");
  }
  return out;
}

// Rank r's outputs, poisoned, added to `outputs` in the order that both the one-process world and
// one rank per process use (so their digests agree): residual, y, codes, scales.
struct RankOutputs {
  FusedRankBuffers buffers;
  norm::Observed observed;
};
// A rank's outputs' sizes: the norm stage's (its written-back residual, y or codes and scales).
struct OutputSizes {
  size_t residual, y, codes, scales;
  explicit OutputSizes(const norm::Spec& s)
      : residual(size_t(s.m * s.h)), y(s.quantizes() ? 0 : residual), codes(s.quantizes() ? residual : 0),
        scales(size_t(norm::scale_storage_bytes(s))) {}
};
RankOutputs add_rank_outputs(GuardedOutputs& outputs, const FusedTensors& in, const OutputSizes& p, int r) {
  const std::string rank = ".r" + std::to_string(r);
  const std::span<uint16_t> residual = outputs.add("residual" + rank, p.residual, kPoison16);
  const std::span<uint16_t> y = outputs.add("y" + rank, p.y, kPoison16);
  const std::span<uint8_t> codes = outputs.add("codes" + rank, p.codes, quant::kPoison);
  const std::span<uint8_t> scales = outputs.add("scales" + rank, p.scales, quant::kPoison);
  return {{in.x[size_t(r)], {{}, in.residual, in.weight, std::as_writable_bytes(y), std::as_writable_bytes(residual), codes, scales}},
          {y, residual, codes, scales}};
}

std::vector<BundleTensor> bundle_tensors(const FusedCase& c, const FusedRun& run) {
  const norm::Spec& s = c.spec.norm;
  const std::string t(format_name(s.dtype));
  std::vector<BundleTensor> out;
  for (size_t r = 0; r < run.inputs.x.size(); ++r)
    out.push_back(bundle_tensor("x.r" + std::to_string(r), "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.x[r])));
  out.push_back(bundle_tensor("residual", "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.residual)));
  out.push_back(bundle_tensor("weight", "input", s.fp32_weight ? "fp32" : t, {s.h}, std::span<const std::byte>(run.inputs.weight)));
  const FusedExpected e = fused_expected(c, run.inputs);  // a bundle holds the references whole
  const std::vector<uint16_t> sum(e.sum.begin(), e.sum.end());
  out.push_back(bundle_tensor("sum_expected", "expected", t, {s.m, s.h}, std::span<const uint16_t>(sum)));
  const norm::Result& p = e.norm.profile;
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
  const OutputSizes sizes(c.spec.norm);
  for (int r = 0; r < c.spec.world; ++r) {
    const RankOutputs o = add_rank_outputs(run.outputs, run.inputs, sizes, r);
    run.buffers.push_back(o.buffers);
    run.observed.push_back(o.observed);
  }
  std::string repeat, device;  // device: where the references ran, when not here
  run.result = judged(
      c.id(), "allreduce", c.spec.variant->name, run.outputs,
      [&] {
        backend.allreduce_norm(c.spec, run.buffers);
        // By digest, as golden rows compare outputs: the outputs are not copied.
        const uint64_t first = output_digest(run.outputs.parts());
        backend.allreduce_norm(c.spec, run.buffers);
        if (output_digest(run.outputs.parts()) != first) repeat = "not deterministic: a repeated run wrote different bits";
      },
      [&] { return fused_judged(c, run.inputs, run.observed, backend, &device); });
  worsen(run.result, Verdict::over_budget, repeat);
  stamp(run.result, run.outputs, backend, t0);
  if (!device.empty()) run.result.note += std::string(run.result.note.empty() ? "" : "; ") + "references on " + device;
  return run;
}

std::vector<std::string> fused_catalog_ids(Tier tier) { return case_ids(fused_catalog(tier)); }

CaseResult run_fused_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors) {
  return ulpgate::run_case_id<FusedCase>(id, backend, tensors, run_fused, bundle_tensors);
}

// ---- one rank per process (mpirun) -----------------------------------------------------------

namespace {

// This process's rank run twice; its outputs' bytes (storage) and what it saw.
RankReport run_my_fused_rank(const FusedCase& c, const FusedTensors& in, const OutputSizes& p, Backend& backend, int rank) {
  GuardedOutputs storage;
  const RankOutputs mine = add_rank_outputs(storage, in, p, rank);
  RankReport part(kRankParts);
  std::vector<guard::Violation> outside;
  const auto once = [&] {
    try {
      backend.allreduce_norm_rank(c.spec, rank, mine.buffers);
    } catch (const BackendError& e) {
      part[kError] = "rank " + std::to_string(rank) + ": " + e.what();
      return false;
    } catch (const guard::OutOfBounds& e) {  // a device backend's own guards
      outside.insert(outside.end(), e.violations.begin(), e.violations.end());
    }
    return true;
  };
  const bool ran = once();
  const std::vector<std::byte> first = storage.bytes();
  part[kStorage] = bytes_of(std::span(first));
  for (guard::Violation& v : storage.violations()) outside.push_back(std::move(v));
  part[kOutside] = guard::OutOfBounds::join(outside);
  if (ran && once() && storage.bytes() != first)
    part[kRepeat] = "not deterministic: a repeated run gave rank " + std::to_string(rank) + " different bits";
  return part;
}

// Rank r's outputs as run_fused observes them, from the bytes of its storage.
struct ReceivedRank {
  std::vector<uint16_t> residual, y;
  std::vector<uint8_t> codes, scales;
  ReceivedRank(const std::string& storage, const OutputSizes& p) {
    size_t at = 0;
    const auto take = [&](size_t bytes) { return storage.substr(std::exchange(at, at + bytes), bytes); };
    residual = elements_of<uint16_t>(take(p.residual * 2));
    y = elements_of<uint16_t>(take(p.y * 2));
    codes = elements_of<uint8_t>(take(p.codes));
    scales = elements_of<uint8_t>(take(p.scales));
  }
  norm::Observed observed() const { return {y, residual, codes, scales}; }
};

}  // namespace

// Every rank makes the inputs; rank 0 judges.
CaseResult run_fused_rank_id(std::string_view id, Backend& backend, int rank, int ranks) {
  const auto t0 = std::chrono::steady_clock::now();
  const FusedCase c = FusedCase::parse(id);
  require_supported(backend, c.spec);
  require_ranks(c.spec.world, ranks);
  const FusedTensors in = c.inputs();
  const OutputSizes p(c.spec.norm);
  const std::vector<RankReport> all = gather_reports(run_my_fused_rank(c, in, p, backend, rank));
  if (all.empty()) return {};  // not rank 0
  CaseResult r;
  if (const std::string error = first_part(all, kError); !error.empty()) {
    r.case_id = c.id(), r.family = "allreduce", r.profile = std::string(c.spec.variant->name);
    r.verdict = Verdict::error, r.message = error;
  } else {
    std::vector<ReceivedRank> got;
    std::vector<norm::Observed> observed;
    for (const RankReport& report : all) got.emplace_back(report[kStorage], p);
    for (const ReceivedRank& g : got) observed.push_back(g.observed());
    r = fused_judged(c, in, observed, backend, nullptr);
    worsen_by_ranks(r, all, ranks);
  }
  const std::string storage = joined_storage(all);
  stamp(r, std::as_bytes(std::span<const char>(storage)), backend, t0);
  return r;
}

// Per rank: x, the outputs (residual, y or codes and scales); once: residual, sum, the norm stage's
// inputs and expected results (its exact values in double): about 60 bytes per element. A passing
// case holds those results for a slab of rows only (fused_judged); the estimate is a failing
// one's, which is compared whole.
double fused_host_bytes(std::string_view id) {
  const FusedCase c = FusedCase::parse(id);
  const double n = double(c.spec.norm.m) * double(c.spec.norm.h);
  return n * (double(c.spec.world) * 8 + 60);
}

}  // namespace ulpgate::allreduce
