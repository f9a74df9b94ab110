// quant.silu-mul (issue 29): y = SiLU(gate) * up over rows [gate | up] of 2K elements, then
// per-token-group FP8 quantization of y by the quant core (any group scale layout: quantize_profile
// on y with the silu-mul spec, whose groups are quant.group's). A fused op is a composition: the
// activation's fp32 steps here, the quantizer's in quant.cpp.
//
// SiLU needs exp. The profile-exact y takes the correctly rounded fp32 exp; a kernel's exp is
// within the profile's exp_ulps of e^x, and everything after it is IEEE fp32, each step monotone
// in its input, so its y is one of the few values admissible_y lists (one per exp value in the
// window). The ideal y = g * u / (1 + e^-g) is computed in extended precision and rounded once.
#pragma once

#include <span>
#include <vector>

#include "reference/quant/quant.hpp"

namespace ulpgate::quant {

// e^x rounded once to fp32 (RNE; subnormal, 0 and Inf where the exact value goes).
float exp_correctly_rounded(float x);

// The profile's steps for one element with the exp value e = exp(-g):
// y = fl(fl(g * fl(1 / fl(1 + e))) * u).
float silu_mul_at(float g, float u, float e);

// The activation over [M, 2K] input values: [M * K] fp32 y with the correctly rounded exp.
std::vector<float> silu_mul_values(const Spec& spec, std::span<const float> x);

// Every fp32 y a kernel with the profile's exp error may give for (g, u), ascending; one value
// where exp is exact or y does not depend on it.
std::vector<float> admissible_y(const Spec& spec, float g, float u);

// The exact y = g * u / (1 + e^-g) to double precision (NaN for NaN inputs, the IEEE limits for
// infinite ones: what the fp32 steps give there).
double silu_mul_exact(float g, float u);

// The ideal codes: the exact y quantized once with the profile's scales (quant::ideal_code).
std::vector<uint8_t> silu_mul_ideal(const Spec& spec, std::span<const float> x, std::span<const float> scales);

}  // namespace ulpgate::quant
