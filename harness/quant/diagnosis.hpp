// What a failing quantization output is, told by hypotheses (harness/core/diagnosis.hpp): scale
// layouts, the byte order inside packed ue8m0 words, fnuz/OCP encodings, a power-of-two factor in
// the codes with the scales right, 240 vs 224 fnuz maxima, scales rounded after quantizing, and
// every other profile. Each predicts the whole output from the inputs, so weigh() can tell which
// one explains the data, or that several do.
#pragma once

#include <vector>

#include "harness/core/diagnosis.hpp"
#include "harness/quant/compare.hpp"

namespace ulpgate::quant {

// The hypotheses worth weighing for an output whose codes and/or scale storage are wrong. They
// refer to c, in, e and o, which must outlive them.
std::vector<Hypothesis> hypotheses(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                                   bool codes_bad, bool scales_bad);

}  // namespace ulpgate::quant
