// The quantization catalog: every profile x format x scale layout x mandatory edge input of
// spec/quant.md, plus shapes (M in {0,1,3,31,127}, K with G not a multiple of 4), group sizes and
// a few random shapes, sized so the default sweep stays quick. Tier full adds production shapes
// (32768 x 7168, 16384 x 16384, more than 2^31 elements) for GPU backends.
#pragma once

#include <vector>

#include "harness/core/family.hpp"
#include "harness/quant/quant_case.hpp"

namespace ulpgate::quant {

std::vector<Case> catalog(Tier tier = Tier::ci);

}  // namespace ulpgate::quant
