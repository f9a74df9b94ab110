// Judges a backend's quantization output against the reference (spec/quant.md "Derived budgets"):
// codes bit-exact to the profile (approximate-division profiles: one code), every deviation from
// the ideal justified by the quotient's proven error; scales bit-exact; padding as defined. When
// values mismatch it tries the other layouts, formats, fp8 maxima and profiles and names the one
// that matches instead of saying "mismatch".
#pragma once

#include <span>

#include "harness/core/case_result.hpp"
#include "harness/golden/budgets.hpp"
#include "harness/quant/quant_case.hpp"
#include "kernels/quant/held_reference.hpp"

namespace ulpgate::quant {

// The byte every output buffer holds before a backend runs: an unwritten byte stays this.
inline constexpr uint8_t kPoison = 0xA5;

struct Observed {
  std::span<const uint8_t> codes;    // [M * K]
  std::span<const uint8_t> storage;  // scales in spec.layout
};

// budget_op: look budgets up under this op instead of the spec's (a fused op judging its quant step).
// diagnose: name what went wrong when the case fails (false: counts and verdict only, for callers
// that judge an alternative explanation and only need to know whether it passes).
CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                   const BudgetTable& budgets, std::string_view budget_op = {}, bool diagnose = true);

// The same judgement with the references and the input left on a device, and the outputs
// wherever the backend left them: the codes and the input's rows fetched and judged a slab of
// about slab_elements at a time (whole rows), the scales whole; a failing case is diagnosed with
// them all fetched.
CaseResult compare_held(const Case& c, quant_kernels::HeldReference& held, quant_kernels::HeldOutputs& o,
                        const BudgetTable& budgets, int64_t slab_elements);

}  // namespace ulpgate::quant
