#include "harness/core/family.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>

#include "harness/allreduce/run_case.hpp"
#include "harness/gemm/run_case.hpp"
#include "harness/golden/golden_file.hpp"
#include "harness/moe/run_case.hpp"
#include "harness/norm/run_case.hpp"
#include "harness/quant/run_case.hpp"
#include "reference/formats/name_table.hpp"

namespace ulpgate {
namespace {

constexpr NameTable<Tier, 2> kTiers{{{{Tier::ci, "ci"}, {Tier::full, "full"}}}};

constexpr std::array kFamilies = {
    OpFamily{"quant", "quant.*", quant::catalog_ids, quant::run_case_id, quant::host_bytes, canonical_id<quant::Case>},
    OpFamily{"norm", "norm.*", norm::catalog_ids, norm::run_case_id, norm::host_bytes, canonical_id<norm::Case>,
             nullptr, nullptr, nullptr, norm::bundle_bytes},
    OpFamily{"gemm", "gemm.*", gemm::catalog_ids, gemm::run_case_id, gemm::host_bytes, canonical_id<gemm::Case>},
    OpFamily{"moe", "moe.*", moe::catalog_ids, moe::run_case_id, moe::host_bytes, moe::canonical_id},
    OpFamily{"allreduce", "allreduce, allreduce.rms*", allreduce::catalog_ids, allreduce::run_case_id, allreduce::host_bytes,
             allreduce::canonical_id, allreduce::ranks, allreduce::run_rank_id, allreduce::declines_id},
};

}  // namespace

std::string_view tier_name(Tier t) { return kTiers.name(t); }
Tier parse_tier(std::string_view name) { return kTiers.parse(name, "tier"); }

std::span<const OpFamily> families() { return kFamilies; }

namespace {

CaseResult failed(std::string case_id, std::string_view family, std::string_view profile, Verdict v,
                  std::string message) {
  CaseResult r;
  r.case_id = std::move(case_id);
  r.family = std::string(family);
  r.profile = std::string(profile);
  r.verdict = v;
  r.message = std::move(message);
  return r;
}

// The comparison's result under the verdict out-of-bounds: the writes outside come first.
CaseResult out_of_bounds(CaseResult compared, const std::vector<guard::Violation>& violations) {
  std::string what = guard::OutOfBounds::join(violations);
  what += "; inside its outputs: " + std::string(verdict_name(compared.verdict));
  if (!compared.message.empty()) what += " (" + compared.message + ")";
  compared.verdict = Verdict::out_of_bounds;
  compared.message = std::move(what);
  return compared;
}

}  // namespace

CaseResult judged(std::string case_id, std::string_view family, std::string_view profile,
                  const GuardedOutputs& outputs, const std::function<void()>& run_backend,
                  const std::function<CaseResult()>& compare) {
  std::vector<guard::Violation> outside;
  try {
    run_backend();
  } catch (const BackendError& e) {
    return failed(std::move(case_id), family, profile, Verdict::error, e.what());
  } catch (const guard::OutOfBounds& e) {
    outside = e.violations;
  }
  for (guard::Violation& v : outputs.violations()) outside.push_back(std::move(v));
  CaseResult r = compare();
  return outside.empty() ? r : out_of_bounds(std::move(r), outside);
}

void stamp(CaseResult& r, uint64_t digest, const Backend& backend, std::chrono::steady_clock::time_point t0) {
  r.digest = digest;
  r.backend = backend.name();
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void stamp(CaseResult& r, std::span<const std::byte> outputs, const Backend& backend,
           std::chrono::steady_clock::time_point t0) {
  stamp(r, output_digest(outputs), backend, t0);
}

// The outputs digested in place: joined, a 2^31-element case's would be copied whole.
void stamp(CaseResult& r, const GuardedOutputs& outputs, const Backend& backend,
           std::chrono::steady_clock::time_point t0) {
  stamp(r, output_digest(outputs.parts()), backend, t0);
}

void worsen(CaseResult& r, Verdict v, const std::string& why) {
  if (why.empty()) return;
  r.verdict = std::max(r.verdict, v);
  r.message = r.message.empty() ? why : why + "; " + r.message;
}

const OpFamily& family_of(std::string_view case_id) {
  const std::string_view op = case_id.substr(0, case_id.find('/'));
  for (const OpFamily& f : kFamilies)
    if (op == f.name || (op.starts_with(f.name) && op.size() > f.name.size() && op[f.name.size()] == '.')) return f;
  std::string names;
  for (const OpFamily& f : kFamilies) names += (names.empty() ? "" : ", ") + std::string(f.ops);
  throw UsageError("case '" + std::string(case_id) + "': unknown op '" + std::string(op) + "' (families: " + names + ")");
}

uint64_t default_memory_limit() {
  return uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE)) / 2;
}

CaseResult run_case(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors, uint64_t max_memory) {
  const OpFamily& f = family_of(id);
  if (f.declines)
    if (const std::string why = f.declines(id, backend); !why.empty())
      throw NotSupported(backend.name() + " does not run this case: " + why);
  const uint64_t limit = max_memory ? max_memory : default_memory_limit();
  if (const double need = tensors && f.bundle_bytes ? f.bundle_bytes(id) : f.host_bytes(id); need > double(limit)) {
    char text[160];
    std::snprintf(text, sizeof text, "needs about %.3g bytes of host memory, more than the limit of %.3g bytes (%s)",
                  need, double(limit), max_memory ? "--max-memory" : "half this machine's memory; --max-memory changes it");
    throw UsageError("case '" + std::string(id) + "' " + text);
  }
  return f.run(id, backend, tensors);
}

}  // namespace ulpgate
