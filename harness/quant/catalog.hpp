// The quantization catalog: every profile x format x scale layout x mandatory edge input of
// spec/quant.md, plus shapes (M in {0,1,3,31,127}, K with G not a multiple of 4), group sizes and
// a few random shapes, sized so the default sweep stays quick.
#pragma once

#include <vector>

#include "harness/quant/quant_case.hpp"

namespace ulpgate::quant {

std::vector<Case> catalog();

}  // namespace ulpgate::quant
