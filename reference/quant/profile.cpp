#include "reference/quant/profile.hpp"

#include <array>
#include <cmath>
#include <limits>

#include "reference/formats/name_table.hpp"
#include "reference/quant/scale_rule.hpp"

namespace ulpgate::quant {
namespace {

using enum Pow2Rule;
using enum NanPolicy;
using enum MxRule;
constexpr auto divide = ScaleOp::divide;
constexpr auto reciprocal = ScaleOp::reciprocal;
constexpr auto max_over_amax = QuantOp::max_over_amax;
constexpr auto sat = Overflow::satfinite;
constexpr auto nosat = Overflow::nosat;

// Values as used by each real implementation (spec/quant.md, "Known profiles").
// name, max e4m3fn, max e4m3fnuz, amax floor, scale floor, scale op, ue8m0 rule, exp clamp,
// quant op, clamp, cast, NaN, MX rule, approximate division
constexpr std::array kProfiles = {
    // vLLM CUDA kernel: 224 on fnuz; with ue8m0 the scale is also floored at 1e-10.
    Profile{"vllm", 448, 224, 1e-10f, 1e-10f, divide, exponent_bits, false, QuantOp::divide, true,
            sat, ignore, none, false, false, Scope::group},
    // vLLM Triton fallback: exp2(ceil(log2 s)), no scale floor. Triton's fp32 `/` on NVIDIA is
    // div.full.f32, amax times the approximate reciprocal of max, which on an H200 (Triton 3.6)
    // gave amax * fl(1/max) bit for bit on every scale (examples/torch/report; not measured on
    // AMD). x / s stays an approximate division (<= 1 code, golden/budgets.csv).
    Profile{"vllm-triton", 448, 224, 1e-10f, 0, reciprocal, exp2_ceil_log2, false, QuantOp::divide,
            true, sat, ignore, none, true, false, Scope::group},
    // DeepGEMM reference utils: 1e-4 floor, x * fl(1/s), no clamp: the (PyTorch) cast decides.
    Profile{"deepgemm", 448, 0, 1e-4f, 0, divide, exponent_bits, true, QuantOp::reciprocal, false,
            nosat, ignore, none, false, false, Scope::group},
    // AITER HIP kernel: 240 on gfx942 fnuz, reciprocal multiplies throughout.
    Profile{"aiter", 448, 240, 1e-10f, 0, reciprocal, exponent_bits, false, QuantOp::reciprocal,
            true, sat, ignore, none, false, false, Scope::group},
    // SGLang: amax * fl(1/448), then x * fl(448 / amax).
    Profile{"sglang", 448, 224, 1e-10f, 0, reciprocal, exponent_bits, false, max_over_amax, true,
            sat, ignore, none, false, false, Scope::group},
    // OCP MX spec: floor rule, elements clamped, NaN propagates into the block scale.
    Profile{"ocp-mx", 448, 0, 0, 0, divide, exponent_bits, false, QuantOp::divide, true, sat,
            propagate, MxRule::floor, false, false, Scope::group},
    // TransformerEngine / cuBLAS MXFP8: rceil rule, satfinite cast.
    Profile{"te", 448, 0, 0, 0, reciprocal, exponent_bits, false, QuantOp::divide, false, sat,
            propagate, rceil, false, false, Scope::group},
};

constexpr auto ratio_inverse = ScaleOp::inverse_ratio;

// Per-tensor kernels (quant.tensor), read from their sources:
constexpr std::array kTensorProfiles = {
    // vLLM csrc/quantization/w8a8/fp8/common.cu (cda1b34): the scale slot is zeroed, each block's
    // fmaxf amax goes through atomicMaxFloat(scale, amax / qmax) (division is monotonic, so this is
    // fl(amax / qmax) of the tensor's amax; no floor); the codes are
    // scaled_fp8_conversion<true>(x, 1.0f / *scale) = x * fl(1 / s), clamped by
    // fmaxf(-qmax, fminf(x, qmax)) (common.cuh). qmax 224 for e4m3fnuz. Static: the given scale,
    // the same reciprocal multiply. An all-zero tensor gets s = 0, 1 / s = Inf, 0 * Inf = NaN,
    // which that clamp sends to +qmax: every code is +max.
    Profile{"vllm", 448, 224, 0, 0, divide, exponent_bits, false, QuantOp::reciprocal, true, sat, ignore, none,
            false, true, Scope::tensor},
    // SGLang sgl-kernel/csrc/gemm/per_tensor_quant_fp8.cu (28f9412): the same arithmetic
    // (atomicMaxFloat(output_s, amax / FP8_E4M3_MAX), scale_val = 1.0f / (*scale),
    // fmax(fmin(x * scale_val, max), -max)) over a grid-stride of at most 1024 blocks.
    Profile{"sglang", 448, 224, 0, 0, divide, exponent_bits, false, QuantOp::reciprocal, true, sat, ignore, none,
            false, true, Scope::tensor},
    // TransformerEngine current scaling: amax_kernel (__hmax of |x|: NaN ignored), then
    // compute_scale_from_amax (recipe/recipe_common.cuh, 01c24fe): scale = __fdiv_rn(max, amax),
    // 1 for amax 0 / Inf / NaN, FLT_MAX where it overflows (amax_epsilon 0 by default); the cast
    // multiplies by that scale with a satfinite conversion (no clamp: NaN stays NaN) and stores
    // scale_inv = 1 / scale, which is what this suite calls the scale. OCP formats only. Static
    // (delayed scaling): the given `scale` multiplies the same way and scale_inv is written as
    // reciprocal<float>(scale) (update_tensor_scale_inv, common/transformer_engine.cpp); with a
    // static S that scale is fl(1/S).
    Profile{"te", 448, 0, 0, 0, ratio_inverse, exponent_bits, false, QuantOp::ratio, false, sat, ignore, none,
            false, false, Scope::tensor},
    // FlashInfer's all-reduce fusion, static FP8 (trtllm_allreduce_fusion.cuh, 04ebdfd):
    // `static_cast<__nv_fp8_e4m3>(v * m_scale_factor)` with m_scale_factor = 1.f / *scale: x * fl(1/s),
    // a satfinite cast and no clamp (NaN stays NaN). Only the static form exists (no amax pass).
    Profile{"flashinfer", 448, 0, 0, 0, divide, exponent_bits, false, QuantOp::reciprocal, false, sat, ignore, none,
            false, false, Scope::tensor, 0, 0, true},
};

// quant.silu-mul. vLLM csrc/quantization/fused_kernels/fused_silu_mul_block_quant.cu (0dd8492):
// per element `1.0f / (1.0f + expf(-gate))`, `gate * sigmoid`, `* up` in fp32; scale = amax / 448
// (448 for every fp8 type: e4m3fn only here), `fmaxf(scale, 1e-10f)` on the scale; codes
// `result / group_scale` cast by c10::Float8_e4m3fn (no clamp, not saturating: NaN from 464 up).
// CUDA documents expf within 2 ulp (full range); its profile-exact values take the correctly
// rounded exp, the comparator any exp within those 2 ulp.
constexpr std::array kSiluMulProfiles = {
    Profile{"vllm", 448, 0, 0, 0, divide, exponent_bits, false, QuantOp::divide, false, nosat, ignore, none, false,
            false, Scope::silu_mul, 1e-10f, 2},
    // SGLang sgl-kernel/csrc/gemm/silu_and_mul_per_token_group_quant_fp8.cu (28f9412) in its sm90
    // build, which sgl-kernel/CMakeLists.txt compiles with -use_fast_math (common_ops_sm90_build;
    // the sm100 build is precise): per element `val / (1.0f + __expf(-val))` times up in fp32,
    // the amax over those fp32 y from `eps` (1e-10) with fmaxf, y stored over the gate in the
    // input dtype (cast_store) and read back for the codes, scale `amax / max_8bit`, codes
    // `fminf(fmaxf(val / y_s, -max), max)` cast by c10::Float8_e4m3fn; fp32 scales (row or
    // column-major), e4m3fn only. Fast math makes every `/` div.approx.ftz.f32 (nvcc 13 PTX:
    // __fdividef, 2 ulp for divisors in [2^-126, 2^126], 0 above), __expf ex2.approx.ftz after a
    // multiply by log2(e) (2 + floor(|1.173 x|) ulp) and every step FTZ (CUDA Math API, intrinsics).
    Profile{"sglang", 448, 0, 1e-10f, 0, divide, exponent_bits, false, QuantOp::divide, true, nosat, ignore, none,
            true, false, Scope::silu_mul, 0, 2, false, 1.173f, true, true, true, true},
    // The same source in SGLang's sm100 build (common_ops_sm100_build: "precise math", no
    // -use_fast_math): expf (2 ulp), IEEE division, subnormals kept.
    Profile{"sglang-precise", 448, 0, 1e-10f, 0, divide, exponent_bits, false, QuantOp::divide, true, nosat, ignore,
            none, false, false, Scope::silu_mul, 0, 2, false, 0, true, true, false, true},
    // TransformerEngine's SwiGLU with MXFP8 output (nvte_swiglu -> quantize_gated_fwd_helper ->
    // mxfp8::quantize_gated, common/cast/mxfp8/gated_mxfp8.cuh, d0067d0; sm100+), rowwise: per
    // element `silu(x) = x * (1.f / (1.f + expf(-x)))` (util/math.h; built without fast math:
    // NVTE_BUILD_ACTIVATION_WITH_FAST_MATH is off by default) times the gate half in fp32, then
    // "numerical truncation": y rounded to the input dtype, and both the block's amax (fmaxf from
    // 0: NaN ignored) and the codes are taken from that stored y. Scale float_to_e8m0(amax *
    // (1/448)) (rceil), codes mul_cvt_2x: y * exp2f_rcp(e) (exact: a power of two) with
    // cvt.rn.satfinite (no clamp; NaN stays NaN). Blocks of 32 along the row, e4m3fn.
    Profile{"te", 448, 0, 0, 0, reciprocal, exponent_bits, false, QuantOp::divide, false, sat, ignore, rceil, false,
            false, Scope::silu_mul, 0, 2, false, 0, false, true, false, false, true},
};

}  // namespace

std::span<const Profile> profiles() { return kProfiles; }

std::span<const Profile> silu_mul_profiles() { return kSiluMulProfiles; }

std::string profile_names() { return row_names(profiles()); }

const Profile& profile(std::string_view name) { return row_named(profiles(), name, "profile"); }

std::span<const Profile> tensor_profiles() { return kTensorProfiles; }

std::string tensor_profile_names() { return row_names(tensor_profiles()); }

const Profile& tensor_profile(std::string_view name) {
  return row_named(tensor_profiles(), name, "per-tensor profile");
}

float ratio(float fp8_max, float amax) { return element::ratio(fp8_max, amax); }

}  // namespace ulpgate::quant
