// What a failing RMSNorm output is, told by hypotheses (harness/core/diagnosis.hpp): the profile
// with one parameter changed (eps, the roundings of y, the residual's rounding, what the fused
// quantizer sees) or another profile, each judged by the comparator itself so that a kernel's r
// anywhere in its proven interval still fits; the r each row implies (r_fit.hpp): eps outside the
// square root, a wrong element count in the mean, a sum of squares that misses part of the row;
// outputs rounded toward zero; outputs never written.
#pragma once

#include <vector>

#include "harness/core/diagnosis.hpp"
#include "harness/norm/compare.hpp"

namespace ulpgate::norm {

// The hypotheses worth weighing for a failing output. They refer to c, in, e, o and budgets,
// which must outlive them.
std::vector<Hypothesis> hypotheses(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                                   const BudgetTable& budgets);

// "; 3 elements never written (poison 0xA5A5)" when y or the residual holds unwritten elements
// and the story does not say so already; else empty.
std::string unwritten_note(const Expected& e, const Observed& o, const std::string& story);

}  // namespace ulpgate::norm
