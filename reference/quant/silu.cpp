#include "reference/quant/silu.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <boost/multiprecision/cpp_bin_float.hpp>

#include "reference/parallel.hpp"

namespace ulpgate::quant {
namespace {

using Big = boost::multiprecision::cpp_bin_float_50;

// The row's gate and up halves: element k of row r.
float gate_of(const Spec& s, std::span<const float> x, int64_t r, int64_t k) { return x[size_t(r * 2 * s.k + k)]; }
float up_of(const Spec& s, std::span<const float> x, int64_t r, int64_t k) { return x[size_t(r * 2 * s.k + s.k + k)]; }

// fn(row) for every row, rows split over the cores (each row writes only its own outputs).
template <class Fn>
void for_each_row(const Spec& s, Fn fn) {
  parallel_for_each(s.m, std::max<int64_t>(1, (int64_t(1) << 14) / s.k), fn);
}

}  // namespace

float exp_correctly_rounded(float x) {
  const double d = std::exp(double(x));  // within an ulp of double: only a near-midpoint is in doubt
  const float f = float(d);
  if (!std::isfinite(f) || f == 0) return f;
  const float up = std::nextafter(f, INFINITY), down = std::nextafter(f, 0.0f);
  const double mid_up = (double(f) + double(up)) / 2, mid_down = (double(f) + double(down)) / 2;
  const double slack = std::ldexp(std::fabs(d), -48);
  if (std::fabs(d - mid_up) > slack && std::fabs(d - mid_down) > slack) return f;
  return exp(Big(x)).convert_to<float>();  // 50 digits decide the midpoint
}

float silu_mul_at(float g, float u, float e) {
  const float sigmoid = 1.0f / (1.0f + e);
  return (g * sigmoid) * u;
}

std::vector<float> silu_mul_values(const Spec& spec, std::span<const float> x) {
  std::vector<float> y(size_t(spec.m * spec.k));
  for_each_row(spec, [&](int64_t r) {
    for (int64_t k = 0; k < spec.k; ++k) {
      const float g = gate_of(spec, x, r, k);
      y[size_t(r * spec.k + k)] = silu_mul_at(g, up_of(spec, x, r, k), exp_correctly_rounded(-g));
    }
  });
  return y;
}

std::vector<float> admissible_y(const Spec& spec, float g, float u) {
  float e = exp_correctly_rounded(-g);
  // The exact e^-g is within 1/2 ulp of e; a kernel's within exp_ulps of it.
  const int steps = int(std::floor(spec.profile->exp_ulps + 0.5));
  for (int i = 0; i < steps && e > 0 && std::isfinite(e); ++i) e = std::nextafter(e, 0.0f);
  std::vector<float> out;
  for (int i = 0; i <= 2 * steps; ++i) {
    const float y = silu_mul_at(g, u, e);
    if (std::ranges::none_of(out, [&](float v) { return std::memcmp(&v, &y, 4) == 0; })) out.push_back(y);
    if (!std::isfinite(e)) break;
    e = std::nextafter(e, INFINITY);
  }
  std::ranges::sort(out, [](float a, float b) { return a < b; });
  return out;
}

double silu_mul_exact(float g, float u) {
  if (!std::isfinite(g) || !std::isfinite(u)) return double(silu_mul_at(g, u, exp_correctly_rounded(-g)));
  // x87 extended precision: expl within an ulp of 2^-63, so y to about 2^-61 relative, far below
  // the double it is returned as (the ideal's boundary decisions read that double).
  const long double y = (static_cast<long double>(g) * u) / (1.0L + std::exp(-static_cast<long double>(g)));
  return double(y);
}

std::vector<uint8_t> silu_mul_ideal(const Spec& spec, std::span<const float> x, std::span<const float> scales) {
  const Profile& p = *spec.profile;
  const Conversion cast{spec.format, p.cast};
  const ScaleShape ss = spec.scale_shape();
  std::vector<uint8_t> codes(size_t(spec.m * spec.k));
  for_each_row(spec, [&](int64_t r) {
    for (int64_t k = 0; k < spec.k; ++k) {
      const float g = gate_of(spec, x, r, k), u = up_of(spec, x, r, k), s = scales[size_t(r * ss.g + k / spec.gs)];
      const double y = silu_mul_exact(g, u);
      const size_t i = size_t(r * spec.k + k);
      if (std::isfinite(y) && std::isfinite(s) && s > 0)
        codes[i] = uint8_t(ideal_code(y, s, p.clamp ? double(spec.fp8_max()) : 0.0, cast));
      else  // non-finite: the profile's steps, as quantize_ideal does
        codes[i] = quantize_value(spec, float(y), 0.0f, s);
    }
  });
  return codes;
}

}  // namespace ulpgate::quant
