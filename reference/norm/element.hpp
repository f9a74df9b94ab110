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
};

// The per-element roundings into T (RNE, overflow to Inf) and back (exact).
constexpr uint16_t round_to(Format f, double v) { return uint16_t(round_nosat(f, v)); }
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

// Not a 16-bit code: the ideal y of this element needs the exact decision (norm::IdealRow).
inline constexpr uint32_t kNearBoundary = 0x10000;

constexpr bool is_finite(double v) { return (std::bit_cast<uint64_t>(v) & (uint64_t(0x7FF) << 52)) != (uint64_t(0x7FF) << 52); }

// The exact z r w rounded once to T, from the double product v = z r w (relative error < 2^-51):
// where v lies `window` (relative) or closer to a rounding boundary, kNearBoundary instead (the
// reference's window is 2^-40; a wider one only sends more elements to the exact decision).
constexpr uint32_t ideal_y(Format f, float z, float w, double r, double window) {
  const double v = double(z) * r * double(w);
  if (!is_finite(v) || v == 0) return round_to(f, v);
  const double a = v < 0 ? -v : v;
  return round_to(f, a * (1 - window)) == round_to(f, a * (1 + window)) ? round_to(f, v) : kNearBoundary;
}

}  // namespace ulpgate::norm::element
