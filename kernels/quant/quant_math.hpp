// The per-group fp32 arithmetic of reference/quant/quant.cpp, written once for every backend
// (CUDA, HIP, host-SIMT). The profile arrives as runtime data (QuantMath, built on the host by
// quant_plan.cpp); each function below mirrors its reference counterpart step by step, because
// the contract is bit-exactness with quantize_profile.
#pragma once

#include <math.h>
#include <stdint.h>

#include "kernels/portable/device.hpp"
#include "reference/formats/formats.hpp"  // the software fp8 cast (constexpr rounding core)
#include "reference/quant/profile.hpp"    // the profile's enums
#include "reference/quant/silu.hpp"       // the host's exp

namespace ulpgate::quant_kernels {

// The final fp8 cast: the arch's conversion instruction when it gives the profile's result for
// every value that reaches it (`native`), else the reference rounding core in software.
struct Fp8Cast {
  Format format;
  Overflow overflow;
  bool native;
  // A non-saturating cast through the arch's satfinite instruction (> 0): the two agree for
  // |q| < overflow_at, the least value that overflows; the others (and NaN) take the software cast.
  float overflow_at = 0;
};

// One profile + spec, as the values the kernels read (see reference/quant/profile.hpp).
struct QuantMath {
  float max;                 // fp8 max: clamp bound and divisor
  float amax_floor;          // 0: none
  float scale_floor;         // 0: none (only with power-of-two scales)
  quant::ScaleOp scale_op;
  bool pow2;                 // scales rounded to powers of two (ue8m0)
  quant::Pow2Rule pow2_rule;
  bool exp_clamp;            // ue8m0 exponent clamped to [1, 254]
  quant::QuantOp quant_op;   // with fp32 scales
  bool clamp;                // clamp q to +-max before the cast
  bool nan_propagate;        // NaN reaches amax (else fmaxf ignores it)
  bool nan_to_max;           // the clamp fmaxf(-max, fminf(q, max)): NaN -> +max
  float given_scale;         // quant.tensor static: the scale (0: from the amax)
  float amax_cap;            // > 0: amax = fminf(amax, cap) first (vLLM's scale_ub)
  float fp32_scale_floor;    // > 0: s = fmaxf(s, floor) after the division
  quant::MxRule mx;          // none unless the spec has MX scales (quant.mx, an MX silu-mul row)
  int mx_emax;               // largest exponent of the element format (MX floor rule)
  Fp8Cast cast;
  // quant.silu-mul (ProfileCodes and the general path read these; plan_quant keeps the native
  // paths for rows that leave them at vLLM's form):
  bool silu_divides;         // y = fl(g / d), else fl(g * fl(1 / d))
  bool ftz;                  // fast math: subnormal operands and results flushed to zero
  bool approx_division;      // fast math: x / d is 0 for |d| above 2^126 (__fdividef)
  Format y_store;            // the codes are those of y stored in this dtype (fp32: of y itself)
  Format amax_y_store;       // the amax is that of y stored in this dtype (fp32: of y itself)
  ULPGATE_DEVICE bool silu_as_vllm() const {
    return !silu_divides && !ftz && y_store == Format::fp32 && amax_y_store == Format::fp32;
  }
};

// ---- fp32 helpers that behave the same on every backend ------------------------------------

ULPGATE_DEVICE bool is_nan(float x) { return (dev::as_uint(x) & 0x7fffffffu) > 0x7f800000u; }
ULPGATE_DEVICE bool is_inf(float x) { return (dev::as_uint(x) & 0x7fffffffu) == 0x7f800000u; }
ULPGATE_DEVICE bool is_finite(float x) { return (dev::as_uint(x) & 0x7f800000u) != 0x7f800000u; }
ULPGATE_DEVICE float quiet_nan() { return dev::as_float(0x7fc00000u); }  // std::numeric_limits' NaN
ULPGATE_DEVICE float infinity() { return dev::as_float(0x7f800000u); }

// IEEE division, correctly rounded (never the approximate fast path).
ULPGATE_DEVICE float div_rn(float a, float b) {
#if defined(__CUDACC__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// 1 / b correctly rounded: the same bits as div_rn(1, b) in fewer instructions on CUDA.
ULPGATE_DEVICE float rcp_rn(float b) {
#if defined(__CUDACC__)
  return __frcp_rn(b);
#else
  return 1.0f / b;
#endif
}

// 2^e exactly, as std::ldexp(1.0f, e) gives it (subnormal below 2^-126, Inf above 2^127).
ULPGATE_DEVICE float pow2_float(int e) {
  if (e > 127) return infinity();
  if (e >= -126) return dev::as_float(uint32_t(e + 127) << 23);
  return e >= -149 ? dev::as_float(1u << (e + 149)) : 0.0f;
}

// ---- amax --------------------------------------------------------------------------------------

// One element into a running amax (reference group_amax).
ULPGATE_DEVICE float amax_step(float a, float v, bool propagate) {
  return propagate && (is_nan(v) || is_nan(a)) ? quiet_nan() : fmaxf(a, fabsf(v));
}
// Two partial amaxes into one: the same rule, so any reduction order gives the same bits.
ULPGATE_DEVICE float amax_merge(float a, float b, bool propagate) {
  return propagate && (is_nan(a) || is_nan(b)) ? quiet_nan() : fmaxf(a, b);
}

// ---- scales ------------------------------------------------------------------------------------

// ue8m0 by exponent bits: exponent + 1 if the mantissa is nonzero (reference pow2_by_bits).
// Selects, not branches: it runs once per group in the kernels' hot path.
ULPGATE_DEVICE float pow2_by_bits(float s, bool exp_clamp) {
  const uint32_t bits = dev::as_uint(s) & 0x7fffffffu;
  int e = int(bits >> 23) + ((bits & 0x7fffffu) != 0 ? 1 : 0);
  if (exp_clamp) e = e < 1 ? 1 : (e > 254 ? 254 : e);
  const uint32_t p = e >= 255 ? 0x7f800000u : (e == 0 ? 0x00400000u : uint32_t(e) << 23);  // Inf, 2^-127
  return is_nan(s) ? s : dev::as_float(p);
}

// exp2(ceil(log2 s)) with the reference's model of log2f: log2 in double, rounded to float
// (reference pow2_by_log2). On the host this is the same libm call; on CUDA/HIP the device
// log2(double) (<= 1 ulp in double) can differ only where log2(s) lies within a double ulp of a
// float rounding boundary next to an integer.
ULPGATE_DEVICE float pow2_by_log2(float s, bool exp_clamp) {
  if (is_nan(s) || is_inf(s) || s <= 0) return pow2_by_bits(s, exp_clamp);
  const float l = float(log2(double(s)));
  int e = int(ceilf(l));
  if (exp_clamp) e = e < -126 ? -126 : (e > 127 ? 127 : e);
  return pow2_float(e < -127 ? -127 : e);
}

ULPGATE_DEVICE float ue8m0_value(uint8_t code) {
  return code == 0xff ? quiet_nan() : pow2_float(int(code) - 127);
}

// The MX block scale X (reference mx_scale).
ULPGATE_DEVICE float mx_scale(const QuantMath& p, float amax) {
  if (is_nan(amax)) return amax;
  if (p.mx == quant::MxRule::floor) {
    if (is_inf(amax)) return quiet_nan();
    if (amax == 0) return pow2_float(-127);
    // ilogb(amax); a subnormal amax (ilogb < -126) ends at the -127 clamp either way.
    const int efield = int(dev::as_uint(amax) >> 23) & 0xff;
    const int ilogb = efield == 0 ? -127 : efield - 127;
    const int x = ilogb - p.mx_emax;
    return pow2_float(x < -127 ? -127 : (x > 127 ? 127 : x));
  }
  const float t = amax * div_rn(1.0f, p.max);
  return ue8m0_value(dev::cvt_ue8m0(t, Ue8m0Round::rp));
}

// TransformerEngine's multiplier (reference quant::ratio): max / amax, 1 for amax 0, Inf or NaN,
// FLT_MAX where the quotient overflows.
ULPGATE_DEVICE float te_ratio(float max, float amax) {
  if (amax == 0 || !is_finite(amax)) return 1.0f;
  const float m = div_rn(max, amax);
  return is_inf(m) ? dev::as_float(0x7f7fffffu) : m;
}

// The scale a group stores (reference group_scale).
ULPGATE_DEVICE float group_scale(const QuantMath& p, float amax) {
  if (p.given_scale != 0)  // TransformerEngine's static form stores scale_inv = fl(1/m), m = fl(1/S)
    return p.quant_op == quant::QuantOp::ratio ? div_rn(1.0f, div_rn(1.0f, p.given_scale)) : p.given_scale;
  if (p.mx != quant::MxRule::none) return mx_scale(p, amax);
  if (is_nan(amax)) return amax;
  if (p.amax_cap > 0) amax = fminf(amax, p.amax_cap);
  // The floors as maxima: a floor of 0 (none) leaves amax >= 0 and s >= 0 as they are.
  const float a = fmaxf(amax, p.amax_floor);
  if (p.scale_op == quant::ScaleOp::inverse_ratio) return div_rn(1.0f, te_ratio(p.max, a));
  const float s0 = p.scale_op == quant::ScaleOp::divide ? div_rn(a, p.max) : a * div_rn(1.0f, p.max);
  const float s = p.fp32_scale_floor > 0 ? fmaxf(s0, p.fp32_scale_floor) : s0;
  if (!p.pow2) return s;
  const float f = fmaxf(s, p.scale_floor);
  return p.pow2_rule == quant::Pow2Rule::exponent_bits ? pow2_by_bits(f, p.exp_clamp)
                                                       : pow2_by_log2(f, p.exp_clamp);
}

// ---- codes -------------------------------------------------------------------------------------

// What each element of a group is divided by or multiplied with (reference group_factor).
struct Factor {
  bool divide;
  float v;
  ULPGATE_DEVICE float apply(float x) const { return divide ? div_rn(x, v) : x * v; }
};

// 1 / s for a power of two s: by its exponent where both are normal (biased exponents E and
// 254 - E), else the division (the same bits either way).
ULPGATE_DEVICE float reciprocal_pow2(float s) {
  const uint32_t u = dev::as_uint(s);
  if ((u & 0x807fffffu) == 0 && (u >> 23) - 1u < 253u) return dev::as_float((254u - (u >> 23)) << 23);
  return div_rn(1.0f, s);
}

ULPGATE_DEVICE Factor group_factor(const QuantMath& p, float amax, float s) {
  // Powers of two (and the Inf/NaN scales of non-finite groups): 1/s is exact, so x * (1/s) is
  // the same correctly rounded value as x / s, without a division per element.
  if (p.pow2 || p.mx != quant::MxRule::none) return {false, reciprocal_pow2(s)};
  switch (p.quant_op) {
    case quant::QuantOp::divide: return {true, s};
    case quant::QuantOp::reciprocal: return {false, div_rn(1.0f, s)};
    case quant::QuantOp::max_over_amax:
      return {false, div_rn(p.max, p.amax_floor > 0 ? fmaxf(amax, p.amax_floor) : amax)};
    case quant::QuantOp::ratio:
      return {false, p.given_scale != 0 ? div_rn(1.0f, p.given_scale) : te_ratio(p.max, fmaxf(amax, p.amax_floor))};
  }
  return {true, s};
}

// x / s without a division per element: x * y with one Markstein correction, y = fl(1/s):
// q0 = x*y, r = x - s*q0 (exact, one fma), q = q0 + r*y. Checked exhaustively to be the IEEE
// quotient for every fp32 s and x in [1, 2), all 2^46 pairs (QuantKernelsCuda.
// QuickDivisionIsTheIeeeQuotientForEveryFp32Dividend; PERF.md, "Quick division"). Powers of two
// carry that to every s in [2^-50, 2^50] (quick_division_holds) and |x| >= 2^-74, where every
// step stays normal. For smaller |x| both quotients are below 2^-22 in magnitude, which every fp8
// format rounds to the same zero, and both have x's sign (copysignf: a zero x would give +0).
ULPGATE_DEVICE bool quick_division_holds(float s) {
  return (dev::as_uint(s) >> 23) - (127u - 50u) <= 100u;  // positive, exponent in [-50, 50]
}
ULPGATE_DEVICE float quick_div(float x, float s, float y) {
  const float q0 = x * y;
  return copysignf(fmaf(fmaf(-s, q0, x), y, q0), x);
}
// The same steps for ax = |x| >= 0 without the copysign (RN is symmetric, so this is quick_div's
// magnitude): every step's result keeps ax's sign, and a zero ax gives +0.
ULPGATE_DEVICE float quick_div_magnitude(float ax, float s, float y) {
  const float q0 = ax * y;
  return fmaf(fmaf(-s, q0, ax), y, q0);
}

template <Format F>
ULPGATE_DEVICE uint8_t software_cast(float q, Overflow o) {
  return uint8_t(encode<F>(q, Conversion{F, o}));
}

// The software cast of any 8-bit format, out of line: inlined at every element of a kernel's
// unrolled chunks, the four formats' casts made each per-element (ProfileCodes) kernel ~80k PTX
// lines and minutes of ptxas. It runs only where the arch has no instruction for the format or the
// value is at or past the overflow threshold.
ULPGATE_DEVICE_COLD uint8_t software_cast_of(Format f, float q, Overflow o) {
  switch (f) {
    case Format::e4m3fn: return software_cast<Format::e4m3fn>(q, o);
    case Format::e4m3fnuz: return software_cast<Format::e4m3fnuz>(q, o);
    case Format::e5m2: return software_cast<Format::e5m2>(q, o);
    default: return software_cast<Format::e5m2fnuz>(q, o);
  }
}

ULPGATE_DEVICE uint8_t cast_fp8(const Fp8Cast& c, float q) {
  const bool e4m3 = c.format == Format::e4m3fn || c.format == Format::e4m3fnuz;
  const bool software = c.overflow_at > 0 && !(fabsf(q) < c.overflow_at);
  if (c.native && !software) return e4m3 ? dev::cvt_e4m3(q) : dev::cvt_e5m2(q);
  return software_cast_of(c.format, q, c.overflow);
}

// ---- activations -------------------------------------------------------------------------------

// exp in fp32: the device's expf on a GPU (CUDA documents 2 ulp), the correctly rounded value on
// the host, which the profile-exact reference takes (reference/quant/silu.hpp).
ULPGATE_DEVICE float act_exp(float x) {
#if defined(ULPGATE_GPU)
  return expf(x);
#else
  return quant::exp_correctly_rounded(x);
#endif
}

// 1 / (1 + e) for the sigmoid, rcp_rn's bits: an infinite e (g below -88.7) gives 0 without
// rcp_rn's slow path, which a warp would otherwise run for such lanes one at a time.
ULPGATE_DEVICE float sigmoid_of_exp(float e) {
  const float d = 1.0f + e;
  const float r = rcp_rn(is_inf(d) ? 1.0f : d);
  return is_inf(d) ? 0.0f : r;
}

// y = SiLU(g) * u as the silu-mul profiles compute it (reference silu_mul_at).
ULPGATE_DEVICE float silu_mul(float g, float u) { return (g * sigmoid_of_exp(act_exp(-g))) * u; }

// x, or the zero of its sign where the profile flushes subnormals (reference quant::flushed).
ULPGATE_DEVICE float flushed(const QuantMath& p, float x) {
  return p.ftz && (dev::as_uint(x) & 0x7f800000u) == 0 ? copysignf(0.0f, x) : x;
}

// The profile's x / d (reference quant::quotient).
ULPGATE_DEVICE float quotient(const QuantMath& p, float x, float d) {
  x = flushed(p, x), d = flushed(p, d);
  if (p.approx_division && fabsf(d) > 0x1p126f && !is_nan(x))
    return is_inf(x) ? quiet_nan() : copysignf(0.0f, x) * (d < 0 ? -1.0f : 1.0f);
  return flushed(p, div_rn(x, d));
}

// y as the profile's steps give it, either sigmoid form, FTZ where it flushes (reference silu_mul_at).
ULPGATE_DEVICE float silu_mul(const QuantMath& p, float g, float u) {
  g = flushed(p, g), u = flushed(p, u);
  const float e = flushed(p, act_exp(-g));
  const float t = p.silu_divides ? quotient(p, g, flushed(p, 1.0f + e)) : g * sigmoid_of_exp(e);
  return flushed(p, t * u);
}

// y stored in `store` and read back (RNE), or y for fp32 (reference quant::rounded_to). bf16 rounds
// on the bits: the carry out of the dropped half is the rounding (ties to even, overflow into Inf),
// a NaN is the format's canonical NaN: encode<bf16>'s nosat result in a few integer steps.
ULPGATE_DEVICE float stored_in(Format store, float y) {
  if (store == Format::bf16) {
    const uint32_t u = dev::as_uint(y);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return dev::bf16_to_float(uint16_t(info_of<Format::bf16>().canonical_nan));
    return dev::as_float((u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u);
  }
  if (store == Format::fp16)
    return dev::fp16_to_float(uint16_t(encode<Format::fp16>(y, Conversion{Format::fp16, Overflow::nosat})));
  return y;
}
// The value a code is computed from (reference quant::stored_y), and the value the amax reads.
ULPGATE_DEVICE float stored_y(const QuantMath& p, float y) { return stored_in(p.y_store, y); }
ULPGATE_DEVICE float amax_y(const QuantMath& p, float y) { return stored_in(p.amax_y_store, y); }

// silu_mul of n values. On CUDA, 1 / d for d = 1 + e in [1, 2^126) is rcp_rn's own fast path
// written out: the reciprocal estimate and one Newton step, which is what __frcp_rn computes for
// those d (checked for every one of them on the device: QuantKernelsCuda.
// ReciprocalInRangeIsRcpRn), an infinite d (g below -88.7) included, whose 0 sigmoid_of_exp gives. Where
// every d of the chunk is one of those (not for NaN, or for g in [-88.7, -87.3]) the chunk takes
// them with no branch per element, so the compiler interleaves the elements; else the values take
// silu_mul. A warp whose lanes disagree runs both, so the infinite d belong to the fast path: the
// bench's input puts one in nearly every warp's chunk (kernels/quant/PERF.md).
template <int N>
ULPGATE_DEVICE void silu_mul_chunk(const float (&g)[N], const float (&u)[N], float (&y)[N]) {
#if defined(__CUDA_ARCH__)
  float d[N];
  bool in_range = true;
  ULPGATE_UNROLL
  for (int i = 0; i < N; ++i) {
    d[i] = 1.0f + act_exp(-g[i]);
    in_range &= d[i] < 0x1p126f || d[i] == infinity();
  }
  if (in_range) {
    ULPGATE_UNROLL
    for (int i = 0; i < N; ++i) y[i] = (g[i] * dev::rcp_in_range(d[i])) * u[i];
    return;
  }
#endif
  ULPGATE_UNROLL
  for (int i = 0; i < N; ++i) y[i] = silu_mul(g[i], u[i]);
}

// The profile's y of n values: silu_mul_chunk for vLLM's form, else element by element.
template <int N>
ULPGATE_DEVICE void silu_mul_chunk(const QuantMath& p, const float (&g)[N], const float (&u)[N], float (&y)[N]) {
  if (!p.silu_divides && !p.ftz) return silu_mul_chunk(g, u, y);
  ULPGATE_UNROLL
  for (int i = 0; i < N; ++i) y[i] = silu_mul(p, g[i], u[i]);
}

// Clamp (per the NaN policy) then cast (reference clamp_and_cast).
ULPGATE_DEVICE uint8_t quantize_one(const QuantMath& p, const Factor& f, float x) {
  float q = f.apply(x);
  if (p.clamp) {
    if (!p.nan_propagate && p.nan_to_max)
      q = fmaxf(fminf(q, p.max), -p.max);  // NaN -> +max
    else if (!p.nan_propagate)
      q = fminf(fmaxf(q, -p.max), p.max);  // NaN -> -max
    else if (is_finite(q))
      q = q < -p.max ? -p.max : (p.max < q ? p.max : q);
  }
  return cast_fp8(p.cast, q);
}

}  // namespace ulpgate::quant_kernels
