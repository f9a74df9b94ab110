// One MMA step of an accumulator model (model.hpp steps 1-5), in exact double arithmetic: every
// product of two fp8 values is exact, a term scaled by 2^(frac_bits - E) is below 2^(frac_bits+2)
// and its alignment is an integer, so the aligned sum is an exact int64 and the step's value an
// exact double until the final rounding. Internal: shared by mma_step and the GEMM replay.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "reference/gemm/detail.hpp"
#include "reference/gemm/model.hpp"

namespace ulpgate::gemm::detail {

constexpr int kMaxStep = 64;
constexpr int kNothing = -20000;  // a maximum exponent below this: no nonzero term (zeros carry kZero)

// The terms of one step: products (exact value, exponent pe), then room for c.
struct StepTerms {
  std::array<double, kMaxStep + 1> value;
  std::array<int, kMaxStep + 1> exponent;

  void product(int i, const CodeTable& ta, uint8_t a, const CodeTable& tb, uint8_t b) {
    value[i] = ta.value[a] * tb.value[b];
    exponent[i] = ta.exponent[a] + tb.exponent[b];
  }
  void scale(int i, int x) {  // a power-of-two scale 2^x inside the MMA: exact
    value[i] *= pow2(x);
    exponent[i] += x;
  }
};

template <Align A>
inline int64_t aligned(double x) {  // x = t / u, |x| < 2^40
  const auto t = int64_t(x);        // toward zero
  if constexpr (A == Align::toward_zero) return t;
  if constexpr (A == Align::down) return t - int64_t(double(t) > x);
  return double(t) == x ? t : x < 0 ? -((-t) | 1) : (t | 1);  // round to odd
}

struct AlignedSum {
  double sum;    // exact
  int nonzero;   // nonzero terms
  int unit_exp;  // u = 2^unit_exp
};

// Steps 3-5 up to the exact sum: E = max(exponents, e_floor), terms aligned to 2^(E - frac_bits).
template <Align A>
inline AlignedSum align_sum(const double* v, const int* e, int n, int frac_bits, int e_floor) {
  int top = e_floor;
  for (int i = 0; i < n; ++i) top = std::max(top, e[i]);
  if (top < kNothing) return {0, 0, 0};
  const double scale = pow2(frac_bits - top);
  int64_t sum = 0;
  int nonzero = 0;
  for (int i = 0; i < n; ++i) {
    sum += aligned<A>(v[i] * scale);
    nonzero += v[i] != 0;
  }
  return {double(sum) * pow2(top - frac_bits), nonzero, top - frac_bits};
}

// Step 5's rounding to `bits` significant bits, never finer than fp32's 2^-149; beyond fp32's
// range Inf (RNE) or the largest finite value (RZ). `error` bounds |value - v|.
struct RoundedSum {
  float value;
  double error;
};
inline RoundedSum round_sum(double v, int bits, Rounding r) {
  if (v == 0) return {0.0f, 0.0};
  const int q = std::max(exponent_of(v) - bits + 1, -149);
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

inline int accumulator_exponent(float c) {  // step 2: ec = max(floor(log2 |c|), -126)
  return c != 0 ? std::max(exponent_of(c), -126) : CodeTable::kZero;
}

// One step over terms.value/exponent[0, count) (products) and c; adds the step's error bound to
// *bound when given.
template <Align A>
inline float step_as(const MmaStep& s, StepTerms& t, int count, float c, double* bound) {
  int n = count;
  double err = 0;
  if (s.groups > 1) {  // each group of products aligned on its own; the group sums replace them
    std::array<double, kMaxStep> gv;
    std::array<int, kMaxStep> ge;
    for (int g = 0; g < s.groups; ++g) {
      int len = 0;
      for (int i = g; i < count; i += s.groups) gv[len] = t.value[i], ge[len++] = t.exponent[i];
      const AlignedSum a = align_sum<A>(gv.data(), ge.data(), len, s.frac_bits, s.e_floor);
      t.value[g] = a.sum;
      t.exponent[g] = a.sum != 0 ? exponent_of(a.sum) : CodeTable::kZero;
      err += a.nonzero * pow2(a.unit_exp);
    }
    n = s.groups;
  }
  t.value[n] = c;
  t.exponent[n] = accumulator_exponent(c);
  const AlignedSum a = align_sum<A>(t.value.data(), t.exponent.data(), n + 1, s.frac_bits, s.e_floor);
  const RoundedSum r = round_sum(a.sum, s.sum_bits, s.sum_rounding);
  if (bound) *bound += err + a.nonzero * pow2(a.unit_exp) + r.error;
  return r.value;
}

inline float run_step(const MmaStep& s, StepTerms& t, int count, float c, double* bound) {
  switch (s.align) {
    case Align::toward_zero: return step_as<Align::toward_zero>(s, t, count, c, bound);
    case Align::down: return step_as<Align::down>(s, t, count, c, bound);
    case Align::odd: break;
  }
  return step_as<Align::odd>(s, t, count, c, bound);
}

}  // namespace ulpgate::gemm::detail
