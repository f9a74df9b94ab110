#include "harness/core/family.hpp"

#include <array>

#include "harness/golden/golden_file.hpp"
#include "harness/norm/run_case.hpp"
#include "harness/quant/run_case.hpp"

namespace ulpgate {
namespace {

constexpr std::array kFamilies = {
    OpFamily{"quant", quant::catalog_ids, quant::run_case_id, canonical_id<quant::Case>},
    OpFamily{"norm", norm::catalog_ids, norm::run_case_id, canonical_id<norm::Case>},
};

}  // namespace

std::span<const OpFamily> families() { return kFamilies; }

CaseResult judged(std::string case_id, std::string_view family, std::string_view profile,
                  const std::function<CaseResult()>& judge) {
  try {
    return judge();
  } catch (const BackendError& e) {
    CaseResult r;
    r.case_id = std::move(case_id);
    r.family = std::string(family);
    r.profile = std::string(profile);
    r.verdict = Verdict::error;
    r.message = e.what();
    return r;
  }
}

void stamp(CaseResult& r, std::span<const std::byte> outputs, const Backend& backend,
           std::chrono::steady_clock::time_point t0) {
  r.digest = output_digest(outputs);
  r.backend = backend.name();
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const OpFamily& family_of(std::string_view case_id) {
  const std::string_view op = case_id.substr(0, case_id.find('/'));
  for (const OpFamily& f : kFamilies)
    if (op.starts_with(f.name) && op.size() > f.name.size() && op[f.name.size()] == '.') return f;
  std::string names;
  for (const OpFamily& f : kFamilies) names += (names.empty() ? "" : ", ") + std::string(f.name) + ".*";
  throw UsageError("case '" + std::string(case_id) + "': unknown op '" + std::string(op) + "' (families: " + names + ")");
}

}  // namespace ulpgate
