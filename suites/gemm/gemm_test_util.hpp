// Shared by the GEMM reference tests: specs, deterministic inputs independent of the harness.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

#include "reference/gemm/gemm.hpp"

namespace gemm_test {

using namespace ulpgate;
using namespace ulpgate::gemm;

inline Spec make_spec(Op op, std::string_view profile_name, int64_t m, int64_t n, int64_t k,
                      Format a = Format::e4m3fn, Format b = Format::e4m3fn, Format out = Format::fp32) {
  Spec s;
  s.op = op;
  s.profile = &profile(profile_name);
  s.a_format = a;
  s.b_format = b;
  s.out = out;
  s.m = m, s.n = n, s.k = k;
  return s;
}

// xorshift64* mapped to [0, 1).
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  uint64_t next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
  double uniform() { return double(next() >> 11) * 0x1p-53; }
  double normal() {  // Box-Muller: libm is fine for test data (the bits are what they are)
    const double u = uniform() + 0x1p-60, v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  int below(int n) { return int(next() % uint64_t(n)); }
};

inline uint8_t to_code(Format f, double v) {
  return uint8_t(encode(v, Conversion{f, Overflow::satfinite, Rounding::rne}));
}

// A code with any finite value of the format (subnormals and the extremes included).
inline uint8_t random_code(Format f, Rng& g) {
  for (;;) {
    const auto c = uint8_t(g.next() >> 56);
    if (std::isfinite(decode(f, c))) return c;
  }
}

// Random scales: fp32 with random significands over [2^-20, 2^20], or powers of two for ue8m0.
inline float random_scale(Rng& g, bool pow2) {
  const int e = g.below(41) - 20;
  if (pow2) return std::ldexp(1.0f, e);
  return std::ldexp(float(1 + g.uniform()), e);
}

enum class Data { codes, normal };  // uniform over finite codes, or N(0,1) quantized

inline Operands random_operands(const Spec& s, uint64_t seed, Data data = Data::codes) {
  Rng g(seed);
  Operands in;
  const auto fill = [&](std::vector<uint8_t>& v, int64_t count, Format f) {
    for (int64_t i = 0; i < count; ++i) v.push_back(data == Data::codes ? random_code(f, g) : to_code(f, g.normal()));
  };
  fill(in.a, s.m * s.k, s.a_format);
  fill(in.b, s.n * s.k, s.b_format);
  const Geometry geo = geometry(s);
  for (int64_t i = 0; i < geo.sa.m * geo.sa.g; ++i) in.sa.push_back(random_scale(g, s.pow2_scales()));
  for (int64_t i = 0; i < geo.sb.m * geo.sb.g; ++i) in.sb.push_back(random_scale(g, s.pow2_scales()));
  return in;
}

inline Operands unit_scales(const Spec& s, Operands in) {
  const Geometry geo = geometry(s);
  in.sa.assign(size_t(geo.sa.m * geo.sa.g), 1.0f);
  in.sb.assign(size_t(geo.sb.m * geo.sb.g), 1.0f);
  return in;
}

}  // namespace gemm_test
