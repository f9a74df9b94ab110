#include "reference/quant/silu.hpp"

#include <algorithm>
#include <bit>
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

// Ascending by value, one of each bit pattern (-0 before +0, NaN at the ends by sign): the order
// of the bits as sign and magnitude.
void sort_unique(std::vector<float>& v) {
  const auto key = [](float a) {
    const uint32_t b = std::bit_cast<uint32_t>(a);
    return b >> 31 ? -int64_t(b & 0x7fffffffu) - 1 : int64_t(b);
  };
  std::ranges::sort(v, {}, key);
  v.erase(std::unique(v.begin(), v.end(), [&](float a, float b) { return key(a) == key(b); }), v.end());
}

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

int exp_ulps_at(const Profile& p, float x) {
  // e^+-Inf is exact; past |x| = 2^24 e^x is 0 or Inf whatever the window (and it stays an int).
  const double by_x = std::isfinite(x) ? std::floor(double(p.exp_ulps_per_x) * std::min(std::fabs(double(x)), 0x1p24)) : 0;
  return int(std::floor(p.exp_ulps + 0.5)) + int(by_x);
}

float flushed(const Profile& p, float x) {
  return p.ftz && x != 0 && std::fabs(x) < std::numeric_limits<float>::min() ? std::copysign(0.0f, x) : x;
}

float quotient(const Profile& p, float x, float d) {
  x = flushed(p, x), d = flushed(p, d);
  if (p.approx_division && std::fabs(d) > 0x1p126f && !std::isnan(x))  // x times a flushed 1 / d
    return std::isinf(x) ? std::numeric_limits<float>::quiet_NaN() : std::copysign(0.0f, x) * (d < 0 ? -1.0f : 1.0f);
  return flushed(p, x / d);
}

std::vector<float> admissible_quotients(const Profile& p, float x, float d) {
  const float q = quotient(p, x, d);
  const float ad = std::fabs(flushed(p, d));
  if (!p.approx_division || std::isnan(q) || ad > 0x1p126f || ad < 0x1p-126f) return {q};  // ad < 2^-126: x / 0
  std::vector<float> out;
  float v = std::nextafter(std::nextafter(q, -INFINITY), -INFINITY);
  for (int i = 0; i < 5; ++i, v = std::nextafter(v, INFINITY)) out.push_back(flushed(p, v));
  sort_unique(out);
  return out;
}

namespace {

// fl(1 + e), the sigmoid's denominator, and y from it.
float denominator(const Profile& p, float e) { return flushed(p, 1.0f + flushed(p, e)); }
float silu_mul_of_d(const Profile& p, float g, float u, float d) {
  const float t = p.silu_divides ? quotient(p, flushed(p, g), d) : g * (1.0f / d);
  return flushed(p, t * flushed(p, u));
}

}  // namespace

float silu_mul_at(const Profile& p, float g, float u, float e) { return silu_mul_of_d(p, g, u, denominator(p, e)); }

std::vector<float> silu_mul_values(const Spec& spec, std::span<const float> x) {
  std::vector<float> y(size_t(spec.m * spec.k));
  for_each_row(spec, [&](int64_t r) {
    for (int64_t k = 0; k < spec.k; ++k) {
      const float g = gate_of(spec, x, r, k);
      y[size_t(r * spec.k + k)] = silu_mul_at(*spec.profile, g, up_of(spec, x, r, k), exp_correctly_rounded(-g));
    }
  });
  return y;
}

float rounded_to(Format input, float y) {
  if (input == Format::fp32) return y;
  return input == Format::bf16 ? bf16_to_float(float_to_bf16(y)) : fp16_to_float(float_to_fp16(y));
}

float stored_y(const Profile& p, Format input, float y) { return p.codes_from_stored_y ? rounded_to(input, y) : y; }

Result silu_mul_quantized(const Spec& spec, Format input, std::span<const float> y) {
  const Profile& p = *spec.profile;
  if (!p.codes_from_stored_y && !p.amax_from_stored_y) return quantize_profile(spec, y);
  std::vector<float> stored(y.size());
  std::ranges::transform(y, stored.begin(), [&](float v) { return rounded_to(input, v); });
  return quantize_profile(spec, p.amax_from_stored_y ? std::span<const float>(stored) : y,
                          p.codes_from_stored_y ? std::span<const float>(stored) : y);
}

std::vector<float> admissible_y(const Spec& spec, float g, float u) {
  const Profile& p = *spec.profile;
  // The exact e^-g is within 1/2 ulp of e0; a kernel's within exp_ulps_at steps of it (e0 = Inf:
  // Inf). Every e of the window is walked but those below 2^-24, whose fl(1 + e) are all 1.
  const float e0 = exp_correctly_rounded(-g);
  if (std::isnan(e0)) return {silu_mul_at(p, g, u, e0)};
  const int64_t n = exp_ulps_at(p, -g), bits = std::bit_cast<uint32_t>(e0);
  const auto e_at = [&](int64_t b) { return std::bit_cast<float>(uint32_t(std::clamp<int64_t>(b, 0, 0x7f800000))); };
  const float e_lo = std::isinf(e0) ? e0 : e_at(bits - n), e_hi = std::isinf(e0) ? e0 : e_at(bits + n);
  const float gf = flushed(p, g), uf = flushed(p, u), past_one = std::nextafter(0x1p-24f, INFINITY);
  std::vector<float> out;
  for (float e = e_lo, last_d = 0;; e = e < 0x1p-24f ? std::min(past_one, e_hi) : std::nextafter(e, INFINITY)) {
    const float d = denominator(p, e);
    if (d != last_d) {
      if (p.silu_divides)
        for (float t : admissible_quotients(p, gf, d)) out.push_back(flushed(p, t * uf));
      else
        out.push_back(silu_mul_of_d(p, g, u, d));
    }
    last_d = d;
    if (!(e < e_hi)) break;
  }
  sort_unique(out);
  return out;
}

std::vector<float> admissible_scales(const Spec& spec, float amax) {
  const Profile& p = *spec.profile;
  const float s = group_scale(spec, amax);
  if (!p.approx_division || spec.pow2_scales() || p.scale_op != ScaleOp::divide || spec.amax_cap > 0 || std::isnan(s))
    return {s};
  std::vector<float> out = admissible_quotients(p, std::fmax(amax, p.amax_floor), spec.fp8_max());
  for (float& v : out) v = p.fp32_scale_floor > 0 ? std::fmax(v, p.fp32_scale_floor) : v;
  sort_unique(out);
  return out;
}

double silu_mul_exact(float g, float u) {
  if (!std::isfinite(g) || !std::isfinite(u))  // both forms' fp32 limits: Inf * 1, -Inf / Inf, ...
    return double((g * (1.0f / (1.0f + exp_correctly_rounded(-g)))) * u);
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
