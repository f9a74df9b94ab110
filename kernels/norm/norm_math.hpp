// The fp32 arithmetic of the RMSNorm kernels that is the same on every backend (CUDA, HIP,
// host-SIMT): dev::rsqrt, the bf16/fp16 element types (exact widening, RNE narrowing written with
// integer operations so every backend produces the same bits) and the profile's runtime data.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_math.hpp"   // div_rn
#include "reference/formats/formats.hpp"  // Format

namespace ulpgate {
namespace dev {

// 1 / sqrt(v) in fp32. CUDA/HIP: the device's rsqrtf (CUDA documents <= 2 ulp, HIP about 1 ulp).
// Host: the correctly rounded value, so the emulation differs from a GPU exactly where that GPU's
// rsqrtf is not correctly rounded. Through double it is: sqrt and the division each round once
// to 53 bits (together < 2^-52 relative), and 1/sqrt(v) of a float v never lies within 2^-51.7
// of a float midpoint (norm_kernels_test checks every v of [1, 4) with integer arithmetic; v * 4
// scales every step by exactly 1/2, and every result is a normal float).
// rsqrt(+0) = +Inf, rsqrt(-0) = -Inf, rsqrt(+Inf) = +0, negative or NaN: NaN, as rsqrtf.
ULPGATE_DEVICE float rsqrt(float v) {
#if defined(ULPGATE_GPU)
  return rsqrtf(v);
#else
  return float(1.0 / sqrt(double(v)));
#endif
}

}  // namespace dev

namespace norm_kernels {

// fp32 -> bf16 bits, round to nearest even; overflow gives Inf, NaN the reference's canonical NaN
// (formats.hpp's integer form: the same on every backend).
ULPGATE_DEVICE uint16_t narrow_bf16(float x) { return float_to_bf16(x); }

// fp32 -> IEEE binary16 bits, round to nearest even (subnormals included); overflow gives Inf,
// NaN the reference's canonical NaN.
ULPGATE_DEVICE uint16_t narrow_fp16(float x) {
  const uint32_t u = dev::as_uint(x), a = u & 0x7fffffffu;
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  if (a > 0x7f800000u) return 0x7e00;
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520, halfway above the max 65504: Inf
  if (a >= 0x38800000u) {                       // normal in fp16 (>= 2^-14): rebias, round 13 bits
    const uint32_t r = a - 0x38000000u;
    return sign | uint16_t((r + 0xfffu + ((r >> 13) & 1u)) >> 13);
  }
  // Subnormal in fp16: the significand in units of 2^-24 is m >> shift, rounded to even.
  const int shift = 126 - int(a >> 23);
  if (shift > 24) return sign;  // below 2^-25: rounds to zero
  const uint32_t m = (a & 0x7fffffu) | 0x800000u, q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  return sign | uint16_t(q + (rem > half || (rem == half && (q & 1u))));
}

// The element types of x, residual, weight and y: raw bits in memory, widened exactly to fp32,
// rounded back with RNE two at a time (a pair word: the first value's bits in the low half).
// round2() replaces two values with T(v) as fp32, for values that are rounded and then computed
// with (a NaN's payload does not matter there). narrow2() gives the bits of the pair; a NaN is
// only the reference's canonical NaN (kNan) after narrow_chunk() below. On CUDA both are one
// conversion instruction per pair (cvt.rn.bf16x2.f32 / cvt.rn.f16x2.f32: RNE, overflow to Inf,
// no flush to zero, NaN as 0x7fff); elsewhere the integer forms above.
ULPGATE_DEVICE uint32_t pair_word(uint16_t lo, uint16_t hi) { return uint32_t(lo) | uint32_t(hi) << 16; }

#if defined(__CUDACC__)
template <class Pair>
ULPGATE_DEVICE uint32_t word_of(const Pair& p) {
  uint32_t w;
  memcpy(&w, &p, 4);
  return w;
}
#endif

// T(a * b) of two T values a and b, rounded once (the reference's T(T(z r) w): the product is
// exact in double). bf16: exact in fp32 too unless below 2^-126; there it is rounded to bf16's
// subnormal quantum 2^-133 directly (the fp32 product rounded to bf16 gives the same bits, but
// this form does not lean on that). fp16: always exact in fp32.
ULPGATE_DEVICE uint16_t mul_round_bf16(uint16_t a, uint16_t b) {
  const double p = double(dev::bf16_to_float(a)) * double(dev::bf16_to_float(b));
  if (!(fabs(p) < 0x1p-126)) return narrow_bf16(float(p));  // normal, Inf or NaN
  const uint16_t sign = uint16_t(((a ^ b) & 0x8000u));
  return sign | uint16_t(nearbyint(fabs(p) * 0x1p133));     // RNE; 128 carries into the exponent
}

// Per half of two pair words: fmaxf(m, |x|), through fp32 (exact: the max is one of them; a NaN
// x leaves m, a NaN m gives |x|, as fmaxf).
template <class E>
ULPGATE_DEVICE uint32_t abs_max2_of(uint32_t m, uint32_t x) {
  float m0, m1, x0, x1;
  E::widen2(m, m0, m1), E::widen2(x, x0, x1);
  return E::narrow2(fmaxf(m0, fabsf(x0)), fmaxf(m1, fabsf(x1)));
}

template <Format F> struct Elem;
template <> struct Elem<Format::bf16> {
  using T = uint16_t;
  static constexpr uint16_t kNan = 0x7fc0;
  ULPGATE_DEVICE static float widen(T v) { return dev::bf16_to_float(v); }
  ULPGATE_DEVICE static void widen2(uint32_t w, float& a, float& b) {  // a shift and a mask
    a = dev::as_float(w << 16), b = dev::as_float(w & 0xffff0000u);
  }
#if defined(__CUDACC__)
  ULPGATE_DEVICE static uint32_t narrow2(float a, float b) { return word_of(__floats2bfloat162_rn(a, b)); }
#else
  ULPGATE_DEVICE static uint32_t narrow2(float a, float b) { return pair_word(narrow_bf16(a), narrow_bf16(b)); }
#endif
  ULPGATE_DEVICE static void round2(float& a, float& b) { widen2(narrow2(a, b), a, b); }
  ULPGATE_DEVICE static T mul_round(T a, T b) { return mul_round_bf16(a, b); }
  // mul_round2: T(a * b) per half; abs_max2: fmaxf(|m|, |x|) per half, a NaN x ignored (the
  // result's sign is not defined: callers keep its magnitude).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // mul.rn.bf16x2: the exact product rounded once, subnormals kept (checked against mul_round for
  // every pair of bf16 values on the H200: kernels/norm/PERF.md); max.bf16x2 is exact.
  ULPGATE_DEVICE static uint32_t mul_round2(uint32_t a, uint32_t b) { return dev::mul_bf16x2(a, b); }
  ULPGATE_DEVICE static uint32_t abs_max2(uint32_t m, uint32_t x) { return dev::max_abs_bf16x2(m, x); }
#else
  ULPGATE_DEVICE static uint32_t mul_round2(uint32_t a, uint32_t b) {
    return pair_word(mul_round(T(a), T(b)), mul_round(T(a >> 16), T(b >> 16)));
  }
  ULPGATE_DEVICE static uint32_t abs_max2(uint32_t m, uint32_t x) { return abs_max2_of<Elem>(m, x); }
#endif
};
template <> struct Elem<Format::fp16> {
  using T = uint16_t;
  static constexpr uint16_t kNan = 0x7e00;
#if defined(__CUDACC__)
  ULPGATE_DEVICE static float widen(T v) { return __half2float(__ushort_as_half(v)); }
  ULPGATE_DEVICE static uint32_t narrow2(float a, float b) { return word_of(__floats2half2_rn(a, b)); }
#else
  ULPGATE_DEVICE static float widen(T v) { return dev::fp16_to_float(v); }
  ULPGATE_DEVICE static uint32_t narrow2(float a, float b) { return pair_word(narrow_fp16(a), narrow_fp16(b)); }
#endif
  ULPGATE_DEVICE static void widen2(uint32_t w, float& a, float& b) { a = widen(T(w)), b = widen(T(w >> 16)); }
  ULPGATE_DEVICE static void round2(float& a, float& b) { widen2(narrow2(a, b), a, b); }
  // The product of two fp16 values is exact in fp32 (22 bits, exponents within range): one rounding.
  ULPGATE_DEVICE static uint32_t mul_round2(uint32_t a, uint32_t b) {
    float x, y, u, v;
    widen2(a, x, y), widen2(b, u, v);
    return narrow2(x * u, y * v);
  }
  ULPGATE_DEVICE static T mul_round(T a, T b) { return narrow_fp16(widen(a) * widen(b)); }
  ULPGATE_DEVICE static uint32_t abs_max2(uint32_t m, uint32_t x) { return abs_max2_of<Elem>(m, x); }
};

// One chunk: 8 raw 16-bit elements as four 32-bit words, element 2k in the low half of word k:
// one 16-byte vector access, and four registers where an array of 16-bit values may take eight.
inline constexpr int kChunkElems = 8;
using Raw = Pack16<uint32_t>;
ULPGATE_DEVICE uint16_t element(const Raw& c, int i) { return uint16_t(c.v[i / 2] >> (16 * (i % 2))); }

// Eight fp32 values rounded to T as one chunk, each NaN as the reference's canonical NaN: one
// unordered test per pair, the repair only in a chunk that holds a NaN.
template <class E>
ULPGATE_DEVICE Raw narrow_chunk(const float (&v)[kChunkElems]) {
  Raw c;
  bool nan = false;
  ULPGATE_UNROLL
  for (int k = 0; k < kChunkElems / 2; ++k) {
    c.v[k] = E::narrow2(v[2 * k], v[2 * k + 1]);
    nan = nan || v[2 * k] != v[2 * k] || v[2 * k + 1] != v[2 * k + 1];  // one unordered test
  }
  if (nan) {
    ULPGATE_UNROLL
    for (int i = 0; i < kChunkElems; ++i)
      if (v[i] != v[i]) c.v[i / 2] = (c.v[i / 2] & (0xffff0000u >> (16 * (i % 2)))) | uint32_t(E::kNan) << (16 * (i % 2));
  }
  return c;
}

// The norm profile (reference/norm/profile.hpp) as the values the kernels read.
struct NormMath {
  double eps_added;       // the exact value added to the mean square (inside the square root)
  bool mean_reciprocal;   // ms = fl(S * fl(1 / H)), else fl(S / H)
  bool round_twice;       // y = T(T(z * r) * w), else T(fl(z * r) * w)
  bool round_residual;    // rms-add: z = T(x + residual) is squared and normalized (else fp32 z)
  bool quantize_rounded;  // rms-quant: the quantizer sees T(y) (else the fp32 y)
};

// r = 1 / sqrt(fl32(ms + eps)) with ms the profile's fp32 mean of the squares. The addition is
// one double addition rounded to fp32 once: for a float eps that is the fp32 addition (53 >=
// 2 * 24 + 2 bits make the double rounding innocuous), for AITER's double eps it is its own.
ULPGATE_DEVICE float row_rsqrt(const NormMath& p, float sum_squares, int64_t h) {
  const float n = float(h);
  const float ms = p.mean_reciprocal ? sum_squares * quant_kernels::div_rn(1.0f, n)
                                     : quant_kernels::div_rn(sum_squares, n);
  return dev::rsqrt(float(double(ms) + p.eps_added));
}

}  // namespace norm_kernels
}  // namespace ulpgate
