// What a failing quantization output is, told by hypotheses (harness/core/diagnosis.hpp): scale
// layouts, the byte order inside packed ue8m0 words, fnuz/OCP encodings, a power-of-two factor in
// the codes with the scales right, 448/240/224 fp8 maxima, scales rounded after quantizing, every
// other profile, and (diagnosis_parts.hpp) one profile parameter changed, other cast roundings,
// scales computed otherwise, outputs never written or at other places. Each predicts the whole
// output from the inputs, so weigh() can tell which one explains the data, or that several do.
#pragma once

#include <vector>

#include "harness/core/diagnosis.hpp"
#include "harness/quant/diagnosis_parts.hpp"

namespace ulpgate::quant {

// The hypotheses worth weighing for an output whose codes and/or scale storage are wrong. They
// refer to the evidence, which must outlive them.
std::vector<Hypothesis> hypotheses(const Evidence& ev);

}  // namespace ulpgate::quant
