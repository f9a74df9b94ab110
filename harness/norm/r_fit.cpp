#include "harness/norm/r_fit.hpp"

#include <bit>
#include <cmath>

namespace ulpgate::norm {
namespace {

// The first positive finite fp32 r (as bits) at which value(r) >= target, value nondecreasing.
template <class Value>
uint32_t first_at_least(Value value, double target) {
  uint32_t lo = 1, hi = 0x7f800000u;  // hi: +Inf, past every finite r
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (value(std::bit_cast<float>(mid)) >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// The r (bits, [lo, hi]) at which element (z, w) gives y; lo > hi when none does.
std::pair<uint32_t, uint32_t> r_of(const Spec& s, float z, float w, uint16_t y) {
  const double sign = (z < 0) != (w < 0) ? -1.0 : 1.0;  // y falls with r where z w < 0
  const auto value = [&](float r) { return sign * decode(s.dtype, output_at(s, z, w, r)); };
  const double target = sign * decode(s.dtype, y);
  const uint32_t lo = first_at_least(value, target);
  const uint32_t past = first_at_least(value, std::nextafter(target, INFINITY));
  return {lo, past - 1};
}

}  // namespace

std::vector<RowR> fit_rows(const Spec& s, const Inputs& in, std::span<const uint16_t> y,
                           std::span<const double> exact_r, double rel, uint16_t poison) {
  std::vector<RowR> rows(size_t(s.m));
  for (int64_t row = 0; row < s.m; ++row) {
    RowR& f = rows[size_t(row)];
    f.exact = exact_r[size_t(row)];
    if (!std::isfinite(f.exact) || f.exact == 0) continue;  // NaN/Inf rows: r does not matter
    uint32_t lo = 1, hi = 0x7f7fffffu;
    for (int64_t col = 0; col < s.h; ++col) {
      const size_t i = size_t(row * s.h + col);
      const float z = profile_z(s, in, i), w = in.weight[size_t(col)];
      if (y[i] == poison || z == 0 || w == 0 || !std::isfinite(z) || !std::isfinite(w) || is_nan(s.dtype, y[i]))
        continue;
      const auto [a, b] = r_of(s, z, w, y[i]);
      f.informative = true;
      lo = std::max(lo, a), hi = std::min(hi, b);
    }
    f.lo = std::bit_cast<float>(lo), f.hi = std::bit_cast<float>(hi);
    f.one_r = f.informative && lo <= hi;
    if (!f.one_r) continue;
    // ms = 1/r^2 - eps: a larger r means a smaller mean square.
    const double eps = s.profile->eps_added, ms = 1 / (f.exact * f.exact) - eps;
    if (ms > 0) {
      const double lo_r = double(f.lo) * (1 - rel), hi_r = double(f.hi) * (1 + rel);
      f.k_lo = (1 / (hi_r * hi_r) - eps) / ms;
      f.k_hi = (1 / (lo_r * lo_r) - eps) / ms;
    }
  }
  return rows;
}

bool within(const RowR& row, double r, double rel) {
  return row.one_r && r * (1 - rel) <= double(row.hi) && double(row.lo) <= r * (1 + rel);
}

bool larger_r(const RowR& row, double rel) {
  return row.informative && double(row.lo) > row.exact * (1 + rel) && double(row.hi) >= row.exact * (1 - rel);
}

}  // namespace ulpgate::norm
