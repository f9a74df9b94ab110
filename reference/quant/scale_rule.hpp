// A tile's scale and factor from its amax (spec/quant.md): the profile's and the case's values that
// decide them, as plain data a device kernel can take, and constexpr steps free of the standard
// library's math calls. quant.cpp's group_scale / group_factor and the device reference
// (kernels/quant/reference_kernels.hpp) run this one source, as they run element.hpp's.
// The one step left to the host: the vllm-triton row's exp2(ceil(log2 s)) (libm's log2; R6).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "reference/formats/formats.hpp"
#include "reference/quant/element.hpp"
#include "reference/quant/profile.hpp"

namespace ulpgate::quant::element {

constexpr bool is_inf(float x) { return (std::bit_cast<uint32_t>(x) & 0x7FFFFFFFu) == 0x7F800000u; }
inline constexpr float kInf = std::bit_cast<float>(0x7F800000u);
inline constexpr float kQuietNan = std::bit_cast<float>(0x7FC00000u);
inline constexpr float kFloatMax = std::bit_cast<float>(0x7F7FFFFFu);

// The amax a max over |x|'s fp32 bits stands for: a NaN above Inf's bits (kept under the
// propagate policy), else the float of those bits.
constexpr float amax_of_bits(uint32_t bits) { return bits > 0x7F800000u ? kQuietNan : std::bit_cast<float>(bits); }

// 2^e, exactly: fp32 for -149 <= e <= 127, fp64 for -1022 <= e <= 1023.
constexpr float pow2f(int e) {
  return e >= -126 ? std::bit_cast<float>(uint32_t(e + 127) << 23) : std::bit_cast<float>(1u << (e + 149));
}
constexpr double pow2d(int e) { return std::bit_cast<double>(uint64_t(e + 1023) << 52); }

// floor(log2 |x|) of a finite nonzero float, subnormals included (std::ilogb).
constexpr int ilogb_finite(float x) {
  const uint32_t b = std::bit_cast<uint32_t>(x) & 0x7FFFFFFFu;
  return b >= 0x00800000u ? int(b >> 23) - 127 : 31 - std::countl_zero(b) - 149;
}

// TransformerEngine's compute_scale_from_amax: fl(fp8_max / amax), but 1 where amax is 0, Inf
// or NaN, and FLT_MAX where the quotient overflows.
constexpr float ratio(float fp8_max, float amax) {
  if (amax == 0 || !is_finite(amax)) return 1.0f;
  const float m = fp8_max / amax;
  return is_inf(m) ? kFloatMax : m;
}

// ue8m0 by exponent bits: exponent + 1 if the mantissa is nonzero (vLLM, DeepGEMM, sglang).
constexpr float pow2_by_bits(float s, bool exp_clamp) {
  if (is_nan(s)) return s;
  const uint32_t bits = std::bit_cast<uint32_t>(s) & 0x7FFFFFFFu;
  int e = int(bits >> 23) + ((bits & 0x7FFFFFu) != 0 ? 1 : 0);
  if (exp_clamp) e = std::clamp(e, 1, 254);
  if (e >= 255) return kInf;          // stores as the ue8m0 NaN byte 0xFF
  if (e == 0) return pow2f(-127);     // ue8m0 code 0 means 2^-127
  return std::bit_cast<float>(uint32_t(e) << 23);
}

// The value of a ue8m0 code: 2^(code - 127), 0xFF NaN.
constexpr float ue8m0_value(uint32_t code) { return code == 0xFF ? kQuietNan : pow2f(int(code) - 127); }
constexpr float ue8m0_rounded(float t, Rounding r) {
  return ue8m0_value(encode<Format::ue8m0>(t, Conversion{Format::ue8m0, Overflow::satfinite, r}));
}

// The least e with amax <= max * 2^e, exactly (max * 2^e is exact in fp64); amax finite, > 0.
constexpr int ceil_log2_ratio(float amax, float max) {
  int e = ilogb_finite(amax) - ilogb_finite(max);
  while (double(amax) > double(max) * pow2d(e)) ++e;
  while (double(amax) <= double(max) * pow2d(e - 1)) --e;
  return e;
}

// What each element of a group is divided by or multiplied with in the profile's arithmetic.
struct Factor {
  bool divide;
  float v;
  constexpr float apply(float x) const { return divide ? x / v : x * v; }
};

// The values a tile's scale and factor depend on: quant::scale_rule(spec) fills it from the
// profile row and the case.
struct ScaleRule {
  float max = 0;                 // the fp8 max (clamp and divisor)
  float amax_floor = 0, scale_floor = 0, fp32_scale_floor = 0, amax_cap = 0;
  float static_scale = 0;        // != 0: the case's given scale
  bool static_inverse = false;   // TransformerEngine's static form: scale_inv = fl(1 / fl(1 / S))
  bool pow2 = false;             // the scale rounded to a power of two (ue8m0)
  bool exp_clamp = false;
  bool divides = false;          // every factor divides (power-of-two or divide profiles)
  ScaleOp scale_op = ScaleOp::divide;
  Pow2Rule pow2_rule = Pow2Rule::exponent_bits;
  QuantOp quant_op = QuantOp::divide;
  MxRule mx = MxRule::none;      // != none: an MX block's shared scale
  int mx_emax = 8, mx_mbits = 3; // the element format's, for the MX rules

