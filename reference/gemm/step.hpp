// One MMA step of an accumulator model (model.hpp steps 1-5), in exact double arithmetic: every
// product of two fp8 values (times power-of-two scales) is exact, a term scaled by
// 2^(frac_bits - E) is below 2^(frac_bits + 2) and its alignment an integer, so the aligned sum is
// exact in an integer and the step's value an exact double until the final rounding.
// Internal: shared by mma_step and the GEMM replay.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "reference/gemm/detail.hpp"
#include "reference/gemm/model.hpp"

namespace ulpgate::gemm::detail {

constexpr int kMaxStep = 64;
constexpr int kNothing = -10000;  // a maximum exponent below this: no nonzero term (zeros carry kZero)

// Operand rows decoded for the steps: exact values and exponents max(floor(log2 |v|), emin), with
// power-of-two scales inside the MMA folded in (2^x a has exponent ea + x); int16 exponents let the
// maximum of a step vectorize (kZero + kZero still fits).
struct DecodedRows {
  std::vector<double> value;
  std::vector<int16_t> exponent;
  int64_t k = 0;
  const double* v(int64_t row) const { return value.data() + row * k; }
  const int16_t* e(int64_t row) const { return exponent.data() + row * k; }
};
// Rows [r0, r1) of [rows, k] codes; scale_exp(r, k), when given, is the exponent of a power-of-two
// scale of element (r, k) applied inside the MMA.
template <class ScaleExp>
void decode_rows(DecodedRows& out, const CodeTable& t, const uint8_t* codes, int64_t r0, int64_t r1, int64_t k,
                 ScaleExp scale_exp, Exponents view = Exponents::fp8) {
  const std::array<int, 256>& exponents = t.exponents(view);
  out.k = k;
  out.value.resize(size_t((r1 - r0) * k));
  out.exponent.resize(size_t((r1 - r0) * k));
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const uint8_t c = codes[r * k + i];
      const int x = scale_exp(r, i);
      const size_t at = size_t((r - r0) * k + i);
      out.value[at] = t.value[c] * pow2(x);
      out.exponent[at] = int16_t(exponents[c] + x);
    }
}

// What the step arrays hold: 1 to kMaxStep products, 1 to kMaxStep groups (more than one only
// for a late join, whose dot keeps at most 40 fraction bits: exact in a double).
inline bool valid(const MmaStep& s) {
  return s.k >= 1 && s.k <= kMaxStep && s.groups >= 1 && s.groups <= kMaxStep && s.k_run >= 0 && (!s.k_run || s.k % s.k_run == 0) &&
         (s.join == Join::late ? s.late_bits >= s.frac_bits && s.late_bits <= 40 : s.groups == 1);
}

// The products of one step: a[i] * b[i], i in [0, count), from decoded rows.
struct Products {
  const double *av, *bv;
  const int16_t *ae, *be;
  int count;
};

template <Align A, class I>
inline I aligned(double x) {  // x = t / u, |x| below 2^(frac_bits + 2)
  const auto t = I(x);         // toward zero
  if constexpr (A == Align::toward_zero) return t;
  if constexpr (A == Align::down) return t - I(double(t) > x);
  return double(t) == x ? t : x < 0 ? I(-((-t) | 1)) : I(t | 1);  // round to odd
}

struct AlignedSum {
  double sum;    // exact
  int nonzero;   // nonzero terms (counted when a bound is asked for)
  int unit_exp;  // u = 2^unit_exp
  bool any;      // some term is nonzero (else sum = 0 and unit_exp = 0)
};

