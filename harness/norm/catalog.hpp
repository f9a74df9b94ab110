// The default RMSNorm catalog: every op x profile x dtype over the hidden sizes of spec/norm.md
// (odd 17, 1025, 5137, 8193 and large 7168, 16384), the edge inputs, every scale layout of the
// fused quantization, and the R18 section where vllm (fused) and vllm-unfused diverge. Tier full
// adds production shapes (32768 x 7168, 16384 x 16384, more than 2^31 elements) for GPU backends.
#pragma once

#include <vector>

#include "harness/core/family.hpp"
#include "harness/norm/norm_case.hpp"

namespace ulpgate::norm {

std::vector<Case> catalog(Tier tier = Tier::ci);

// Inputs whose groups have amax < 1/512 after normalization: the fused floor 1/(qmax*512) and the
// unfused 1e-10 give different scales there (R18).
inline constexpr std::string_view kDivergentInputs[] = {
    "uniform_lo=-1e-07_hi=1e-07",             // ms far below eps: every value is tiny
    "outliers_every=1024_mag=1e+05",          // one huge value per block dwarfs the rest
};

}  // namespace ulpgate::norm
