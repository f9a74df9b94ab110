#include "reference/norm/profile.hpp"

#include <array>

#include "reference/formats/name_table.hpp"

namespace ulpgate::norm {
namespace {

using enum Rsqrt;
constexpr auto twice = Rounding::twice;
constexpr auto once = Rounding::once;
constexpr auto q_divide = quant::QuantOp::divide;
constexpr auto q_reciprocal = quant::QuantOp::reciprocal;

// Kernels that take a double epsilon but pass it as `float const epsilon` add fl32(1e-6).
constexpr float kEps = 1e-6f;
constexpr double kEpsAsFloat = double(kEps);

// One row per implementation; the sources each value was read from (commits as stored in the
// public code index) are named in the comment above the row.
// name, eps, rounding, round residual, rsqrt, quant row, amax floor, quant op, quantizes T(y),
// mean, eps added
constexpr std::array kProfiles = {
    // vLLM CUDA kernels.
    // - csrc/layernorm_kernels.cu (0112cf2): rms_norm_kernel and fused_add_rms_norm_kernel:
    //   `variance += x * x` over the fp32 widening of the T-valued z (fused_add: `z += residual`
    //   in scalar_t, i.e. z = T(x + residual), written back as the residual before squaring);
    //   `rsqrtf(variance / hidden_size + epsilon)` with `const float epsilon`; output
    //   `((scalar_t)(x * s_variance)) * weight[idx]`: fl(z * r) rounded to T, times w, rounded to
    //   T (the vectorized path: `temp *= s_variance; temp *= weight_v[idx]`, the same roundings).
    // - csrc/quantization/fused_kernels/layernorm_utils.cuh (83e16d2), the fused rms-quant:
    //   the same r; the quantizer sees `static_cast<float>(static_cast<scalar_t>(x * rms) *
    //   weight[i])` (twice rounded); `scale = max(scale / qmax, min_scaling_factor)` with
    //   min_scaling_factor = 1.0f / (qmax * 512.0f) (csrc/quantization/utils.cuh), which is
    //   fl(2^-9 / qmax) because qmax * 512 is exact, so it equals an amax floor of 2^-9 followed by
    //   the division (correctly rounded division is monotonic); qmax is 448 (e4m3fn) or 224
    //   (e4m3fnuz, utils.cuh). Codes: `ScaledQuant<..., is_scale_inverted = false>` for fp8 ("Do
    //   not invert token_scale for exact match with FBGemm",
    //   fused_layernorm_dynamic_per_token_quant.cu): q = x / s, a division, not x * fl(1/s).
    //   Groups 64/128 with row or transposed (col, col-tma) fp32 scales; no ue8m0 path in these
    //   sources: ue8m0 cases apply the quant row's ue8m0 rule after the fused floor.
    //   Note: with a residual, the fused rms-quant keeps z in fp32 (`x += residual`, squared, and
    //   only the written-back residual is rounded); norm.rms-quant has no residual input here.
    // - rsqrtf: CUDA documents <= 2 ulp.
    // - The fused dynamic kernels with a residual (layernorm_utils.cuh compute_rms /
    //   norm_and_quant, has_residual): `x += residual` in fp32, squared and normalized unrounded,
    //   only the written-back residual rounded; scale_ub caps the amax before the division:
    //   `scale = min(amax, *scale_ub)`, then the floor.
    // - Static (csrc/layernorm_quant_kernels.cu, 0112cf2): rms_norm_static_fp8_quant and
    //   fused_add_rms_norm_static_fp8_quant: z = T(x + residual) written back and squared (as the
    //   rms-add kernel), `((scalar_t)(x * s_variance)) * weight[idx]` (T twice), then
    //   scaled_fp8_conversion<true>(out_norm, 1.0f / *scale): quant.tensor's vllm row.
    Profile{"vllm", kEps, twice, true, cuda, "vllm", 0x1p-9f, q_divide, true, MeanOp::divide, kEpsAsFloat, true},
    // vLLM's norm (above), then its separate per-token-group quantization of the bf16/fp16 output
    // with the `vllm` quant row unchanged: amax floored at 1e-10, s = amax / qmax, q = x / s.
    Profile{"vllm-unfused", kEps, twice, true, cuda, "vllm", 1e-10f, q_divide, true, MeanOp::divide,
            kEpsAsFloat},
    // AITER HIP kernel, csrc/kernels/rmsnorm_quant_kernels.cu (077c1c2), add_rmsnorm_quant_kernel:
    // z = float(x) + float(residual) stays fp32 (squared and normalized unrounded; only the
    // written-back residual is rounded to T); `square_sum += z * z`; `rsqrtf(sum / n + epsilon)`
    // with `double epsilon`: fl32(sum / n) + epsilon is a double addition converted to fp32 once
    // (53 >= 2 * 24 + 1 bits, so that double rounding is innocuous); v_pk_mul_f32 by r then by
    // float(w): one rounding to T at the store. Quant: `thread_max` starts at 1e-10f (the amax
    // floor), scale = amax * (1 / qmax) (the `aiter` quant row: 240 on gfx942 e4m3fnuz, 448 on
    // e4m3fn), codes = the fp32 value * v_rcp_f32(scale), clamped by v_med3 to +-qmax. The
    // quantizer sees the fp32 value, not T(y). Note: v_rcp_f32 is a <= 1 ulp approximation; the
    // `aiter` quant row models fl(1 / s). rsqrtf on HIP: about 1 ulp.
    Profile{"aiter", kEps, once, false, hip, "aiter", 1e-10f, q_reciprocal, false, MeanOp::divide, 1e-6},
    // FlashInfer's all-reduce fusion (include/flashinfer/comm/trtllm_allreduce_fusion.cuh,
    // 04ebdfd; TensorRT-LLM's allReduceFusionKernels): the residual added in T (`vec_add` of the
    // all-reduced T sum and the residual, stored as residual_out), `acc += v * v` over the T values,
    // `rsqrtf(acc / hidden_dim + rms_eps)` with a float eps, the output
    // `static_cast<T>(float(z) * s_val * float(gamma))`: one rounding to T. The quantizers see
    // that T output. Per token: `fmaxf(amax / 448, (1/512) / 448)` is an amax floor of 2^-9 then
    // the division (as vLLM's fused kernel), `q = v / scale`, `fminf(fmaxf(q, -448), 448)` (NaN to
    // -max), a satfinite cast: the `vllm` group row with these overrides. Static: `float(T y) *
    // (1.f / *scale_factor)` cast by __nv_fp8_e4m3 (satfinite, no clamp): the `flashinfer`
    // per-tensor row. Per group (kPerTokenGroupFP8Packed, ue8m0-packed scales only):
    // compute_ue8m0_scale's `fmaxf(absmax / 448, 1e-10f)` rounded up to a power of two by its
    // exponent bits, `q = v / y_s` clamped fminf(fmaxf(q, -448), 448): the `vllm` group row as it
    // is (its 1e-10 amax floor before the division changes nothing: both floors give 1e-10), no
    // 2^-9 floor. e4m3fn only (448, __nv_fp8_e4m3).
    Profile{"flashinfer", kEps, once, true, cuda, "vllm", 0x1p-9f, q_divide, true, MeanOp::divide, kEpsAsFloat, false,
            "flashinfer", "vllm"},
    // HF transformers LlamaRMSNorm, src/transformers/models/llama/modeling_llama.py (0022728):
    // `hidden_states.to(torch.float32)`, `variance = hidden_states.pow(2).mean(-1)`,
    // `hidden_states * torch.rsqrt(variance + self.variance_epsilon)`, then
    // `self.weight * hidden_states.to(input_dtype)`: two roundings to T. The decoder layer adds the
    // residual in T (rounded). PyTorch's CUDA mean multiplies the sum by fl(1 / H)
    // (aten/src/ATen/native/cuda/ReduceMomentKernel.cu: `factor = float(num_output_elements) /
    // numel`, MeanOps::project `a * factor`); the Python eps is added to a float32 tensor in fp32;
    // torch.rsqrt on CUDA is rsqrtf. No fused quantization.
    Profile{"hf", kEps, twice, true, cuda, "", 0, q_divide, true, MeanOp::reciprocal, kEpsAsFloat},
};

constexpr NameTable<Rsqrt, 3> kRsqrtNames{{{{exact, "exact"}, {cuda, "cuda"}, {hip, "hip"}}}};

}  // namespace

std::string_view rsqrt_name(Rsqrt r) { return kRsqrtNames.name(r); }

double rsqrt_ulps(Rsqrt r) {
  switch (r) {
    case exact: return 0.5;  // correctly rounded
    case cuda: return 2.0;   // CUDA C Programming Guide, rsqrtf: 2 ulp maximum error
    case hip: return 1.0;
  }
  return 2.0;
}

quant::Profile Profile::quant_profile(bool static_scale, bool grouped) const {
  if (!quantizes()) throw UsageError("norm profile '" + std::string(name) + "' has no fused quantization");
  if (static_scale) return quant::tensor_profile(static_row());
  if (grouped && !group_quant.empty()) return quant::profile(group_quant);
  quant::Profile q = quant::profile(quant);
  q.amax_floor = amax_floor;
  q.quant_op = quant_op;
  return q;
}

std::span<const Profile> profiles() { return kProfiles; }

std::string profile_names() { return row_names(profiles()); }

const Profile& profile(std::string_view name) { return row_named(profiles(), name, "norm profile"); }

}  // namespace ulpgate::norm
