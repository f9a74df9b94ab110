// A quantization case's budget, read from golden/budgets.csv (never hard-coded in a comparator).
#pragma once

#include "harness/golden/budgets.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::quant {

struct CodeBudget {
  int64_t max_codes_vs_profile;  // 0: bit-exact to the profile-exact result
  double ideal_rel_error;        // a deviation from the ideal must lie this close to a boundary
};

// Looks up codes, codes-ideal, scales and padding rows; UsageError naming the file when a row is
// missing or uses a rule this comparator does not implement.
CodeBudget code_budget(const BudgetTable& table, const Spec& spec, std::string_view op = {});

// golden/budgets.csv: $ULPGATE_BUDGETS, else ./golden/budgets.csv, else the source tree's.
const BudgetTable& default_budgets();

}  // namespace ulpgate::quant
