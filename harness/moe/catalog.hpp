// The MoE catalog. Tier ci, what the host emulation runs in CI time: DeepGEMM's grouped
// block-scaled GEMM (fp32 and ue8m0 scales, contiguous and masked, bf16 and fp32 out), CUTLASS's
// blockwise one and AITER's (fnuz codes, a-first combine), 8 and 16 experts at small N x K with the
// skewed histogram (an expert without tokens, one with one, one past the alignment), K with a
// partial last block, no tokens at all, and edge inputs; MXFP8 experts (OCP MX and cuBLASLt's
// layouts). Tier full adds DeepSeek-V3's MoE layer:
// 256 experts, N x K 4096 x 7168 (gate and up) and 7168 x 2048 (down), 256 tokens routed (top-8
// of a 32-token decode batch), block-scaled, and the gate/up shape with MXFP8 experts; and
// Qwen3-235B-A22B's (128 experts, 3072 x 4096 and 4096 x 1536), for GPU backends.
#pragma once

#include <vector>

#include "harness/core/family.hpp"
#include "harness/moe/moe_case.hpp"
#include "harness/moe/quant_case.hpp"

namespace ulpgate::moe {

std::vector<Case> catalog(Tier tier);

// moe.quant's: the experts' activations quantized into the layouts the grouped GEMMs read.
// Tier ci: DeepGEMM's TMA-aligned fp32 and packed ue8m0 scales, SGLang's, vLLM's and AITER's
// group quantizers, contiguous and masked, fp32/fp16/bf16 inputs, no tokens, edge inputs, and
// MXFP8 experts (swizzled scales, a K whose blocks pad to 4). Tier full adds DeepSeek-V3's layer:
// 256 experts, 256 tokens, the gate/up (K 7168) and down (K 2048) inputs; Qwen3-235B-A22B's (128
// experts, K 4096 and 1536).
std::vector<QuantCase> quant_catalog(Tier tier);

}  // namespace ulpgate::moe