// Steps 3-5 up to the exact sum, over the products i = first, first + stride, ... and one extra
// term x with exponent ex (c, or nothing with kZero): E = max(exponents, e_floor), every term
// aligned to 2^(E - frac_bits). I holds the aligned sum: int32 when frac_bits <= 22 (33 terms
// below 2^24 each), so that the sm90 loop vectorizes.
template <Align A, class I>
inline AlignedSum align_sum(const Products& p, int first, int stride, double x, int ex, int frac_bits, int e_floor,
                            bool count_nonzero) {
  int16_t top16 = std::numeric_limits<int16_t>::min();
  for (int i = first; i < p.count; i += stride) top16 = std::max(top16, int16_t(p.ae[i] + p.be[i]));
  const int top = std::max({int(top16), ex, e_floor});
  if (top < kNothing) return {0, 0, 0, false};
  const double scale = pow2(frac_bits - top);
  I sum = aligned<A, I>(x * scale);
  for (int i = first; i < p.count; i += stride) sum += aligned<A, I>(p.av[i] * p.bv[i] * scale);
  int nonzero = x != 0;
  if (count_nonzero)
    for (int i = first; i < p.count; i += stride) nonzero += p.av[i] * p.bv[i] != 0;
  return {double(sum) * pow2(top - frac_bits), nonzero, top - frac_bits, true};
}

// Step 5's rounding to `bits` significant bits of an exponent of at least -126 (model.hpp); beyond
// fp32's range Inf (RNE) or the largest finite value (RZ). `error` bounds |value - v|.
struct RoundedSum {
  float value;
  double error;
};
inline RoundedSum round_sum(double v, int bits, Rounding r) {
  if (v == 0) return {0.0f, 0.0};
  const int q = std::max(exponent_of(v), -126) - bits + 1;
  const double x = v * pow2(-q);
  auto t = int64_t(x);
  if (r == Rounding::rne) {
    const double frac = x - double(t);  // exact
    if (std::fabs(frac) > 0.5 || (std::fabs(frac) == 0.5 && (t & 1))) t += frac > 0 ? 1 : -1;
  }
  const double rounded = double(t) * pow2(q);
  if (std::fabs(rounded) >= 0x1p128) {
    const float limit = r == Rounding::rne ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::max();
    return {std::copysign(limit, float(v)), std::numeric_limits<double>::infinity()};
  }
  return {float(rounded), r == Rounding::rne ? pow2(q - 1) : pow2(q)};
}

inline int exponent_or_zero(double v, int floor) {  // max(floor(log2 |v|), floor), kZero for 0
  return v != 0 ? std::max(exponent_of(v), floor) : CodeTable::kZero;
}

// Floors x to a multiple of 2^q (exact: x is an exact double, the result has fewer bits).
inline double floor_to(double x, int q) { return std::floor(x * pow2(-q)) * pow2(q); }

// A fused step (model.hpp steps 1-5): c is one more term of the aligned sum.
template <Align A, class I>
inline float fused_step(const MmaStep& s, const Products& p, float c, double* bound) {
  const AlignedSum a = align_sum<A, I>(p, 0, 1, c, exponent_or_zero(c, -126), s.frac_bits, s.e_floor, bound);
  const RoundedSum r = round_sum(a.sum, s.sum_bits, s.sum_rounding);
  if (bound) *bound += a.nonzero * pow2(a.unit_exp) + r.error;
  return r.value;
}

