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
#include "harness/core/backend.hpp"
#include "harness/norm/compare.hpp"
#include "harness/norm/run_case.hpp"

namespace ulpgate::allreduce {

CaseResult fused_compare(const FusedCase& c, const FusedTensors& t, const FusedExpected& e,
                         std::span<const norm::Observed> ranks, const BudgetTable& budgets);

// fused_compare's judgment without whole references where the norm stage's rows are judged apart
// (norm::judged_in_slabs, norm::count_in_slabs): rank 0's outputs against the references of the norm stage on the
// all-reduce's sum, made a slab of rows at a time (on the backend's device where it has a norm
// reference; `device` names it), and every other rank held to rank 0's bits. A case that fails
// there, or whose scales span rows, is compared whole (fused_compare), which names the stage.
CaseResult fused_judged(const FusedCase& c, const FusedTensors& t, std::span<const norm::Observed> ranks, Backend& backend,
                        std::string* device, int64_t slab_elements = norm::kSlabElements);

}  // namespace ulpgate::allreduce
