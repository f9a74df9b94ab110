// Hypotheses that the arithmetic differs from the profile's (diagnosis_parts.hpp). Each predicts
// the whole output from the inputs and fits only when the output is exactly that prediction.
#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <span>

#include "harness/quant/diagnosis_parts.hpp"
#include "harness/report/text.hpp"

namespace ulpgate::quant {
namespace {

Fit fit_if(bool full) { return full ? Fit::full : Fit::none; }

bool same_bits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

// A floor for stories: 1e-10, 0.0001; 0 is "none" (a floor that is not there).
std::string floor_text(float v) { return v == 0 ? "none" : text::short_num(v); }

size_t scale_index(const Spec& s, int64_t row, int64_t col) {
  return size_t((row / s.tile_rows()) * s.scale_shape().g + col / s.tile_cols());
}

// ---- one profile parameter changed -----------------------------------------------------------

std::string_view scale_op_text(ScaleOp o) {
  switch (o) {
    case ScaleOp::divide: return "amax / max";
    case ScaleOp::reciprocal: return "amax * fl(1/max)";
    case ScaleOp::inverse_ratio: break;
  }
  return "fl(1 / fl(max/amax))";
}
std::string_view quant_op_text(QuantOp o) {
  switch (o) {
    case QuantOp::divide: return "x / s";
    case QuantOp::reciprocal: return "x * fl(1/s)";
    case QuantOp::ratio: return "x * fl(max/amax) (1 for amax 0 or Inf)";
    case QuantOp::max_over_amax: break;
  }
  return "x * fl(max/amax)";
}
std::string_view pow2_text(Pow2Rule r) {
  return r == Pow2Rule::exponent_bits ? "exponent bits" : "exp2(ceil(log2 s)) (R6)";
}

// Every profile one parameter away from the spec's, limited to the parameters the case uses.
std::vector<Variants<Profile>::Variant> variants(const Spec& s) {
  const Profile& p = *s.profile;
  Variants<Profile> v{p, {}};
  const auto instead = [](auto now, auto was) { return std::string(now) + " instead of " + std::string(was); };
  // MX kernels floor amax against log2(0) (1e-30: sglang's to_mxfp8), group quantizers against 0 / 0.
  static constexpr float kGroupFloors[] = {0.0f, 1e-10f, 1e-4f}, kMxFloors[] = {0.0f, 1e-30f};
  for (float f : s.mx_scales() ? std::span<const float>(kMxFloors) : std::span<const float>(kGroupFloors))
    if (f != p.amax_floor)
      v.add("amax floor " + instead(floor_text(f), floor_text(p.amax_floor)), [f](Profile& q) { q.amax_floor = f; });
  if (s.pow2_scales() && !s.mx_scales()) {
    for (float f : {0.0f, 1e-10f})
      if (f != p.scale_floor)
        v.add("scale floor " + instead(floor_text(f), floor_text(p.scale_floor)),
              [f](Profile& q) { q.scale_floor = f; });
    const Pow2Rule other = p.pow2 == Pow2Rule::exponent_bits ? Pow2Rule::exp2_ceil_log2 : Pow2Rule::exponent_bits;
    v.add("ue8m0 rule " + instead(pow2_text(other), pow2_text(p.pow2)), [other](Profile& q) { q.pow2 = other; });
  }
  if (!s.mx_scales() || p.mx == MxRule::rceil) {
    const ScaleOp other = p.scale_op == ScaleOp::divide ? ScaleOp::reciprocal : ScaleOp::divide;
    v.add("scale op " + instead(scale_op_text(other), scale_op_text(p.scale_op)),
          [other](Profile& q) { q.scale_op = other; });
  }
  if (!s.pow2_scales())
    for (QuantOp o : {QuantOp::divide, QuantOp::reciprocal, QuantOp::max_over_amax})
      if (o != p.quant_op)
        v.add("quant op " + instead(quant_op_text(o), quant_op_text(p.quant_op)), [o](Profile& q) { q.quant_op = o; });
  v.add(std::string("clamp ") + (p.clamp ? "none instead of +-max" : "+-max instead of none"),
        [](Profile& q) { q.clamp = !q.clamp; });
  if (p.clamp && p.nan == NanPolicy::ignore)
    v.add(p.nan_to_max ? "clamp order fminf(fmaxf(q, -max), max) (NaN -> -max) instead of fmaxf(-max, fminf(q, max))"
                       : "clamp order fmaxf(-max, fminf(q, max)) (NaN -> +max) instead of fminf(fmaxf(q, -max), max)",
          [](Profile& q) { q.nan_to_max = !q.nan_to_max; });
  v.add(std::string("NaN policy ") +
            (p.nan == NanPolicy::ignore ? "propagate instead of ignore" : "ignore instead of propagate"),
        [](Profile& q) { q.nan = q.nan == NanPolicy::ignore ? NanPolicy::propagate : NanPolicy::ignore; });
  for (Overflow o : {Overflow::satfinite, Overflow::nosat})
    if (o != p.cast) v.add("cast " + instead(overflow_name(o), overflow_name(p.cast)), [o](Profile& q) { q.cast = o; });
  return v.list;
}

// ---- scales computed otherwise, the codes following them ---------------------------------------

// The scales the storage holds (logical, row-major over the scale shape).
std::vector<float> written_scales(const Spec& s, const Observed& o) {
  if (!s.writes_scales()) return std::vector<float>(size_t(s.scale_shape().m * s.scale_shape().g), s.static_scale);
  return unpack(s.layout, s.scale_shape(), o.storage);
}

// Do the codes and the storage follow these scales (each group's own amax)? What a kernel whose
// scale computation alone is wrong writes.
bool follows_scales(const Spec& s, const Inputs& in, const Observed& o, std::span<const float> scales) {
  if (!std::ranges::equal(pack(s.layout, s.scale_shape(), scales), o.storage)) return false;
  const std::vector<float> amax = group_amax(s, in.values);
  for (int64_t r = 0; r < s.m; ++r)
    for (int64_t c = 0; c < s.k; ++c) {
      const size_t i = size_t(r * s.k + c), g = scale_index(s, r, c);
      if (quantize_value(s, in.values[i], amax[g], scales[g]) != o.codes[i]) return false;
    }
  return true;
}

// The scales before their power-of-two rounding (after the profile's floors); empty where the
// profile has no such step (the MX floor rule).
std::vector<float> unrounded_scales(const Spec& s, std::span<const float> x) {
  if (s.mx_scales()) {
    if (s.profile->mx != MxRule::rceil) return {};
    std::vector<float> t = group_amax(s, x);
    for (float& a : t) a = a * (1.0f / s.fp8_max());  // rceil's t, before its ue8m0 rounding up
    return t;
  }
  Spec u = s;
  u.ue8m0 = false;
  u.layout = Layout::row;
  std::vector<float> scales = quantize_profile(u, x).scales;
  for (float& v : scales) v = std::fmax(v, s.profile->scale_floor);
  return scales;
}

// The power of two at or below s (s itself where it is one, 0, Inf or NaN).
float pow2_down(float s) { return std::isfinite(s) && s > 0 ? std::ldexp(1.0f, std::ilogb(s)) : s; }

// Scales a rounding rule predicts from the unrounded ones.
struct Pow2Rounding {
  const char* seen;
  const char* cause;
  float (*scale)(float unrounded);
};

constexpr Pow2Rounding kPow2Roundings[] = {
    {"scales are the power of two below the profile's wherever the unrounded scale is not one, and the codes "
     "follow them",
     "the scale's power-of-two rounding rounds down (toward zero) where the profile rounds up",
     [](float u) { return pow2_down(u); }},
    {"scales are twice the profile's wherever the unrounded scale is an exact power of two, and the codes follow them",
     "a power-of-two rounding that adds one even at exact powers of two (R6 class)",
     [](float u) { return 2 * pow2_down(u); }},
};

std::string mx_rule_text(MxRule r) {
  switch (r) {
    case MxRule::floor: return "2^(floor(log2 amax) - emax of the element format)";
    case MxRule::rceil: return "fl(amax * fl(1/max)) rounded up to a power of two";
    case MxRule::ceil: return "2^ceil(log2(amax / max)), exact";
    case MxRule::even: return "amax rounded half up to the element's mantissa, then the floor rule";
    case MxRule::rn: return "fl(amax / max) rounded to the nearest power of two";
    case MxRule::none: break;
  }
  return "none";
}

// Does every differing scale equal v?
bool differing_all_equal(std::span<const float> got, std::span<const float> want, float v) {
  bool any = false;
  for (size_t i = 0; i < got.size(); ++i)
    if (!same_bits(got[i], want[i])) {
      if (!same_bits(got[i], v)) return false;
      any = true;
    }
  return any;
}

// R7: with no amax floor an all-zero group's scale is 0 / max = 0 and each code the cast of
// 0 / 0: NaN, or +-max where a clamp met the NaN. Every other group is the profile's (within
// one code where the profile's division is approximate).
bool zero_groups_divide_by_zero(const Evidence& ev) {
  const Spec& s = ev.c.spec;
  const std::vector<float> amax = group_amax(s, ev.in.values);
  const std::vector<float> got = written_scales(s, ev.o);
  bool any = false;
  for (size_t g = 0; g < amax.size(); ++g) {
    if (amax[g] != 0) {
      if (!same_bits(got[g], ev.e.profile.scales[g])) return false;
    } else if (got[g] != 0 && std::isfinite(got[g])) {
      return false;
    }
    any = any || amax[g] == 0;
  }
  const int slack = s.profile->approx_division ? 1 : 0;
  for (int64_t r = 0; r < s.m; ++r)
    for (int64_t c = 0; c < s.k; ++c) {
      const size_t i = size_t(r * s.k + c);
      const uint32_t code = ev.o.codes[i];
      if (amax[scale_index(s, r, c)] == 0) {
        const double v = decode(s.format, code);
        if (!std::isnan(v) && std::fabs(v) != s.fp8_max()) return false;
      } else if (const auto d = ulp_distance(s.format, code, ev.e.profile.codes[i]); !d || *d > slack) {
        return false;
      }
    }
  return any;
}

// The amax of part of a group: every scale and code follows the largest |x| of some subset of
// the group (a lane's or a half-warp's), never more than the whole group's.
class PartialAmax {
 public:
  PartialAmax(const Spec& s, const Inputs& in, const Expected& e, const Observed& o)
      : s_(s), x_(in.values), e_(e), o_(o), amax_(group_amax(s, in.values)), members_(amax_.size()) {
    for (int64_t r = 0; r < s.m; ++r)
      for (int64_t c = 0; c < s.k; ++c) members_[scale_index(s, r, c)].push_back(size_t(r * s.k + c));
  }

