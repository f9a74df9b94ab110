#include "reference/quant/profile.hpp"

#include <array>
#include <cmath>

#include "reference/formats/name_table.hpp"

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
            sat, ignore, none, false},
    // vLLM Triton fallback: exp2(ceil(log2 s)), no scale floor. Triton's fp32 `/` on NVIDIA is
    // div.full.f32, amax times the approximate reciprocal of max, which on an H200 (Triton 3.6)
    // gave amax * fl(1/max) bit for bit on every scale (examples/torch/report; not measured on
    // AMD). x / s stays an approximate division (<= 1 code, golden/budgets.csv).
    Profile{"vllm-triton", 448, 224, 1e-10f, 0, reciprocal, exp2_ceil_log2, false, QuantOp::divide,
            true, sat, ignore, none, true},
    // DeepGEMM reference utils: 1e-4 floor, x * fl(1/s), no clamp: the (PyTorch) cast decides.
    Profile{"deepgemm", 448, 0, 1e-4f, 0, divide, exponent_bits, true, QuantOp::reciprocal, false,
            nosat, ignore, none, false},
    // AITER HIP kernel: 240 on gfx942 fnuz, reciprocal multiplies throughout.
    Profile{"aiter", 448, 240, 1e-10f, 0, reciprocal, exponent_bits, false, QuantOp::reciprocal,
            true, sat, ignore, none, false},
    // SGLang: amax * fl(1/448), then x * fl(448 / amax).
    Profile{"sglang", 448, 224, 1e-10f, 0, reciprocal, exponent_bits, false, max_over_amax, true,
            sat, ignore, none, false},
    // OCP MX spec: floor rule, elements clamped, NaN propagates into the block scale.
    Profile{"ocp-mx", 448, 0, 0, 0, divide, exponent_bits, false, QuantOp::divide, true, sat,
            propagate, MxRule::floor, false},
    // TransformerEngine / cuBLAS MXFP8: rceil rule, satfinite cast.
    Profile{"te", 448, 0, 0, 0, reciprocal, exponent_bits, false, QuantOp::divide, false, sat,
            propagate, rceil, false},
};

}  // namespace

std::span<const Profile> profiles() { return kProfiles; }

std::string profile_names() { return row_names(profiles()); }

const Profile& profile(std::string_view name) { return row_named(profiles(), name, "profile"); }

}  // namespace ulpgate::quant
