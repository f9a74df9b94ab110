// The GEMM catalog (spec/gemm.md). Tier ci, what the host emulation runs in CI time: every
// profile x op x format pair at a small odd shape (every scale and weight layout), DeepSeek-V3's
// N x K at M = 1 and 7, odd M and M = 0, K = 0, K up to 16384, and the edge inputs (max-magnitude
// codes, fp8 subnormals, exact cancellation, all-zero blocks, zeros, NaN and Inf). Tier full adds
// production shapes for GPU backends, whose references run on the device (device_reference.hpp):
// DeepSeek-V3's N x K at M = 128, 4096 and 16384 and Llama-3-70B's at M = 1, 128, 4096 and 16384,
// every scale mode (per-tensor, per-row, 128-blocks with fp32 and ue8m0 scales, MX).
#pragma once

#include <vector>

#include "harness/core/family.hpp"
#include "harness/gemm/gemm_case.hpp"

namespace ulpgate::gemm {

std::vector<Case> catalog(Tier tier);

// DeepSeek-V3's GEMM shapes as N x K (q/kv projections, MLA, expert up and down projections).
inline constexpr std::pair<int64_t, int64_t> kDeepSeekNK[] = {{7168, 2048}, {2112, 7168}, {24576, 1536}, {7168, 18432}};
// Llama-3-70B's linear layers as N x K (hidden 8192, 64 query and 8 key/value heads of 128, MLP
// 28672): fused QKV, output projection, fused gate/up, down projection.
inline constexpr std::pair<int64_t, int64_t> kLlama70bNK[] = {{10240, 8192}, {8192, 8192}, {57344, 8192}, {8192, 28672}};

}  // namespace ulpgate::gemm