  bool fits() {
    const std::vector<float> got = written_scales(s_, o_);
    if (!std::ranges::equal(pack(s_.layout, s_.scale_shape(), got), o_.storage)) return false;
    for (size_t g = 0; g < amax_.size(); ++g) {
      if (same_bits(got[g], e_.profile.scales[g]) && codes_right(g)) continue;
      const std::vector<float> partial = partial_maxima(g);
      if (!same_bits(got[g], e_.profile.scales[g]) &&
          std::ranges::none_of(partial, [&](float a) { return same_bits(group_scale(s_, a), got[g]); }))
        return false;
      for (size_t i : members_[g])
        if (o_.codes[i] != e_.profile.codes[i] && !partial_code(i, partial)) return false;
    }
    return true;
  }

 private:
  bool codes_right(size_t g) const {
    return std::ranges::all_of(members_[g], [&](size_t i) { return o_.codes[i] == e_.profile.codes[i]; });
  }
  // The distinct finite |x| of the group below its amax, ascending.
  std::vector<float> partial_maxima(size_t g) const {
    std::vector<float> a;
    for (size_t i : members_[g])
      if (const float v = std::fabs(x_[i]); std::isfinite(v) && v < amax_[g]) a.push_back(v);
    std::ranges::sort(a);
    a.erase(std::unique(a.begin(), a.end()), a.end());
    return a;
  }
  // Element i's code as quantized with the amax of some part of the group (one that holds it, or
  // another lane's, broadcast to the whole group).
  bool partial_code(size_t i, const std::vector<float>& partial) const {
    return std::ranges::any_of(
        partial, [&](float a) { return quantize_value(s_, x_[i], a, group_scale(s_, a)) == o_.codes[i]; });
  }