// A late step (model.hpp a-d): the groups' sums, their floor-aligned dot, then c.
template <Align A>
inline float late_step(const MmaStep& s, const Products& p, float c, double* bound) {
  const int f = s.frac_bits, late = s.late_bits;
  std::array<AlignedSum, kMaxStep> parts;
  int e_dot = kNothing - 1;
  double err = 0;
  for (int g = 0; g < s.groups; ++g) {  // a. each group on its own maximum exponent
    parts[size_t(g)] = align_sum<A, int64_t>(p, g, s.groups, 0, CodeTable::kZero, f, s.e_floor, bound);
    if (parts[size_t(g)].any) e_dot = std::max(e_dot, parts[size_t(g)].unit_exp + f);
    err += parts[size_t(g)].nonzero * pow2(parts[size_t(g)].unit_exp);
  }
  double dot = 0;
  if (e_dot >= kNothing)  // b. the groups' sums floored onto the largest group's grid
    for (int g = 0; g < s.groups; ++g) {
      dot += floor_to(parts[size_t(g)].sum, e_dot - f);
      if (parts[size_t(g)].sum != 0) err += pow2(e_dot - f);
    }
  const int ec = c != 0 ? std::max(exponent_of(c), -126) : -126;  // c.
  const int e_max = std::max(e_dot, ec);
  const double dot_c = floor_to(dot, e_max - late - 1);
  const double c_al = ec < e_max - f - 1 ? 0.0 : floor_to(double(c), e_max - f);
  double v = dot_c + c_al;
  err += (dot != 0 ? pow2(e_max - late - 1) : 0) + (c != 0 ? pow2(e_max - f) : 0);
  if (v != 0) {  // d. late_bits fraction bits of its own exponent, then the step's rounding
    const int q = std::max(exponent_of(v), -126) - late;
    v = floor_to(v, q);
    err += pow2(q);
  }
  const RoundedSum r = round_sum(v, s.sum_bits, s.sum_rounding);
  if (bound) *bound += err + r.error;
  return r.value;
}

// One step: c + the products; adds the step's error bound to *bound when given.
template <Align A, class I>
inline float step_as(const MmaStep& s, const Products& p, float c, double* bound) {
  return s.join == Join::late ? late_step<A>(s, p, c, bound) : fused_step<A, I>(s, p, c, bound);
}

template <Align A>
inline float step_aligned(const MmaStep& s, const Products& p, float c, double* bound) {
  return s.frac_bits <= 22 ? step_as<A, int32_t>(s, p, c, bound) : step_as<A, int64_t>(s, p, c, bound);
}

inline float run_step(const MmaStep& s, const Products& p, float c, double* bound) {
  switch (s.align) {
    case Align::toward_zero: return step_aligned<Align::toward_zero>(s, p, c, bound);
    case Align::down: return step_aligned<Align::down>(s, p, c, bound);
    case Align::odd: break;
  }
  return step_aligned<Align::odd>(s, p, c, bound);
}

// The steps of a chain over the products p (K ascending): fn(step's products) per step, in order.
// Contiguous K (a short last step: zero padding), or with k_run > 0 each 2k-chunk's positions in
// runs of k_run taken alternately by its two steps (the products of a step are a set: their order
// inside it is immaterial).
template <class Fn>
void for_each_step(const MmaStep& s, const Products& p, Fn fn) {
  if (s.k_run == 0) {
    for (int at = 0; at < p.count; at += s.k) fn(Products{p.av + at, p.bv + at, p.ae + at, p.be + at, std::min(s.k, p.count - at)});
    return;
  }
  std::array<double, kMaxStep> av, bv;
  std::array<int16_t, kMaxStep> ae, be;
  for (int chunk = 0; chunk < p.count; chunk += 2 * s.k)
    for (int half = 0; half < 2; ++half) {
      int n = 0;
      for (int i = chunk; i < std::min(chunk + 2 * s.k, p.count); ++i)
        if (((i - chunk) / s.k_run) % 2 == half) av[size_t(n)] = p.av[i], bv[size_t(n)] = p.bv[i], ae[size_t(n)] = p.ae[i], be[size_t(n++)] = p.be[i];
      if (n) fn(Products{av.data(), bv.data(), ae.data(), be.data(), n});
    }
}

// Whether a step is IEEE fmaf(a, b, c) by the argument at kFma (model.cpp): one product, round-to-odd
// alignment with at least 32 fraction bits, no floor, RNE to fp32's 24 bits. The replay then calls
// std::fma (a step of one product costs more than the product); tests hold the two equal.
inline bool is_fmaf(const MmaStep& s) {
  return s.k == 1 && s.groups == 1 && s.join == Join::fused && s.exponents == Exponents::fp8 && !s.k_run && s.align == Align::odd &&
         s.frac_bits >= 32 && s.e_floor == kNoFloor && s.sum_bits == 24 && s.sum_rounding == Rounding::rne;
}

}  // namespace ulpgate::gemm::detail
