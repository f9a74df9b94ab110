// One element's steps of the RMSNorm reference (spec/norm.md) given its row's r: z from x and the
// residual, the profile's output y, the updated residual, and the ideal y from the exact r (decided
// here unless the product lies near a rounding boundary). constexpr and free of the standard
// library's math calls, so that the device reference (kernels/norm/reference_kernels.hpp, compiled
// with relaxed constexpr) runs this same source as norm.cpp.
#pragma once

#include <bit>
#include <cstdint>

#include "reference/formats/formats.hpp"

namespace ulpgate::norm::element {

// What the steps need of a spec (norm::Spec::steps), as plain data for a kernel.
struct Steps {
  Format dtype = Format::bf16;  // bf16 or fp16
  bool round_twice = true;      // y = T(T(z r) w), else T(fl(fl(z r) w))
  bool has_residual = false;
  bool rounds_residual = false;  // z = T(x + residual), else fl(x + residual)
  bool quantizes_y = true;       // rms-quant: the quantizer sees T(y), else the fp32 value (quantizer_input)
};

// A double rounded into bf16 (RNE, overflow to Inf, NaN canonical) through fp32: fl32(v) rounds to
// nearest and bf16's midpoints are fp32 values (subnormal ones too), so bf16's rounding of fl32(v)
// is v's, unless fl32(v) is a midpoint that v is not: then v's side of it decides. Bit for bit
// round_nosat (suites/norm/row_r_test.cpp), in a few fp32 and integer steps. (The last step is
// float_to_bf16's; calling it made the device reference's rms-add kernels larger and 4 % slower on
// the H200, 818 -> 852 us: nvcc keeps its second NaN test.)
constexpr uint16_t round_bf16(double v) {
  const float f = float(v);
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if (f != f) return uint16_t(info_of<Format::bf16>().canonical_nan);
  if ((u & 0xFFFFu) == 0x8000u && double(f) != v) return uint16_t((u >> 16) + ((f < 0 ? double(f) > v : double(f) < v) ? 1 : 0));
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);  // a carry out of the magnitude's top reaches Inf
}

// The per-element roundings into T (RNE, overflow to Inf) and back (exact).
constexpr uint16_t round_to(Format f, double v) { return f == Format::bf16 ? round_bf16(v) : uint16_t(round_nosat(f, v)); }
constexpr float widen(Format f, uint16_t bits) { return widen_exact(f, bits); }

constexpr float z_of(const Steps& s, float x, float residual) {
  if (!s.has_residual) return x;
  const float z = x + residual;  // fl32: T(fl32(x + res)) = T(x + res), as 24 >= 2 * 11 + 1 bits
  return s.rounds_residual ? widen(s.dtype, round_to(s.dtype, z)) : z;
}

// The updated residual a kernel writes back: T(x + residual).
constexpr uint16_t residual_out(const Steps& s, float x, float residual) { return round_to(s.dtype, x + residual); }

// The profile's output at a given fp32 r.
constexpr uint16_t output_at(const Steps& s, float z, float w, float r) {
  const float p = z * r;
  if (s.round_twice) return round_to(s.dtype, double(widen(s.dtype, round_to(s.dtype, p))) * double(w));  // b * w exact in double
  return round_to(s.dtype, p * w);
}

// What the fused quantizer sees at a given fp32 r: y widened, or the fp32 value before T's last
// rounding (T(z r) w under round-twice, fl(fl(z r) w) under round-once). A NaN of the fp32 products
// as the canonical quiet one: its sign and payload are the machine's (x86 keeps an operand's, or
// makes Inf * 0 negative; CUDA's is 0x7FFFFFFF), and a quantizer that casts NaN keeps its sign.
constexpr float quantizer_input(const Steps& s, float z, float w, float r) {
  if (s.quantizes_y) return widen(s.dtype, output_at(s, z, w, r));
  const float p = z * r, v = (s.round_twice ? widen(s.dtype, round_to(s.dtype, p)) : p) * w;
  return v == v ? v : std::bit_cast<float>(uint32_t(0x7FC00000u));
}

// Not a 16-bit code: the ideal y of this element needs the exact decision (norm::IdealRow).
inline constexpr uint32_t kNearBoundary = 0x10000;

constexpr bool is_finite(double v) { return (std::bit_cast<uint64_t>(v) & (uint64_t(0x7FF) << 52)) != (uint64_t(0x7FF) << 52); }

// Rounding a magnitude's bits a (fp32 or fp64 bits, U their width) at its `drop` low bits: whether
// those lie within n of their midpoint (rem - half + n wraps past 2 n unless |rem - half| <= n; n
// is taken at most half, where every rem is near), and elsewhere the bits kept, rounded to nearest
// (not a tie: adding half carries exactly where the dropped bits round up, into the exponent too).
template <class U>
constexpr bool near_midpoint(U a, int drop, U n) {
  const U half = U(1) << (drop - 1), rem = a & ((U(1) << drop) - 1), m = n < half ? n : half;
  return U(rem - half + m) <= U(2 * m);
}
template <class U>
constexpr U round_dropped(U a, int drop) {
  return (a + (U(1) << (drop - 1))) >> drop;
}

// The exact z r w rounded once to T, from the double product v = z r w (relative error < 2^-51):
// where v lies `window` (relative, 2^-48 or more; the reference's 2^-40) or closer to a rounding
// boundary, kNearBoundary instead (a wider window only sends more elements to the exact decision).
// Where v is in T's normal range, its bits say it: the boundary is the midpoint of the bits T drops,
// and v's distance to it, in units of v's double ulp 2^(e-52), is under window 2^53 where near.
// Elsewhere (T's subnormals, overflow, zero, NaN, Inf) the two roundings of v moved by the window.
constexpr uint32_t ideal_y(Format f, float z, float w, double r, double window) {
  const double v = double(z) * r * double(w);
  const uint64_t a = std::bit_cast<uint64_t>(v) & ~(uint64_t(1) << 63);
  const bool bf16 = f == Format::bf16;
  const int mbits = bf16 ? 7 : 10, bias = bf16 ? 127 : 15, e = int(a >> 52) - 1023, drop = 52 - mbits;
  if (e >= 1 - bias && e <= bias) {
    // Near: |rem - half| <= floor(window 2^53) (rem and half are integers).
    const double wide = window * 0x1p53;
    if (near_midpoint(a, drop, wide < 0x1p52 ? uint64_t(wide) : uint64_t(1) << 52)) return kNearBoundary;
    const uint64_t kept = round_dropped(a, drop) - (uint64_t(1023 - bias) << mbits);  // a carry reaches Inf
    return uint32_t(kept) | uint32_t(std::bit_cast<uint64_t>(v) >> 63) << 15;  // bf16 and fp16: the sign is bit 15
  }
  if (!is_finite(v) || v == 0) return round_to(f, v);
  const double m = v < 0 ? -v : v;
  return round_to(f, m * (1 - window)) == round_to(f, m * (1 + window)) ? round_to(f, v) : kNearBoundary;
}

}  // namespace ulpgate::norm::element