  const Spec& s_;
  std::span<const float> x_;
  const Expected& e_;
  const Observed& o_;
  std::vector<float> amax_;
  std::vector<std::vector<size_t>> members_;  // element indices per group
};

// ---- the quotient cast otherwise ---------------------------------------------------------------

struct QuotientRule {
  const char* seen;
  const char* cause;
  uint32_t (*code)(Format f, double q);  // the code of an in-range quotient
};

uint32_t cast_as(Format f, double q, Rounding r) { return encode(q, Conversion{f, Overflow::satfinite, r}); }

constexpr QuotientRule kQuotientRules[] = {
    {"codes are the quotients rounded toward zero", "a truncating fp8 cast (round toward zero) instead of RNE",
     [](Format f, double q) { return cast_as(f, q, Rounding::rz); }},
    {"codes round exact ties away from zero", "a cast that rounds ties away from zero instead of to even",
     [](Format f, double q) { return cast_as(f, q, Rounding::rn); }},
    {"codes are the quotients rounded to bf16 before the fp8 cast", "double rounding through bf16 (R20)",
     [](Format f, double q) { return cast_as(f, bf16_to_float(float_to_bf16(float(q))), Rounding::rne); }},
    {"codes are the quotients rounded to fp16 before the fp8 cast", "double rounding through fp16 (R20)",
     [](Format f, double q) { return cast_as(f, fp16_to_float(float_to_fp16(float(q))), Rounding::rne); }},
};

// The quotients a kernel of this profile may cast: the exact x / s, and the fp32 value the profile
// forms (x / s, x * fl(1/s) or x * fl(max/amax); power-of-two scales divide exactly).
std::vector<double> quotients(const Spec& s, float x, float scale, float amax) {
  const Profile& p = *s.profile;
  const double exact = double(x) / double(scale);
  if (s.pow2_scales()) return {exact};
  switch (p.quant_op) {
    case QuantOp::divide: return {exact, x / scale};
    case QuantOp::reciprocal: return {exact, x * (1.0f / scale)};
    case QuantOp::ratio: return {exact, x * ratio(s.fp8_max(), std::fmax(amax, p.amax_floor))};
    case QuantOp::max_over_amax: break;
  }
  return {exact, x * (s.fp8_max() / std::fmax(amax, p.amax_floor))};
}

// Does every code follow the rule for one of the quotients? Quotients beyond +-max (and NaN) keep
// the profile's code: clamped or saturated, they do not depend on the rounding.
bool follows_rule(const Evidence& ev, const QuotientRule& rule) {
  const Spec& s = ev.c.spec;
  const std::vector<float> amax = group_amax(s, ev.in.values);
  for (int64_t r = 0; r < s.m; ++r)
    for (int64_t c = 0; c < s.k; ++c) {
      const size_t i = size_t(r * s.k + c), g = scale_index(s, r, c);
      const auto code = [&](double q) { return std::fabs(q) <= s.fp8_max() ? rule.code(s.format, q) : ev.e.profile.codes[i]; };
      if (std::ranges::none_of(quotients(s, ev.in.values[i], ev.e.profile.scales[g], amax[g]),
                               [&](double q) { return code(q) == ev.o.codes[i]; }))
        return false;
    }
  return true;
}

}  // namespace

void parameter_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h) {
  const Spec& s = ev.c.spec;
  for (auto& v : variants(s))
    h.push_back({"profile mismatch: the output follows " + std::string(s.profile->name) + " with " + v.what, "",
                 Verdict::over_budget, [&ev, p = v.p] {
                   Spec alt = ev.c.spec;
                   alt.profile = &p;
                   const Result r = quantize_profile(alt, ev.in.values);
                   return fit_if(std::ranges::equal(r.codes, ev.o.codes) &&
                                 std::ranges::equal(r.storage, ev.o.storage));
                 }});
}

