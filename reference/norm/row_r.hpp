// A row's r from its exact sum of squares (spec/norm.md), correctly rounded by integer comparisons
// only: the profile's r = rsqrt(fl32(mean + eps)) rounded to fp32, and the ideal's r =
// sqrt(h / (sum + h eps)) rounded to double. An estimate by Newton's iteration in double, then the
// exact side of each neighbouring midpoint decides. constexpr and free of library math, so that the
// device reference (kernels/norm/reference_kernels.hpp) runs this source as norm.cpp does.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

#include "reference/norm/exact_sum.hpp"

namespace ulpgate::norm::row_r {

using u128 = unsigned __int128;

// A positive finite value as sig 2^exp (sig an integer).
struct Dyadic {
  uint64_t sig;
  int exp;
};
constexpr Dyadic split(float v) {
  const uint32_t b = std::bit_cast<uint32_t>(v), biased = b >> 23;
  return {(b & 0x7FFFFFu) | (biased ? 0x800000u : 0u), int(biased ? biased : 1u) - 150};
}
constexpr Dyadic split(double v) {
  const uint64_t b = std::bit_cast<uint64_t>(v), biased = b >> 52;
  return {(b & ((uint64_t(1) << 52) - 1)) | (biased ? uint64_t(1) << 52 : 0), int(biased ? biased : 1u) - 1075};
}

// 2^k as a double, k in the normal range.
constexpr double pow2(int k) { return std::bit_cast<double>(uint64_t(1023 + k) << 52); }

// 1/sqrt(x) for a positive normal double, within a few ulps: only where the search starts.
constexpr double rsqrt_estimate(double x) {
  double y = std::bit_cast<double>(0x5FE6EB50C7B537A9ull - (std::bit_cast<uint64_t>(x) >> 1));
  for (int i = 0; i < 5; ++i) y = y * (1.5 - 0.5 * x * y * y);
  return y;
}

// The sign of mu^2 v - 1, mu the midpoint above r (r = R 2^e: mu = (2R + 1) 2^(e-1)): exact, as
// (2R + 1)^2 V < 2^74 for fp32 r and v.
constexpr int upper_midpoint_squared_times_v_vs_one(Dyadic r, Dyadic v) {
  const u128 m = 2 * u128(r.sig) + 1, x = m * m * v.sig;
  const int k = -(2 * (r.exp - 1) + v.exp);  // mu^2 v = x 2^-k
  if (k < 0) return 1;                       // x >= 1
  if (k >= 128) return -1;                   // x < 2^74
  const u128 one = u128(1) << k;
  return x > one ? 1 : x < one ? -1 : 0;
}

// 1/sqrt(v) correctly rounded to fp32 (no ties: mu^2 v = 1 needs an odd square to divide a power
// of two).
constexpr float rsqrt_rn(float v) {
  const uint32_t b = std::bit_cast<uint32_t>(v);
  if (v != v || (b >> 31 && (b << 1))) return std::numeric_limits<float>::quiet_NaN();
  if ((b << 1) == 0) return std::bit_cast<float>((b & 0x80000000u) | 0x7F800000u);  // +-0: +-Inf
  if (b == 0x7F800000u) return 0.0f;
  const Dyadic dv = split(v);
  float r = float(rsqrt_estimate(double(v)));  // v >= 2^-149: r is a normal float
  for (;;) {  // 1/sqrt(v) > mu <=> mu^2 v < 1
    const uint32_t rb = std::bit_cast<uint32_t>(r);
    if (upper_midpoint_squared_times_v_vs_one(split(r), dv) < 0) {
      r = std::bit_cast<float>(rb + 1);
    } else if (const float down = std::bit_cast<float>(rb - 1); upper_midpoint_squared_times_v_vs_one(split(down), dv) > 0) {
      r = down;
    } else {
      return r;
    }
  }
}

// sign(x 2^k - h) for a 192-bit x (least significant limb first) and 0 < h < 2^63.
constexpr int shifted_vs(const uint64_t (&x)[3], int k, uint64_t h) {
  if (!(x[0] | x[1] | x[2])) return -1;
  if (k >= 0) {
    if (x[2] || x[1] || (k > 0 && (k >= 64 || x[0] >> (64 - k)))) return 1;
    const uint64_t v = x[0] << k;
    if (v >> 63) return 1;
    return v > h ? 1 : v < h ? -1 : 0;
  }
  const int t = -k, q = t / 64, sh = t % 64;  // x against h 2^t
  if (q >= 3) return -1;
  uint64_t y[4] = {};
  y[q] = h << sh;
  y[q + 1] = sh ? h >> (64 - sh) : 0;
  if (y[3]) return -1;
  for (int i = 2; i >= 0; --i)
    if (x[i] != y[i]) return x[i] > y[i] ? 1 : -1;
  return 0;
}

// The sign of mu^2 D - h, mu the midpoint above r (a positive double), D the exact sum (finite,
// > 0): first from D's top 64 bits (D in [T, T + 1) 2^s), which decide unless mu^2 D lies within
// 2^-63 (relative) of h; then (2R + 1)^2 times D's 640-bit integer, against h in the same unit.
constexpr int upper_midpoint_squared_times_d_vs_h(Dyadic r, const ExactSum& d, int64_t h) {
  constexpr int kWide = ExactSum::kLimbs + 3;
  const u128 m = 2 * u128(r.sig) + 1, sq = m * m;  // < 2^108
  const uint64_t sq_lo = uint64_t(sq), sq_hi = uint64_t(sq >> 64);
  const ExactSum::Top64 top = d.top64();
  {
    const u128 lo = u128(sq_lo) * top.bits, hi = u128(sq_hi) * top.bits + (lo >> 64);
    uint64_t x[3] = {uint64_t(lo), uint64_t(hi), uint64_t(hi >> 64)};  // (2R + 1)^2 T
    const int k = 2 * (r.exp - 1) + top.exp;
    const int low = shifted_vs(x, k, uint64_t(h));
    if (!top.below || low >= 0) return top.below ? 1 : low;  // D = T 2^s, or D > T 2^s
    const u128 s0 = u128(x[0]) + sq_lo, s1 = u128(x[1]) + sq_hi + (s0 >> 64);
    x[0] = uint64_t(s0), x[1] = uint64_t(s1), x[2] += uint64_t(s1 >> 64);  // (2R + 1)^2 (T + 1)
    if (shifted_vs(x, k, uint64_t(h)) <= 0) return -1;  // D < (T + 1) 2^s
  }
  uint64_t p[kWide] = {};
  for (int i = 0; i < ExactSum::kLimbs; ++i) {  // p += limb_i sq 2^(64 i)
    u128 t = u128(d.limb(i)) * sq_lo + p[i];
    p[i] = uint64_t(t);
    t = u128(d.limb(i)) * sq_hi + p[i + 1] + (t >> 64);
    p[i + 1] = uint64_t(t);
    for (int j = i + 2; (t >>= 64) != 0 && j < kWide; ++j) p[j] = uint64_t(t += p[j]);
  }
  // mu^2 D = p 2^(2 (e - 1) + kUnitExp); against h: p vs h 2^t.
  const int t = -(2 * (r.exp - 1) + ExactSum::kUnitExp);
  if (t < 0) {  // p 2^-t against h (no r of a row gets here: t >= 96 for every sum of squares)
    for (int i = 1; i < kWide; ++i)
      if (p[i]) return 1;
    if (-t >= 64 || (p[0] >> (64 + t)) != 0) return 1;
    const uint64_t scaled = p[0] << -t;
    return scaled > uint64_t(h) ? 1 : scaled < uint64_t(h) ? -1 : 0;
  }
  const int k = t / 64, sh = t % 64;
  if (k + 1 >= kWide) return -1;  // h 2^t >= 2^(64 kWide - 64) > p (p < 2^(640 + 108))
  uint64_t q[kWide] = {};
  q[k] = uint64_t(h) << sh;
  if (sh) q[k + 1] = uint64_t(h) >> (64 - sh);
  for (int i = kWide - 1; i >= 0; --i)
    if (p[i] != q[i]) return p[i] > q[i] ? 1 : -1;
  return 0;
}

// sqrt(h / d) correctly rounded to double, d finite and > 0 (no ties: as rsqrt_rn's).
constexpr double sqrt_ratio_rn(const ExactSum& d, int64_t h) {
  const ExactSum::Top64 top = d.top64();
  double r = rsqrt_estimate(double(top.bits) * pow2(top.exp) / double(h));
  for (;;) {  // sqrt(h / d) > mu <=> mu^2 d < h
    const uint64_t rb = std::bit_cast<uint64_t>(r);
    if (upper_midpoint_squared_times_d_vs_h(split(r), d, h) < 0) {
      r = std::bit_cast<double>(rb + 1);
    } else if (const double down = std::bit_cast<double>(rb - 1); upper_midpoint_squared_times_d_vs_h(split(down), d, h) > 0) {
      r = down;
    } else {
      return r;
    }
  }
}

// What the profile's r takes of its profile row, as plain data for a kernel.
struct Rule {
  bool divide;       // ms = fl(S / H), else fl(S * fl(1 / H))
  double eps_added;  // Profile::eps_added
};

// What the profile's rsqrt takes from fl32(S): its mean, + eps (fl32(ms + eps_added): see
// Profile::eps_added).
constexpr float profile_rsqrt_arg(const Rule& p, float sum, int64_t h) {
  const float fh = float(h);
  const float ms = p.divide ? sum / fh : sum * (1.0f / fh);
  return float(double(ms) + p.eps_added);
}

// The profile's r: fl32(S), the profile's mean, + eps, rsqrt correctly rounded to fp32.
constexpr float profile_r(const Rule& p, const ExactSum& s, int64_t h) { return rsqrt_rn(profile_rsqrt_arg(p, s.to_float(), h)); }

// The ideal's r from d = the sum of squares + h eps: sqrt(h / d) rounded once to double; NaN for a
// NaN, 0 for an Inf, +Inf for a zero d.
constexpr double ideal_r(const ExactSum& d, int64_t h) {
  if (d.nan()) return std::numeric_limits<double>::quiet_NaN();
  if (d.inf()) return 0;
  if (d.top64().bits == 0) return std::numeric_limits<double>::infinity();
  return sqrt_ratio_rn(d, h);
}

}  // namespace ulpgate::norm::row_r
