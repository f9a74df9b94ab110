// quant.silu-mul (issue 29): y = SiLU(gate) * up over rows [gate | up] of 2K elements, then
// per-token-group FP8 quantization of y by the quant core (any group scale layout: quantize_profile
// on y with the silu-mul spec, whose groups are quant.group's). A fused op is a composition: the
// activation's fp32 steps here, the quantizer's in quant.cpp.
//
// SiLU needs exp. The profile-exact y takes the correctly rounded fp32 exp and IEEE division; a
// kernel's exp is within the profile's bound of e^x (and a fast-math division within 2 ulp), each
// step monotone in its input, so its y is one of the values admissible_y lists (one per exp value
// and quotient in the window). The ideal y = g * u / (1 + e^-g) is computed in extended precision
// and rounded once.
#pragma once

#include <span>
#include <vector>

#include "reference/quant/quant.hpp"

namespace ulpgate::quant {

// e^x rounded once to fp32 (RNE; subnormal, 0 and Inf where the exact value goes).
float exp_correctly_rounded(float x);

// How many fp32 steps from the correctly rounded e^x the profile's exp may be (CUDA's table:
// exp_ulps + floor(exp_ulps_per_x * |x|)).
int exp_ulps_at(const Profile& p, float x);

// x, or the zero of its sign where the profile flushes subnormals (FTZ).
float flushed(const Profile& p, float x);

// The profile's x / d: fl(x / d) (operands and result flushed under FTZ), but with approximate
// division (CUDA's __fdividef, what -use_fast_math makes of `/`: x times an approximate 1 / d) the
// zero of x / d's sign for |d| above 2^126, as CUDA's Math API documents (NaN for an infinite x).
float quotient(const Profile& p, float x, float d);

// Every fp32 quotient the profile's division x / d may give, ascending: quotient() alone, or with
// approximate division the values within 2 steps of it for |d| in [2^-126, 2^126] (flushed under
// FTZ), as CUDA's Math API documents __fdividef.
std::vector<float> admissible_quotients(const Profile& p, float x, float d);

// The profile's steps for one element with the exp value e = exp(-g): vLLM's
// y = fl(fl(g * fl(1 / fl(1 + e))) * u), SGLang's y = fl(fl(g / fl(1 + e)) * u) (each step flushed
// under FTZ).
float silu_mul_at(const Profile& p, float g, float u, float e);

// The activation over [M, 2K] input values: [M * K] fp32 y with the correctly rounded exp.
std::vector<float> silu_mul_values(const Spec& spec, std::span<const float> x);

// y as stored in the input dtype and read back (RNE; fp32: y).
float rounded_to(Format input, float y);

// The value the profile's codes are computed from: y rounded to the input dtype where the kernel
// stores y and reads it back (codes_from_stored_y), else y.
float stored_y(const Profile& p, Format input, float y);

// The profile-exact result of y: scales from the amax of the fp32 y (or of y as stored, with
// amax_from_stored_y), codes from stored_y.
Result silu_mul_quantized(const Spec& spec, Format input, std::span<const float> y);

// Every fp32 y a kernel with the profile's exp error (and approximate division) may give for
// (g, u), ascending; one value where every step is exact or y does not depend on it.
std::vector<float> admissible_y(const Spec& spec, float g, float u);

// The scales a group with this amax may store: group_scale's, or with approximate division the
// quotients amax / max may give.
std::vector<float> admissible_scales(const Spec& spec, float amax);

// The exact y = g * u / (1 + e^-g) to double precision (NaN for NaN inputs, the IEEE limits for
// infinite ones: what the fp32 steps give there).
double silu_mul_exact(float g, float u);

// The ideal codes: the exact y quantized once with the profile's scales (quant::ideal_code).
std::vector<uint8_t> silu_mul_ideal(const Spec& spec, std::span<const float> x, std::span<const float> scales);

}  // namespace ulpgate::quant
