// The arithmetic of the device GEMM reference (reference_kernels.hpp), written once for CUDA, HIP
// and the host-SIMT emulator: error-free transformations in fp64 for the exact ideal, the rounding
// of a double-double to the output format, the sm90 MMA step's term alignment in fp32, the
// replay's fp32 operations with their error bounds, and the per-element verdict of a comparison.
// Every exactness claim is proved where it is made.
//
// Compile with FMA contraction off (nvcc --fmad=false; g++ in ISO C++ mode contracts nothing): a
// product fused into the next addition would make TwoSum and TwoProduct inexact. The products that
// matter go through mul_rn as well, which no compiler fuses.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "kernels/portable/device.hpp"
#include "reference/formats/formats.hpp"  // encode<F>: the reference's own rounding core
#include "reference/gemm/profile.hpp"     // ScaleRule
#include "reference/two_sum.hpp"

namespace ulpgate::gemm_kernels {

ULPGATE_DEVICE uint64_t bits_of(double x) {
  uint64_t u;
  memcpy(&u, &x, 8);
  return u;
}
ULPGATE_DEVICE double double_of(uint64_t u) {
  double x;
  memcpy(&x, &u, 8);
  return x;
}

ULPGATE_DEVICE double mul_rn(double a, double b) {
#if defined(ULPGATE_GPU)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

ULPGATE_DEVICE int bit_length(uint64_t x) {  // 0 for 0
#if defined(ULPGATE_GPU)
  return 64 - __clzll((long long)x);
#else
  return x ? 64 - __builtin_clzll(x) : 0;
#endif
}

ULPGATE_DEVICE double infinity64() { return double_of(0x7ff0000000000000ull); }
ULPGATE_DEVICE bool is_finite64(double x) { return (bits_of(x) & 0x7ff0000000000000ull) != 0x7ff0000000000000ull; }

// ---- error-free transformations (fp64, round to nearest) -----------------------------------

// two_sum (reference/two_sum.hpp): s = RN(a + b) and the exact rest r.

// The neighbours of a finite double (next_up(0) is the smallest subnormal).
ULPGATE_DEVICE double next_up(double x) {
  if (x == 0) return double_of(1);
  return double_of(x > 0 ? bits_of(x) + 1 : bits_of(x) - 1);
}
ULPGATE_DEVICE double next_down(double x) { return -next_up(-x); }

// a + b rounded to odd at 53 bits: toward zero, then the last bit set if anything was dropped.
// TwoSum gives s = RN(a + b) and the exact rest r; when r and s have opposite signs, s lies above
// |a + b| and the truncation is the next double toward zero (its magnitude's bits minus one; s is
// never 0 then, since a + b = 0 leaves no rest).
ULPGATE_DEVICE double round_odd(double a, double b) {
  const Sum2 x = two_sum(a, b);
  if (x.r == 0) return x.s;
  const bool above = (x.r < 0) == (x.s > 0);
  return double_of((bits_of(x.s) - (above ? 1 : 0)) | 1);
}

// The output formats of a GEMM (bf16, fp32): their storage and the reference's rounding of a
// double to them (gemm detail::round_to: RNE, subnormals, Inf beyond the range, canonical NaN).
template <Format Out>
struct OutFormat {
  static constexpr int kBits = info_of<Out>().bits, kMbits = info_of<Out>().mbits, kEmin = info_of<Out>().emin;
  static constexpr uint32_t kMaxMag = info_of<Out>().max_mag;
  using Storage = typename std::conditional<Out == Format::bf16, uint16_t, uint32_t>::type;
  ULPGATE_DEVICE static uint32_t round(double x) { return encode<Out>(x, Conversion{Out, Overflow::nosat, Rounding::rne}); }
  ULPGATE_DEVICE static double value(uint32_t bits) {
    return Out == Format::bf16 ? double(dev::as_float(bits << 16)) : double(dev::as_float(bits));
  }
  ULPGATE_DEVICE static bool is_nan(uint32_t bits) {
    const uint32_t mag = bits & ((1u << (kBits - 1)) - 1);
    return mag > kMaxMag + 1;
  }
  // Position on the value line (formats.hpp ordinal: +0 and -0 coincide, Inf one past max).
  ULPGATE_DEVICE static int64_t ordinal(uint32_t bits) {
    const uint32_t sign = 1u << (kBits - 1);
    const int64_t mag = bits & (sign - 1);
    return bits & sign ? -mag : mag;
  }
  // formats.cpp ulp_of: 2^(max(floor(log2 |x|), emin) - mbits), the ulp below at a power of two.
  // x is finite; exponents come from the bits (the values here are never fp64 subnormals).
  ULPGATE_DEVICE static double ulp_of(double x) { return double_of(uint64_t(ulp_exponent(x) + 1023) << 52); }
  // 1 / ulp_of(x), exactly (a power of two): a product by it is the quotient, without a division.
  ULPGATE_DEVICE static double inverse_ulp_of(double x) { return double_of(uint64_t(1023 - ulp_exponent(x)) << 52); }
  ULPGATE_DEVICE static int ulp_exponent(double x) {
    const uint64_t u = bits_of(x) & 0x7fffffffffffffffull;
    int e = u == 0 ? kEmin : int(u >> 52) - 1023;
    if (u != 0 && (u & 0xfffffffffffffull) == 0) e -= 1;
    if (e < kEmin) e = kEmin;
    return e - kMbits;
  }
};

// ---- the exact ideal: a sum of terms G s, tracked as hi + lo with a bound on what was dropped ---

// X = sum of G_i s_i with G_i s_i exact as p + e (TwoProduct: p = RN(G s), e = fma(G, s, -p),
// exact because G s is far above fp64's subnormal range: |G s| >= 2^-332 here), tracked as hi + lo:
// hi by TwoSum, and lo's two additions (hi's rest, then e) either by TwoSum, whose rests are
// dropped (kRoundedLow false: X = hi + lo + d with |d| <= the sum of the rests, 0 whenever nothing
// was rounded), or rounded (true: each addition's error is at most 2^-53 of its result, so |d| <=
// 2^-53 times the sum of the results; exact ties then stay undecided). Returns what the term adds
// to that sum (`dropped`); dropped_bound makes it a rigorous bound.
template <bool kRoundedLow = false>
ULPGATE_DEVICE double add_product(double& hi, double& lo, double g, double s) {
  const double p = mul_rn(g, s), e = fma(g, s, -p);
  const Sum2 h = two_sum(hi, p);
  hi = h.s;
  if constexpr (kRoundedLow) {
    const double l1 = lo + h.r, l2 = l1 + e;
    lo = l2;
    return fabs(l1) + fabs(l2);
  } else {
    const Sum2 l1 = two_sum(lo, h.r), l2 = two_sum(l1.s, e);
    lo = l2.s;
    return fabs(l1.r) + fabs(l2.r);
  }
}
// dropped was summed with RN, n <= 2^32 terms, so its exact sum is at most dropped (1 + 2^-21)
// and RN of dropped (1 + 2^-20) is above that; the scaling by 2^-53 is exact (dropped is far
// above fp64's subnormal range where it is not 0).
template <bool kRoundedLow = false>
ULPGATE_DEVICE double dropped_bound(double dropped, double widen) {
  return (kRoundedLow ? dropped * 0x1p-53 : dropped) * (1 + 0x1p-20) + widen;
}

struct ExactAccumulator {
  double hi = 0, lo = 0, dropped = 0;

  ULPGATE_DEVICE void add_product(double g, double s) { dropped += gemm_kernels::add_product(hi, lo, g, s); }
  // A rigorous bound on |X - (hi + lo)|.
  ULPGATE_DEVICE double bound(double widen) const { return dropped_bound(dropped, widen); }
};

// X rounded once: the output bits, the double nearest X, and whether both are decided. X lies in
// [s + t_lo, s + t_hi] (s + t = hi + lo exactly; t_lo, t_hi move t by the bound, stepped outward
// past RN's rounding). Rounding is monotone, so if both ends round alike X rounds the same way.
// The output is RNE of the end's round-to-odd double: RO at 53 bits then RNE at p <= 51 bits is
// RNE of the exact value (bf16 p = 8, fp32 p = 24, subnormal and overflowing results alike, since
// fp64's range covers both formats'). With no bound (exact sums) X = s + t and all is decided.
struct Rounded {
  uint32_t bits;
  double exact;
  bool decided;
};
template <Format Out>
ULPGATE_DEVICE Rounded round_exact(double hi, double lo, double bound) {
  const Sum2 x = two_sum(hi, lo);
  if (bound == 0) return {OutFormat<Out>::round(round_odd(x.s, x.r)), x.s, true};
  const double t_lo = next_down(x.r - bound), t_hi = next_up(x.r + bound);
  const uint32_t b_lo = OutFormat<Out>::round(round_odd(x.s, t_lo)), b_hi = OutFormat<Out>::round(round_odd(x.s, t_hi));
  const double e_lo = x.s + t_lo, e_hi = x.s + t_hi;
  return {b_lo, e_lo, b_lo == b_hi && e_lo == e_hi};
}

// X = t u rounded once, for an integer |t| < 2^62 (the tensor-core ideal's sum of G; u = q s, so
// both TwoProducts below are exact): t is hi + lo in doubles exactly (|lo| <= 2^8).
template <Format Out>
ULPGATE_DEVICE Rounded round_scaled_integer(long long t, double u, double widen) {
  const double hi = double(t);
  ExactAccumulator acc;
  acc.add_product(hi, u);
  acc.add_product(double(t - (long long)hi), u);
  return round_exact<Out>(acc.hi, acc.lo, acc.bound(widen));
}

// ---- the sm90 MMA step in fp32 ----------------------------------------------------------------

// a + b rounded toward zero. CUDA: FADD.RZ. Elsewhere: RN, and one step toward zero when RN
// rounded away from it (TwoSum's rest has the opposite sign of the sum; the sum is not 0 then).
ULPGATE_DEVICE float add_rz(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rz(a, b);
#else
  const float s = a + b, bb = s - a, r = (a - (s - bb)) + (b - bb);
  const bool away = r != 0 && ((r < 0) == (s > 0));
  return away ? dev::as_float(dev::as_uint(s) - 1) : s;
#endif
}

// a b + c rounded toward zero where a b is exact in fp32 (a product of two fp8 values). CUDA:
// FFMA.RZ.
ULPGATE_DEVICE float exact_product_add_rz(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rz(a, b, c);
#else
  return add_rz(a * b, c);
#endif
}

// A step term t truncated toward zero to a multiple of u = 2^(E - f) (model.hpp step 4), given
// c = 2^(E + 23 - f) and |t| < c: c + |t| lies in [c, 2c), where fp32's spacing is exactly u, so
// RZ(c + |t|) = c + floor(|t| / u) u and subtracting c is exact; with c carrying t's sign the
// same holds for negative t (RZ is symmetric). One LOP3 and two FADDs.
ULPGATE_DEVICE float truncate_term(float t, float c) {
  const float signed_c = dev::as_float(dev::as_uint(c) | (dev::as_uint(t) & 0x80000000u));
  return add_rz(t, signed_c) - signed_c;
}

// ---- the replay's fp32 operations with their error bounds (reference/gemm/replay.cpp Bounded) --

// A computed fp32 value and a bound on its distance to the exact value it stands for: the same
// double operations in the same order as the host reference, so the bound is its bits (no FMA
// contraction; the products of a float and a double are exact widenings first).
struct BoundedF {
  float v = 0;
  double err = 0;
};

// The most an RN fp32 operation that returned r can have moved: 2^(max(e, -126) - 24), Inf for a
// non-finite r.
ULPGATE_DEVICE double half_ulp_of(float r) {
  const uint32_t mag = dev::as_uint(r) & 0x7fffffffu, e = mag >> 23;
  if (e == 0xff) return infinity64();
  return double(dev::as_float((e == 0 ? 1u : e) << 23)) * 0x1p-24;
}
ULPGATE_DEVICE BoundedF times(BoundedF x, BoundedF y) {
  const float v = x.v * y.v;
  return {v, double(fabsf(x.v)) * y.err + double(fabsf(y.v)) * x.err + x.err * y.err + half_ulp_of(v)};
}
ULPGATE_DEVICE BoundedF fused(BoundedF x, BoundedF y, BoundedF z) {
  const float v = fmaf(x.v, y.v, z.v);
  return {v, double(fabsf(x.v)) * y.err + double(fabsf(y.v)) * x.err + x.err * y.err + z.err + half_ulp_of(v)};
}
ULPGATE_DEVICE BoundedF plus(BoundedF x, BoundedF y) {
  const float v = x.v + y.v;
  return {v, x.err + y.err + half_ulp_of(v)};
}

// The profile's scale rule: g with its scales into `main` by one FMA (block sums), or without
// one by multiplications (the epilogue of gemm.tensor and gemm.rowwise). Callers that want the
// value only read .v; the bound's arithmetic is then dead code.
ULPGATE_DEVICE BoundedF scaled(gemm::ScaleRule rule, BoundedF g, float sa, float sb, const BoundedF* main) {
  BoundedF x = g, y{sb, 0};
  switch (rule) {
    case gemm::ScaleRule::product_first: y = times({sa, 0}, {sb, 0}); break;
    case gemm::ScaleRule::a_first: x = times(g, {sa, 0}); break;
    case gemm::ScaleRule::b_first: x = times(g, {sb, 0}), y = {sa, 0}; break;
  }
  return main ? fused(x, y, *main) : times(x, y);
}

// One sm90 step's share of the bound (reference/gemm/step.hpp fused_step): u for each nonzero
// term (products and c) plus the truncation of the sum S to sum_bits, 2^(exp(S) + 1 - sum_bits)
// (quantum = 2^(1 - sum_bits); S is 0 or normal). e_aligned = 2^(E + 23 - f), so u = e_aligned 2^-23.
ULPGATE_DEVICE double step_error(int nonzero, float e_aligned, float sum, double quantum) {
  const double rounding = sum == 0 ? 0.0 : double(dev::as_float(dev::as_uint(sum) & 0x7f800000u)) * quantum;
  return double(nonzero) * (double(e_aligned) * 0x1p-23) + rounding;
}

// ---- the verdict on one element of a kernel's output ---------------------------------------

inline constexpr int kUlpBins = 34;  // 0: same value; i in [1, 32]: code distance in [2^(i-1), 2^i);
inline constexpr int kNanBin = 33;   // NaN against a number

enum class Verdict : uint8_t { exact, within, over };

struct Judged {
  Verdict verdict;
  int bin;
  double ulp_error;  // |got - exact| / ulp(exact) (formats.cpp ulp_error); Inf where they differ
                     // and one is not finite
};

// got against expected (bits of Out) and the exact value x: exact when the codes coincide (both
// NaN, or the same point of the value line), within when |got - x| <= bound + ulps ulp(x).
template <Format Out>
ULPGATE_DEVICE Judged judge(uint32_t expected, uint32_t got, double x, double bound, double ulps) {
  using F = OutFormat<Out>;
  const bool nan_e = F::is_nan(expected), nan_g = F::is_nan(got);
  if (nan_e || nan_g) return nan_e && nan_g ? Judged{Verdict::exact, 0, 0} : Judged{Verdict::over, kNanBin, infinity64()};
  const int64_t d = F::ordinal(got) - F::ordinal(expected);
  const int bin = bit_length(uint64_t(d < 0 ? -d : d));
  const double g = F::value(got);
  const bool finite = is_finite64(g) && is_finite64(x);
  const double err = !finite ? (g == x ? 0 : infinity64()) : fabs(g - x) * F::inverse_ulp_of(x);
  if (bin == 0) return {Verdict::exact, 0, err};
  const bool within = finite && fabs(g - x) <= bound + ulps * F::ulp_of(x);
  return {within ? Verdict::within : Verdict::over, bin, err};
}

// An element of D as harness/gemm/compare.cpp's Judge counts it for a bit-exact claim: exact when
// it is the model's bits (a NaN for a NaN) and lies within its allowance of the exact D x, f B +
// ulp(|x| + f B) / 2 (B the model's bound; where the ideal is Inf or NaN: of the ideal's class).
template <Format Out>
ULPGATE_DEVICE bool exact_as_claimed(uint32_t got, uint32_t model, uint32_t ideal, double x, double bound, double factor) {
  using F = OutFormat<Out>;
  const bool nan = F::is_nan(got);
  if (got != model && !(nan && F::is_nan(model))) return false;
  if (!is_finite64(F::value(ideal))) return got == ideal || (nan && F::is_nan(ideal));
  const double v = F::value(got), b = mul_rn(factor, bound);
  return is_finite64(v) && fabs(v - x) <= b + 0.5 * F::ulp_of(fabs(x) + b);
}

}  // namespace ulpgate::gemm_kernels
