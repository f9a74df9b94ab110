// Judges allreduce.rms / allreduce.rms-quant stage by stage, so a deviation is named where it
// comes from:
//   every rank bit-identical to rank 0 (two-shot: a rank that did not receive a partition differs
//     in that partition's rows, named);
//   the all-reduce stage: the written-back residual T(s + residual) bit-exact with s the variant's
//     sum (otherwise: which other sum explains it — ranks added in T at every hop, the residual
//     added to the fp32 sum before its rounding — or none);
//   the norm stage: norm.rms-add(-quant)'s comparator and diagnosis on x = the all-reduce's sum,
//     plus R21: fp32 weights read as bf16.
#pragma once

#include <span>

#include "harness/allreduce/fused_case.hpp"
#include "harness/core/case_result.hpp"
#include "harness/golden/budgets.hpp"
#include "harness/norm/compare.hpp"

namespace ulpgate::allreduce {

CaseResult fused_compare(const FusedCase& c, const FusedTensors& t, const FusedExpected& e,
                         std::span<const norm::Observed> ranks, const BudgetTable& budgets);

}  // namespace ulpgate::allreduce
