#include "harness/core/family.hpp"

#include <array>

#include "harness/norm/run_case.hpp"
#include "harness/quant/run_case.hpp"

namespace ulpgate {
namespace {

constexpr std::array kFamilies = {
    OpFamily{"quant", quant::catalog_ids, quant::run_case_id},
    OpFamily{"norm", norm::catalog_ids, norm::run_case_id},
};

}  // namespace

std::span<const OpFamily> families() { return kFamilies; }

const OpFamily& family_of(std::string_view case_id) {
  const std::string_view op = case_id.substr(0, case_id.find('/'));
  for (const OpFamily& f : kFamilies)
    if (op.starts_with(f.name) && op.size() > f.name.size() && op[f.name.size()] == '.') return f;
  std::string names;
  for (const OpFamily& f : kFamilies) names += (names.empty() ? "" : ", ") + std::string(f.name) + ".*";
  throw UsageError("case '" + std::string(case_id) + "': unknown op '" + std::string(op) + "' (families: " + names + ")");
}

}  // namespace ulpgate
