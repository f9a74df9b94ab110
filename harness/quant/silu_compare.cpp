#include "harness/quant/silu_compare.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "reference/parallel.hpp"
#include "reference/quant/silu.hpp"

namespace ulpgate::quant {
namespace {

bool same_float(float a, float b) { return std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b)); }

struct Reconciled {
  Expected expected;
  uint64_t flips = 0;
};

// The group's y values a kernel may have had, their least possible amax, and the amax that gives
// the scale the kernel wrote (the profile's where it wrote that one).
struct GroupChoices {
  std::vector<std::vector<float>> y;
  float amax;
  float scale;
  bool scale_moved;
};

GroupChoices group_choices(const Spec& s, std::span<const float> x, const Expected& e, int64_t row, int64_t g,
                           float got_scale) {
  const int64_t c0 = g * s.gs;
  const size_t si = size_t(row * s.scale_shape().g + g);
  GroupChoices ch{{}, 0, e.profile.scales[si], false};
  float lo = 0, profile_amax = 0;
  for (int64_t k = 0; k < s.gs; ++k) {
    const size_t at = size_t(row * 2 * s.k + c0 + k);
    ch.y.push_back(admissible_y(s, x[at], x[at + size_t(s.k)]));
    lo = std::fmax(lo, std::fabs(ch.y.back().front()) < std::fabs(ch.y.back().back()) ? std::fabs(ch.y.back().front())
                                                                                      : std::fabs(ch.y.back().back()));
    profile_amax = std::fmax(profile_amax, std::fabs(e.y[size_t(row * s.k + c0 + k)]));
  }
  ch.amax = profile_amax;
  if (same_float(got_scale, ch.scale)) return ch;
  const auto explains = [&](float amax) {
    return std::ranges::any_of(admissible_scales(s, amax), [&](float v) { return same_float(v, got_scale); });
  };
  const auto take = [&](float amax) { ch.amax = amax, ch.scale = got_scale, ch.scale_moved = true; };
  if (explains(profile_amax)) {
    take(profile_amax);
    return ch;
  }
  for (const auto& ys : ch.y)
    for (float v : ys)
      if (std::fabs(v) >= lo && explains(std::fabs(v))) {
        take(std::fabs(v));
        return ch;
      }
  return ch;
}

// The code the profile gives an admissible y (read back as stored) in a group of this amax and
// scale; with approximate division any code of the quotients the division may give is `got`.
bool gives_code(const Case& c, float y, float amax, float scale, uint8_t got) {
  const Spec& s = c.spec;
  const float v = stored_y(*s.profile, c.input, y);
  const Factor f = group_factor(s, amax, scale);
  if (!f.divide || !s.profile->approx_division) return quantize_value(s, v, amax, scale) == got;
  return std::ranges::any_of(admissible_quotients(*s.profile, v, f.v),
                             [&](float q) { return code_of_quotient(s, q) == got; });
}

// The profile-exact result with each scale and code the backend wrote replaced by it where an
// admissible y explains it.
Reconciled reconcile(const Case& c, const Inputs& in, const Expected& e, const Observed& o) {
  const Spec& s = c.spec;
  Reconciled rec{e, 0};
  const ScaleShape ss = s.scale_shape();
  if (o.codes.size() != e.profile.codes.size() || int64_t(o.storage.size()) != s.scale_bytes()) return rec;
  Result& want = rec.expected.profile;
  const std::vector<float> got_scales = unpack(s.layout, ss, o.storage);
  std::atomic<uint64_t> flips = 0;
  // Rows on every core: a row's groups write only the row's scales and codes.
  parallel_for_large(s.m, std::max<int64_t>(1, (int64_t(1) << 15) / s.k), [&](int64_t row0, int64_t row1) {
    uint64_t own_flips = 0;
    for (int64_t row = row0; row < row1; ++row)
      for (int64_t g = 0; g < ss.g; ++g) {
        const size_t si = size_t(row * ss.g + g), i0 = size_t(row * s.k + g * s.gs);
        const auto first = o.codes.begin() + ptrdiff_t(i0);
        const bool same_codes = std::equal(first, first + ptrdiff_t(s.gs), want.codes.begin() + ptrdiff_t(i0));
        if (same_codes && same_float(got_scales[si], want.scales[si])) continue;
        const GroupChoices ch = group_choices(s, in.values, e, row, g, got_scales[si]);
        if (ch.scale_moved) want.scales[si] = ch.scale, ++own_flips;
        for (int64_t k = 0; k < s.gs; ++k) {
          const size_t i = i0 + size_t(k);
          const uint8_t got = o.codes[i];
          if (got == want.codes[i] && !ch.scale_moved) continue;
          const auto& ys = ch.y[size_t(k)];
          if (std::ranges::any_of(ys, [&](float y) { return gives_code(c, y, ch.amax, ch.scale, got); })) {
            own_flips += got != want.codes[i];
            want.codes[i] = got;
          } else {
            want.codes[i] = quantize_value(s, stored_y(*s.profile, c.input, e.y[i]), ch.amax, ch.scale);
          }
        }
      }
    flips += own_flips;
  });
  rec.flips = flips;
  want.storage = pack(s.layout, ss, want.scales);
  rec.expected.ideal = silu_mul_ideal(s, in.values, want.scales);
  return rec;
}

// The output of a kernel that took the row's halves the other way round: y = SiLU(up) * gate.
bool halves_swapped(const Case& c, const Inputs& in, const Observed& o) {
  std::vector<float> swapped(in.values.size());
  const int64_t k = c.spec.k;
  for (int64_t row = 0; row < c.spec.m; ++row)
    for (int64_t j = 0; j < k; ++j) {
      swapped[size_t(row * 2 * k + j)] = in.values[size_t(row * 2 * k + k + j)];
      swapped[size_t(row * 2 * k + k + j)] = in.values[size_t(row * 2 * k + j)];
    }
  const Result r = silu_mul_quantized(c.spec, c.input, silu_mul_values(c.spec, swapped));
  return std::ranges::equal(r.codes, o.codes) && std::ranges::equal(r.storage, o.storage);
}

}  // namespace

CaseResult compare_silu_mul(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                            const BudgetTable& budgets) {
  const Reconciled rec = reconcile(c, in, e, o);
  CaseResult r = compare(c, Inputs{{}, e.y}, rec.expected, o, budgets);
  // Elements that matched only at another admissible exp are flips, not exact matches.
  const uint64_t moved = std::min(rec.flips, r.n_exact);
  r.n_exact -= moved;
  r.n_within += moved;
  if (r.verdict == Verdict::exact && moved) r.verdict = Verdict::within_budget;
  if (!passes(r.verdict) && !o.codes.empty() && halves_swapped(c, in, o))
    r.message = "the output is SiLU(up) * gate: the kernel took the row's halves the other way round (gate is the "
                "first K elements of each [gate | up] row)";
  return r;
}

}  // namespace ulpgate::quant
