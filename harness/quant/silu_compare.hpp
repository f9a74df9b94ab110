// quant.silu-mul judged: a kernel's exp is within its profile's bound of e^-g (CUDA's expf: 2 ulp;
// the fast-math __expf: 2 + floor(|1.173 x|)), and a fast-math division within 2 ulp, so its y may
// be any of reference admissible_y's values, its scale any of admissible_scales' and its codes
// those of any admissible quotient; the quant step is judged at those y by quant's comparator (and
// diagnosed by its hypotheses), as norm.rms-quant judges its quant step at the admissible r.
#pragma once

#include "harness/quant/compare.hpp"

namespace ulpgate::quant {

// `in` is the case's raw input ([M, 2K] gate and up); the comparator sees the y values.
CaseResult compare_silu_mul(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                            const BudgetTable& budgets);

}  // namespace ulpgate::quant
