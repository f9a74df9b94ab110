// One element's steps of the quantization reference (spec/quant.md): the clamp under a profile's
// NaN policy, and the code of the exact quotient x / s rounded once. constexpr and free of the
// standard library's math calls, so that the device reference (kernels/quant/reference_kernels.hpp,
// compiled with relaxed constexpr) runs this same source as quant.cpp: the device and the host
// cannot disagree on an element's arithmetic, only on what the pipeline around it feeds it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

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

// The rule as data, in selects rather than branches: a device inlines it for every element, and a
// branch on r would have the compiler copy all that follows into each rule's arm. The same values as
// clamp<R>: a NaN fails both comparisons, so `inside` keeps it; an Inf lands on +-max.
constexpr float clamp(ClampRule r, float q, float max) {
  const float inside = q < -max ? -max : q > max ? max : q;
  const float clamped = is_nan(q) ? (r == ClampRule::nan_to_min ? -max : max) : inside;
  const bool passes = r == ClampRule::none || (r == ClampRule::finite_only && !is_finite(q));
  return passes ? q : clamped;
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

// The exact quotient x / s (x finite, s > 0 finite) rounded once with RNE on the format's grid,
// clamped to +-clamp_max first when clamp_max > 0: a grid value with x's sign, or the overflow
// point past max (which the cast then maps by its overflow policy). The fp32 quotient's RNE code is
// at most one grid step from the exact answer (fp32 has 24 bits, an fp8 binade 8 steps); the
// exact comparisons with s times the two neighbouring midpoints settle it (each product is exact
// in fp64: an fp32 scale times a midpoint of a few bits).
template <Format F>
constexpr double ideal_value(double x, double s, double clamp_max) {
  constexpr uint32_t last = info_of<F>().max_mag + 1;  // the overflow point past max
  const double ax = std::bit_cast<double>(std::bit_cast<uint64_t>(x) & ~(uint64_t(1) << 63));
  double v;
  if (clamp_max > 0 && ax >= s * clamp_max) {
    v = clamp_max;
  } else {
    constexpr FastRneCast<F> nearest(Overflow::satfinite);
    uint32_t i = nearest(float(ax / s));  // a magnitude code <= max_mag
    const auto mid = [](uint32_t a) { return (grid_value<F>(a) + grid_value<F>(a + 1)) / 2; };
    if (i < last && (ax > s * mid(i) || (ax == s * mid(i) && (i & 1)))) ++i;
    else if (i > 0 && (ax < s * mid(i - 1) || (ax == s * mid(i - 1) && (i & 1)))) --i;
    v = grid_value<F>(i);
  }
  return std::bit_cast<uint64_t>(x) >> 63 ? -v : v;
}

// Its code under a fast-RNE cast (every profile's): the value is exact in fp32.
template <Format F>
constexpr uint32_t ideal_code(double x, double s, double clamp_max, const FastRneCast<F>& cast) {
  return cast(float(ideal_value<F>(x, s, clamp_max)));
}

// ---- fp32 operands: the fp32 quotient's cast where it is already exact -------------------------

// ideal_value for fp32 operands, out of line: the few elements that need it would otherwise pay
// for it in every element's predicated code on a device.
template <Format F>
[[gnu::noinline]] constexpr double ideal_value_out_of_line(float x, float s, double clamp_max) {
  return ideal_value<F>(x, s, clamp_max);
}

// Whether q s = ax exactly (the product of two fp32 values is exact in fp64). Out of line, as
// ideal_value_out_of_line.
[[gnu::noinline]] constexpr bool divides_exactly(float q, float s, float ax) { return double(q) * double(s) == double(ax); }

// The format's largest finite magnitude.
template <Format F>
constexpr float grid_max() {
  return float(grid_value<F>(info_of<F>().max_mag));
}

// Whether aq (>= 0, below grid_max) is a midpoint of the format's grid. A midpoint has the
// half-step bit alone below the kept bits (normal range), or is an odd multiple of half the
// subnormal quantum (one fp32 addition rounds to that grid).
template <Format F>
constexpr bool is_grid_midpoint(float aq) {
  constexpr FormatInfo fi = info_of<F>();
  constexpr int drop = 23 - fi.mbits;
  constexpr uint32_t half = 1u << (drop - 1), min_normal = uint32_t(127 + fi.emin) << 23;
  constexpr float half_quantum_magic = std::bit_cast<float>(uint32_t(127 + fi.emin - fi.mbits - 1 + 23) << 23);
  const uint32_t a = std::bit_cast<uint32_t>(aq);
  const float r = aq + half_quantum_magic;  // aq to a multiple of half the quantum; exact difference below
  const bool subnormal_midpoint = (r - half_quantum_magic == aq) & ((std::bit_cast<uint32_t>(r) & 1u) != 0);
  // Both computed and selected: a device takes this for every element, where a branch costs more.
  return a >= min_normal ? (a & ((1u << drop) - 1)) == half : subnormal_midpoint;
}

// Whether q = fl32(ax / s) (ax = |x|) has the exact quotient's code, so that the cast of q is the
// ideal code: q below the format's max and below the clamp (no clamp or overflow decides), and q
// not a grid midpoint unless it is the exact quotient. Midpoints are fp32 values and rounding is
// monotonic, so a q that is not one lies on the same side of every midpoint as the exact quotient;
// a q that is one and exact is a tie, which the cast breaks to even as RNE does.
template <Format F>
constexpr bool rounds_as_exact(float ax, float s, float q, float clamp_max) {
  const float aq = std::bit_cast<float>(std::bit_cast<uint32_t>(q) & 0x7FFFFFFFu);
  if (!(aq < grid_max<F>() && (clamp_max <= 0 || aq < clamp_max))) return false;  // NaN too
  return !is_grid_midpoint<F>(aq) || divides_exactly(aq, s, ax);
}

// The value whose cast is the ideal code, from fp32 operands and their fp32 quotient
// q = fl32(x / s): q itself for most elements; the rest take ideal_value's exact comparisons.
template <Format F>
constexpr float ideal_value_of_quotient(float x, float s, float q, double clamp_max) {
  if (rounds_as_exact<F>(std::bit_cast<float>(std::bit_cast<uint32_t>(x) & 0x7FFFFFFFu), s, q, float(clamp_max)))
    return q;
  return float(ideal_value_out_of_line<F>(x, s, clamp_max));
}
template <Format F>
constexpr uint32_t ideal_code(float x, float s, double clamp_max, const FastRneCast<F>& cast) {
  return cast(ideal_value_of_quotient<F>(x, s, x / s, clamp_max));
}

}  // namespace ulpgate::quant::element
