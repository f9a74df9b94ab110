// The GEMM catalog (spec/gemm.md). Tier ci, what the host emulation runs in CI time: every
// profile x op x format pair at a small odd shape (every scale and weight layout), DeepSeek-V3's
// N x K at M = 1 and 7, odd M and M = 0, K = 0, K up to 16384, and the edge inputs (max-magnitude
// codes, fp8 subnormals, exact cancellation, all-zero blocks, zeros, NaN and Inf). Tier full adds
// the DeepSeek-V3 shapes at M = 128 and 4096, for GPU backends.
#pragma once

#include <vector>

#include "harness/core/family.hpp"
#include "harness/gemm/gemm_case.hpp"

namespace ulpgate::gemm {

std::vector<Case> catalog(Tier tier);

// DeepSeek-V3's GEMM shapes as N x K (q/kv projections, MLA, expert up and down projections).
inline constexpr std::pair<int64_t, int64_t> kDeepSeekNK[] = {{7168, 2048}, {2112, 7168}, {24576, 1536}, {7168, 18432}};

}  // namespace ulpgate::gemm
