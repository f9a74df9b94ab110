// quant.silu-mul judged: a kernel's exp is within its profile's exp_ulps of e^-g (CUDA's expf:
// 2 ulp), so its y may be any of reference admissible_y's values; the quant step is judged at
// those y by quant's comparator (and diagnosed by its hypotheses), as norm.rms-quant judges its
// quant step at the admissible r.
#pragma once

#include "harness/quant/compare.hpp"

namespace ulpgate::quant {

// `in` is the case's raw input ([M, 2K] gate and up); the comparator sees the y values.
CaseResult compare_silu_mul(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                            const BudgetTable& budgets);

}  // namespace ulpgate::quant
