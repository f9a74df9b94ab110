// One element's steps of the quantization reference (spec/quant.md): the clamp under a profile's
// NaN policy, and the code of the exact quotient x / s rounded once. constexpr and free of the
// standard library's math calls, so that the device reference (kernels/quant/reference_kernels.hpp,
// compiled with relaxed constexpr) runs this same source as quant.cpp: the device and the host
// cannot disagree on an element's arithmetic, only on what the pipeline around it feeds it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>

#include "reference/formats/formats.hpp"

namespace ulpgate::quant::element {

constexpr bool is_nan(float x) { return x != x; }
constexpr bool is_finite(float x) { return (std::bit_cast<uint32_t>(x) & 0x7F800000u) != 0x7F800000u; }

// fmaxf / fminf semantics (a NaN operand is ignored). Signed zeros never meet here (amax of |x|,
// clamp against +-max), so the order between -0 and +0 does not matter.
constexpr float max_ignoring_nan(float a, float b) { return is_nan(b) ? a : is_nan(a) || a < b ? b : a; }
constexpr float min_ignoring_nan(float a, float b) { return is_nan(b) ? a : is_nan(a) || b < a ? b : a; }

// How q is clamped to +-max before the cast (the profile's clamp and NaN policy).
enum class ClampRule : uint8_t {
  none,         // the cast's overflow policy decides
  nan_to_min,   // fminf(fmaxf(q, -max), max): NaN -> -max
  finite_only,  // NaN and Inf pass through to the cast
  nan_to_max,   // fmaxf(-max, fminf(q, max)): NaN -> +max
};

template <ClampRule R>
constexpr float clamp(float q, float max) {
  if constexpr (R == ClampRule::nan_to_min) return min_ignoring_nan(max_ignoring_nan(q, -max), max);
  if constexpr (R == ClampRule::nan_to_max) return max_ignoring_nan(min_ignoring_nan(q, max), -max);
  if constexpr (R == ClampRule::finite_only) return is_finite(q) ? std::clamp(q, -max, max) : q;
  return q;
}

constexpr float clamp(ClampRule r, float q, float max) {
  switch (r) {
    case ClampRule::none: return clamp<ClampRule::none>(q, max);
    case ClampRule::nan_to_min: return clamp<ClampRule::nan_to_min>(q, max);
    case ClampRule::nan_to_max: return clamp<ClampRule::nan_to_max>(q, max);
    case ClampRule::finite_only: break;
  }
  return clamp<ClampRule::finite_only>(q, max);
}

// The value of magnitude code c of an 8-bit format with subnormals, for c <= max_mag + 1: the codes'
// values, then one overflow point max + ulp(max) (max and its neighbour share a binade).
template <Format F>
constexpr double grid_value(uint32_t c) {
  constexpr FormatInfo fi = info_of<F>();
  const uint32_t e = c >> fi.mbits, m = c & ((1u << fi.mbits) - 1);
  const int exp = e == 0 ? 1 - fi.bias - fi.mbits : int(e) - fi.bias - fi.mbits;
  const double unit = std::bit_cast<double>(uint64_t(1023 + exp) << 52);  // 2^exp, a normal double
  return double(e == 0 ? m : m + (1u << fi.mbits)) * unit;
}

// |x| by its sign bit, for fp32 and fp64.
template <class T>
constexpr T magnitude(T x) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  return std::bit_cast<T>(std::bit_cast<Bits>(x) & ~(Bits(1) << (sizeof(T) * 8 - 1)));
}

// The exact quotient x / s (x finite, s > 0 finite) rounded once with RNE on the format's grid,
// clamped to +-clamp_max first when clamp_max > 0: a grid value with x's sign, or the overflow
// point past max (which the cast then maps by its overflow policy). The quotient in T (fp32 for
// fp32 operands: no fp64 division on a device) has its RNE code at most one grid step from the
// exact answer (fp32 has 24 bits, an fp8 binade 8 steps); the exact comparisons with s times the
// two neighbouring midpoints settle it (each product is exact in fp64: an fp32 scale times a
// midpoint of a few bits).
template <Format F, class T>
constexpr double ideal_value(T x, T s, double clamp_max) {
  constexpr uint32_t last = info_of<F>().max_mag + 1;  // the overflow point past max
  const double ax = double(magnitude(x)), sd = double(s);
  double v;
  if (clamp_max > 0 && ax >= sd * clamp_max) {
    v = clamp_max;
  } else {
    constexpr FastRneCast<F> nearest(Overflow::satfinite);
    uint32_t i = nearest(float(magnitude(x) / s));  // a magnitude code <= max_mag
    const auto mid = [](uint32_t a) { return (grid_value<F>(a) + grid_value<F>(a + 1)) / 2; };
    if (i < last && (ax > sd * mid(i) || (ax == sd * mid(i) && (i & 1)))) ++i;
    else if (i > 0 && (ax < sd * mid(i - 1) || (ax == sd * mid(i - 1) && (i & 1)))) --i;
    v = grid_value<F>(i);
  }
  return std::bit_cast<uint64_t>(double(x)) >> 63 ? -v : v;
}

// Its code under a fast-RNE cast (every profile's): the value is exact in fp32.
template <Format F, class T>
constexpr uint32_t ideal_code(T x, T s, double clamp_max, const FastRneCast<F>& cast) {
  return cast(float(ideal_value<F>(x, s, clamp_max)));
}

}  // namespace ulpgate::quant::element
