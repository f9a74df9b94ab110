// Inputs of the RMSNorm reference's tests (norm_reference_test.cpp, r_bounds_test.cpp): specs,
// hand rows and deterministic random rows independent of the harness.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "reference/norm/norm.hpp"
#include "reference/quant/layout.hpp"

namespace ulpgate::norm::testing {

inline Spec make_spec(Op op, const Profile& p, Format dtype, int64_t m, int64_t h) {
  Spec s;
  s.op = op;
  s.profile = &p;
  s.dtype = dtype;
  s.m = m;
  s.h = h;
  return s;
}

inline Spec quant_spec_of(const Profile& p, int64_t m, int64_t h, int gs, quant::Layout l, bool ue8m0 = false) {
  Spec s = make_spec(Op::rms_quant, p, Format::bf16, m, h);
  s.format = Format::e4m3fn;
  s.gs = gs;
  s.layout = l;
  s.ue8m0 = ue8m0;
  return s;
}

// A row of a profile with another eps (hand cases where ms + eps is a perfect square).
inline Profile with_eps(std::string_view name, double eps) {
  Profile p = profile(name);
  p.eps = float(eps);
  p.eps_added = eps;
  return p;
}

inline float to_t(Format f, double v) { return decode_f32(f, encode(v, Conversion{f, Overflow::nosat, ulpgate::Rounding::rne})); }
inline uint16_t bits_of(Format f, double v) { return uint16_t(encode(v, Conversion{f, Overflow::nosat, ulpgate::Rounding::rne})); }
inline float value_of(Format f, uint16_t bits) { return decode_f32(f, bits); }

// Deterministic inputs independent of the harness: xorshift64* mapped to [0, 1).
struct Rng {
  uint64_t s;
  double uniform() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return double((s * 0x2545F4914F6CDD1DULL) >> 11) * 0x1p-53;
  }
  double normalish() { return (uniform() + uniform() + uniform() + uniform() - 2) * 1.7; }
};

inline Inputs random_inputs(const Spec& s, uint64_t seed, double sigma = 1.0) {
  Rng g{seed * 0x9E3779B97F4A7C15ULL + 1};
  Inputs in;
  const size_t n = size_t(s.m * s.h);
  for (size_t i = 0; i < n; ++i) in.x.push_back(to_t(s.dtype, g.normalish() * sigma));
  if (s.has_residual())
    for (size_t i = 0; i < n; ++i) in.residual.push_back(to_t(s.dtype, g.normalish() * sigma));
  for (int64_t i = 0; i < s.h; ++i) in.weight.push_back(to_t(s.dtype, 0.5 + g.uniform()));
  return in;
}

inline Inputs constant_row(int64_t h, float x, float w) {
  return Inputs{std::vector<float>(size_t(h), x), {}, std::vector<float>(size_t(h), w)};
}

}  // namespace ulpgate::norm::testing
