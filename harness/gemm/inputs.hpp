// A GEMM's operands as producers hand them over: real values (generators.hpp, keyed by the case)
// quantized per cell of the op's scale geometry (gemm.hpp Geometry) — A per 1x128 group
// (gemm.block), per row (gemm.rowwise) or per tensor; B per 128x128 block, per column (a row of
// B as [N, K]) or per tensor; both per 1x32 for gemm.mx. As the quantization kernels do
// (spec/quant.md): scale = max(amax, 1e-4) / fp8 max (amax ignores NaN and Inf; DeepGEMM's
// floor keeps all-zero blocks finite), rounded up to a power of two where the spec's scales are
// ue8m0; code = RNE(x / scale) saturated to the format; NaN stays NaN, Inf stays Inf where the
// format has one (e5m2) and is NaN elsewhere.
#pragma once

#include "harness/core/rng.hpp"
#include "harness/gemm/gemm_case.hpp"

namespace ulpgate::gemm {

Operands quantized_operands(const Spec& spec, const Input& input, const Rng& rng);
// One of them alone (A from the stream's part 1, B from part 2), the same bits.
Quantized quantized_operand(const Spec& spec, const Input& input, const Rng& rng, Which which);

}  // namespace ulpgate::gemm
