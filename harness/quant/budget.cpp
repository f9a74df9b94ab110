#include "harness/quant/budget.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>

namespace ulpgate::quant {
namespace {

const Budget& expect_rule(const BudgetTable& t, const Spec& s, std::string_view op, std::string_view output,
                          std::initializer_list<BudgetRule> allowed) {
  const Budget& b = t.lookup(op.empty() ? op_name(s.op) : op, s.profile->name, output);
  for (BudgetRule r : allowed)
    if (b.rule == r) return b;
  throw UsageError(t.file() + ":" + std::to_string(b.line) + ": rule " + std::string(budget_rule_name(b.rule)) +
                   " is not implemented for quantization output '" + std::string(output) + "'");
}

}  // namespace

CodeBudget code_budget(const BudgetTable& t, const Spec& s, std::string_view op) {
  expect_rule(t, s, op, "scales", {BudgetRule::bit_exact});
  expect_rule(t, s, op, "padding", {BudgetRule::bit_exact});
  const Budget& codes = expect_rule(t, s, op, "codes", {BudgetRule::bit_exact, BudgetRule::max_ulp});
  const Budget& ideal = expect_rule(t, s, op, "codes-ideal", {BudgetRule::tie_flip});
  const double u = std::ldexp(1.0, -24);  // fp32 unit roundoff
  return {int64_t(codes.limit), std::pow(1 + u, ideal.limit) - 1};
}

const BudgetTable& default_budgets() {
  static const BudgetTable table = [] {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("ULPGATE_BUDGETS")) return BudgetTable::load(env);
    if (fs::exists("golden/budgets.csv")) return BudgetTable::load("golden/budgets.csv");
    return BudgetTable::load(fs::path(ULPGATE_SOURCE_DIR) / "golden/budgets.csv");
  }();
  return table;
}

}  // namespace ulpgate::quant
