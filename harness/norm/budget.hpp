// An RMSNorm case's budget, read from golden/budgets.csv, and the r interval it implies.
#pragma once

#include "harness/golden/budgets.hpp"
#include "reference/norm/norm.hpp"

namespace ulpgate::norm {

struct NormBudget {
  int64_t lanes = 128;       // the `r` row: the kernel's sum of squares runs over >= lanes partial sums
  int64_t y_ideal_ulps = 1;  // rms, rms-add: |y - ideal| in ulps of dtype
};
// UsageError naming the file when a row is missing or uses a rule this comparator does not implement.
NormBudget norm_budget(const BudgetTable& table, const Spec& spec);

// The proven relative error of a kernel's fp32 r against the exact r (reference/norm's
// r_rel_error_bound) for a sum of squares over `lanes` partial sums: max(ceil(H / lanes), 32)
// sequential additions per lane, ceil(log2 lanes) tree levels, and the rounding of each fp32 square.
double r_bound(const Spec& spec, int64_t lanes);
// The roundings r_bound allows on the longest path of the sum of squares: max(ceil(H / lanes),
// min(H, 32)) + ceil(log2 lanes) + 1 (`ulpgate reveal` holds a kernel's revealed tree to it).
int64_t assumed_depth(const Spec& spec, int64_t lanes);

}  // namespace ulpgate::norm