  // The scale; `rounds` is set where it is still to be rounded to a power of two (pow2_rule).
  constexpr float scale_unrounded(float amax, bool& rounds) const {
    rounds = false;
    if (static_inverse) return 1.0f / (1.0f / static_scale);
    if (static_scale != 0) return static_scale;
    if (mx != MxRule::none) return mx_scale(amax);
    if (is_nan(amax)) return amax;
    if (amax_cap > 0) amax = min_ignoring_nan(amax, amax_cap);
    const float a = amax_floor > 0 ? max_ignoring_nan(amax, amax_floor) : amax;
    if (scale_op == ScaleOp::inverse_ratio) return 1.0f / ratio(max, a);
    float s = scale_op == ScaleOp::divide ? a / max : a * (1.0f / max);
    if (fp32_scale_floor > 0) s = max_ignoring_nan(s, fp32_scale_floor);
    if (!pow2) return s;
    rounds = true;
    return scale_floor > 0 ? max_ignoring_nan(s, scale_floor) : s;
  }
  // The scale under the exponent-bits rule (a caller with the log2 rule rounds scale_unrounded).
  constexpr float scale(float amax) const {
    bool rounds = false;
    const float s = scale_unrounded(amax, rounds);
    return rounds ? pow2_by_bits(s, exp_clamp) : s;
  }
  constexpr Factor factor(float amax, float s) const {
    if (divides) return {true, s};  // with power-of-two scales x / 2^e is exact
    if (quant_op == QuantOp::reciprocal) return {false, 1.0f / s};
    if (quant_op == QuantOp::ratio)
      return {false, static_scale != 0 ? 1.0f / static_scale : ratio(max, max_ignoring_nan(amax, amax_floor))};
    return {false, max / (amax_floor > 0 ? max_ignoring_nan(amax, amax_floor) : amax)};
  }

  // MX shared scale X of a block with amax (spec/formats.md, MXFP8).
  constexpr float mx_scale(float amax) const {
    if (is_nan(amax)) return amax;
    if (amax_floor > 0) amax = max_ignoring_nan(amax, amax_floor);  // a kernel's floor against log2(0)
    if (mx == MxRule::rceil) return ue8m0_rounded(amax * (1.0f / max), Rounding::rp);
    if (is_inf(amax)) return kQuietNan;
    if (amax == 0) return pow2f(-127);
    int x = 0;
    switch (mx) {
      case MxRule::ceil: x = ceil_log2_ratio(amax, max); break;
      case MxRule::even: {
        // amax rounded half up at the element's mantissa width; 0 or Inf after it clamp below
        const uint32_t bits = (std::bit_cast<uint32_t>(amax) + (1u << (22 - mx_mbits))) & 0xFF800000u;
        x = bits == 0 ? -1000 : bits >= 0x7F800000u ? 1000 : int(bits >> 23) - 127 - mx_emax;
        break;
      }
      case MxRule::rn: return ue8m0_rounded(amax / max, Rounding::rn);
      default: x = ilogb_finite(amax) - mx_emax; break;  // floor
    }
    return pow2f(std::clamp(x, -127, 127));
  }
};

}  // namespace ulpgate::quant::element