void rounding_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h) {
  if (!ev.codes_bad || ev.scales_bad) return;
  for (const QuotientRule& rule : kQuotientRules)
    h.push_back({rule.seen, rule.cause, Verdict::over_budget, [&ev, &rule] { return fit_if(follows_rule(ev, rule)); }});
}

void scale_arith_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h) {
  if (!ev.scales_bad) return;
  const Spec& s = ev.c.spec;
  // A rule that predicts every scale is the better story where it fits, so it is decided first.
  bool predicted = false;
  const auto add = [&](std::string seen, std::string cause, std::vector<float> scales) {
    const bool fits = follows_scales(s, ev.in, ev.o, scales);
    predicted = predicted || fits;
    h.push_back({std::move(seen), std::move(cause), Verdict::over_budget, [fits] { return fit_if(fits); }});
  };
  const std::vector<float> got = written_scales(s, ev.o);
  const std::vector<float> unrounded = s.pow2_scales() ? unrounded_scales(s, ev.in.values) : std::vector<float>{};
  for (const Pow2Rounding& rule : kPow2Roundings)
    if (!unrounded.empty()) {
      // Inf and NaN scales (Inf or NaN inputs) are the overflow policy's, not the rounding's.
      std::vector<float> scales(got.size());
      for (size_t g = 0; g < got.size(); ++g) scales[g] = std::isfinite(unrounded[g]) ? rule.scale(unrounded[g]) : got[g];
      add(rule.seen, rule.cause, std::move(scales));
    }
  // MX blocks whose scale is rounded by another rule (an exact ceil, torchao's even, round to
  // nearest): the element codes follow the scale, so only the scale rule tells them apart.
  if (s.mx_scales())
    for (MxRule r : kMxRules)
      if (r != s.profile->mx) {
        Profile p = *s.profile;
        p.mx = r;
        Spec alt = s;
        alt.profile = &p;
        add("MX scales follow the " + std::string(mx_rule_name(r)) + " rule (" + mx_rule_text(r) + ") where " +
                std::string(s.profile->name) + " uses " + std::string(mx_rule_name(s.profile->mx)) +
                ", and the codes follow them",
            "a block-scale rounding other than the profile's", quantize_profile(alt, ev.in.values).scales);
      }
  if (const float floor = s.profile->amax_floor; floor > 0 && differing_all_equal(got, ev.e.profile.scales, floor))
    add("every differing scale is the amax floor " + floor_text(floor) + " and the codes follow it",
        "the floor applied to the scale (s = max(amax / max, floor)) instead of to the amax", got);
  if (zero_groups_divide_by_zero(ev)) {
    predicted = true;
    h.push_back({"every all-zero group has scale 0 and codes of 0 / 0 (NaN, or +-max where a clamp met the NaN)",
                 "no amax floor: the scale amax / max is 0 and the quotient 0 / 0 (R7)", Verdict::over_budget,
                 [] { return Fit::full; }});
  }
  // Only with scales wrong: a code alone fits the largest |x| of too many parts of its group.
  h.push_back({"the amax of some groups misses elements: scales and codes follow the largest |x| of part of the group",
               "a reduction narrower than the group (R12: a shuffle width or mask written for 32 lanes; R17: a "
               "group wider than the lanes that reduce it) or a dropped lane",
               Verdict::over_budget,
               [&ev, predicted] { return fit_if(!predicted && PartialAmax(ev.c.spec, ev.in, ev.e, ev.o).fits()); }});
}

}  // namespace ulpgate::quant
