#include "harness/norm/budget.hpp"

#include <algorithm>
#include <cmath>

namespace ulpgate::norm {
namespace {

const Budget& expect_rule(const BudgetTable& t, const Spec& s, std::string_view output, BudgetRule rule) {
  const Budget& b = t.lookup(op_name(s.op), s.profile->name, output);
  if (b.rule != rule)
    throw UsageError(t.file() + ":" + std::to_string(b.line) + ": rule " + std::string(budget_rule_name(b.rule)) +
                     " is not implemented for " + std::string(op_name(s.op)) + " output '" + std::string(output) +
                     "' (expected " + std::string(budget_rule_name(rule)) + ")");
  return b;
}

}  // namespace

NormBudget norm_budget(const BudgetTable& t, const Spec& s) {
  NormBudget b;
  b.lanes = int64_t(expect_rule(t, s, "r", BudgetRule::rsqrt_flip).limit);
  if (!s.quantizes()) {
    expect_rule(t, s, "y", BudgetRule::bit_exact);
    b.y_ideal_ulps = int64_t(expect_rule(t, s, "y-ideal", BudgetRule::max_ulp).limit);
  }
  if (s.has_residual()) expect_rule(t, s, "residual", BudgetRule::bit_exact);
  return b;
}

// A lane may add up to 32 elements whatever H (`ulpgate reveal` found the suite's own kernel
// adding 32 per thread, 4 chunks of 8, on 8 threads at H = 256: 34 additions where ceil(H / 128)
// + 8 allowed 10).
constexpr int64_t kLaneElements = 32;

int64_t assumed_depth(const Spec& s, int64_t lanes) {
  const int64_t per_lane = std::max((s.h + lanes - 1) / lanes, std::min(s.h, kLaneElements));
  return per_lane + int64_t(std::ceil(std::log2(double(lanes)))) + 1;
}

double r_bound(const Spec& s, int64_t lanes) { return r_rel_error_bound(*s.profile, s.h, assumed_depth(s, lanes)); }

}  // namespace ulpgate::norm
