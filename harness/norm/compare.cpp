#include "harness/norm/compare.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "harness/core/chunked_judge.hpp"
#include "harness/norm/budget.hpp"
#include "harness/norm/diagnosis.hpp"
#include "harness/report/text.hpp"

namespace ulpgate::norm {
namespace {

using text::num;
std::string hex4(uint32_t v) { return text::hex(v, 4); }

// Is code a between the codes lo and hi (either order) on the format's ordered line?
bool between(Format f, uint32_t a, uint32_t lo, uint32_t hi) {
  const auto oa = ordinal(f, a), ol = ordinal(f, lo), oh = ordinal(f, hi);
  if (!oa || !ol || !oh) return false;
  return std::min(*ol, *oh) <= *oa && *oa <= std::max(*ol, *oh);
}

bool same_float(float a, float b) { return std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b)); }

// Counts one judged element into r; over budget also gets a first-bad line (written only then:
// formatting one per element took most of a large case's judging time).
template <class BadLine>
void count(CaseResult& r, bool exact, bool within, bool nonfinite, const BadLine& bad_line) {
  if (exact) ++r.n_exact;
  else if (within) ++r.n_within;
  else {
    ++(nonfinite ? r.n_nonfinite : r.n_over);
    if (r.first_bad.size() < kFirstBad) r.first_bad.push_back(bad_line());
  }
}

// Rows [row0, row1) of y (T: bf16 or fp16, compile-time, so that the NaN tests and ulp distances
// are a few integer steps an element). first_row: the row of the whole case that the data's row 0
// is (a slab's), for the bad lines.
template <Format T>
void judge_y_rows(const Case& c, const Inputs& in, const Expected& e, std::span<const uint16_t> y, const NormBudget& b,
                  int64_t first_row, double rel, int64_t row0, int64_t row1, CaseResult& r) {
  const Spec& s = c.spec;
  int64_t worst = -1;  // the largest distance to the ideal, r.max_ulp's at the end (not a store an element)
  for (int64_t row = row0; row < row1; ++row) {
    const RRange ri = admissible_r(e.ideal.r[size_t(row)], rel);
    for (int64_t col = 0; col < s.h; ++col) {
      const size_t i = size_t(row * s.h + col);
      const uint32_t a = y[i], p = e.profile.y[i], d = e.ideal.y[i];
      const bool a_nan = is_nan<T>(a), p_nan = is_nan<T>(p), d_nan = is_nan<T>(d);
      r.n_nan += a_nan;
      const bool same = a == p || (a_nan && p_nan);
      const float x = in.x[i], w = in.weight[size_t(col)];
      const bool admissible = !same && std::ranges::count(admissible_y(s, profile_z(s, in, i), w, ri), uint16_t(a));
      const auto to_ideal = ulp_distance<T>(a, d);
      if (to_ideal) worst = std::max(worst, *to_ideal);
      count_ulps(r, to_ideal ? double(*to_ideal) : a_nan && d_nan ? 0 : INFINITY);
      const bool ideal_ok = d_nan || (to_ideal && *to_ideal <= b.y_ideal_ulps);
      count(r, same && ideal_ok, admissible && ideal_ok, a_nan && !p_nan, [&] {
        return "y[" + std::to_string(first_row + row) + "," + std::to_string(col) + "] x=" + num(x) + " w=" + num(w) +
               ": expected " + hex4(p) + " (" + num(decode(s.dtype, p)) + "), got " + hex4(a) + " (" +
               num(decode(s.dtype, a)) + ")" + (a == kPoison16 ? " = poison: never written" : "") + ", ideal " +
               hex4(d) + (same ? " (the profile itself is more than the y-ideal budget from the ideal)" : "");
      });
    }
  }
  if (worst >= 0) r.max_ulp = std::max(r.max_ulp, double(worst));
}

void judge_y(const Case& c, const Inputs& in, const Expected& e, std::span<const uint16_t> y, const NormBudget& b,
             int64_t first_row, CaseResult& result) {
  const Spec& s = c.spec;
  const double rel = r_bound(s, b.lanes);
  judge_rows_in_chunks(s.m, s.h, kFirstBad, result, [&](int64_t row0, int64_t row1, CaseResult& r) {
    (s.dtype == Format::bf16 ? judge_y_rows<Format::bf16> : judge_y_rows<Format::fp16>)(c, in, e, y, b, first_row, rel,
                                                                                       row0, row1, r);
  });
  result.elements += y.size();
}

void judge_residual(const Case& c, const Expected& e, std::span<const uint16_t> got, int64_t first_row,
                    CaseResult& result) {
  const Spec& s = c.spec;
  judge_rows_in_chunks(s.m, s.h, kFirstBad, result, [&](int64_t row0, int64_t row1, CaseResult& r) {
    for (auto i = size_t(row0 * s.h); i < size_t(row1 * s.h); ++i) {
      const uint32_t a = got[i], p = e.profile.residual[i];
      const bool same = a == p || (is_nan(s.dtype, a) && is_nan(s.dtype, p));
      // nonfinite only matters where the bits differ (is_nan dispatches on the format: not an element)
      count(r, same, false, !same && is_nan(s.dtype, a) && !is_nan(s.dtype, p), [&] {
        return "residual[" + std::to_string(first_row + int64_t(i) / s.h) + "," + std::to_string(int64_t(i) % s.h) + "]: expected " +
               hex4(p) + " (" + num(decode(s.dtype, p)) + "), got " + hex4(a) + " (" + num(decode(s.dtype, a)) + ")";
      });
    }
  });
  result.elements += got.size();
}

// ---- rms-quant: the quant step judged at the kernel's admissible r -----------------------------

// The quant profile the fused step follows, named after the norm profile so that budgets are
// looked up as (norm.rms-quant, profile), or (op, profile-static) for a static scale: the static
// kernels quantize otherwise.
quant::Profile quant_profile_of(const Spec& s, std::string& name) {
  quant::Profile qp = s.quant_row();
  name = std::string(s.profile->name) + (s.static_scale != 0 ? "-static" : "");
  qp.name = name;
  return qp;
}

// Is s_obs a scale group_scale gives for some amax in [lo, hi]? Sets amax to one that does.
bool admissible_scale(const quant::Spec& qs, float s_obs, float lo, float hi, float& amax) {
  if (!(lo <= hi)) return false;
  const float max = qs.fp8_max();
  const float guess = s_obs * max;
  float a = std::nextafter(std::nextafter(guess, 0.0f), 0.0f);
  for (int k = 0; k < 5; ++k, a = std::nextafter(a, INFINITY))
    if (a >= lo && a <= hi && same_float(quant::group_scale(qs, a), s_obs)) return amax = a, true;
  for (float end : {lo, hi})  // floors and powers of two: the ends of the interval decide
    if (same_float(quant::group_scale(qs, end), s_obs)) return amax = end, true;
  return false;
}

// Does some value the quantizer may see give this code? Codes are monotone in the value, so an
// fp32 interval is judged by its ends.
bool admissible_code(const quant::Spec& qs, const Admissible& v, float amax, float scale, uint32_t code) {
  if (v.values.empty())
    return between(qs.format, code, quant::quantize_value(qs, v.lo, amax, scale),
                   quant::quantize_value(qs, v.hi, amax, scale));
  return std::ranges::any_of(v.values, [&](float x) { return quant::quantize_value(qs, x, amax, scale) == code; });
}

struct Reconciled {
  quant::Expected expected;
  uint64_t flips = 0;
};

// The profile-exact quant result, with each scale and code the backend wrote replaced by it where
// some admissible r explains it: what quant's comparator should then find bit-exact.
Reconciled reconcile(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const quant::Spec& qs,
                     double rel) {
  const Spec& s = c.spec;
  const quant::ScaleShape ss = qs.scale_shape();
  Reconciled rec{{e.profile.quant, {}, {}}, 0};
  quant::Result& want = rec.expected.profile;
  const bool sizes_ok = o.codes.size() == want.codes.size() && int64_t(o.storage.size()) == qs.scale_bytes();
  if (sizes_ok) {
    // A static scale is an input: the kernel quantized with it.
    const std::vector<float> got_scales = qs.writes_scales() ? quant::unpack(qs.layout, ss, o.storage) : want.scales;
    const int64_t tc = qs.tile_cols();
    std::atomic<uint64_t> flips = 0;
    // Rows on every core where each row has scales of its own or none is written (a static scale
    // is the tensor's; only TransformerEngine's, written back, could be reconciled by two rows).
    const bool rows_apart = qs.tile_rows() == 1 || !qs.writes_scales();
    const int64_t serial = rows_apart ? std::max<int64_t>(1, (int64_t(1) << 15) / s.h) : s.m + 1;
    parallel_for_large(s.m, serial, [&](int64_t row0, int64_t row1) {
      uint64_t own_flips = 0;
      std::vector<Admissible> v(static_cast<size_t>(tc));
      for (int64_t row = row0; row < row1; ++row) {
        const RRange ri = admissible_r(e.ideal.r[size_t(row)], rel);
        for (int64_t g = 0; g < ss.g; ++g) {
          const int64_t c0 = g * tc, n = std::min(s.h, c0 + tc) - c0;
          const size_t si = size_t(row / qs.tile_rows() * ss.g + g), i0 = size_t(row * s.h + c0);
          if (same_float(got_scales[si], want.scales[si]) && same_float(want.scales[si], e.profile.quant.scales[si]) &&
              std::equal(o.codes.begin() + ptrdiff_t(i0), o.codes.begin() + ptrdiff_t(i0) + n,
                         want.codes.begin() + ptrdiff_t(i0)))
            continue;  // the group as the profile computes it: nothing to reconcile
          float amax_lo = 0, amax_hi = 0;  // NaN-ignoring, as the quant rows' amax
          for (int64_t k = 0; k < n; ++k) {
            const size_t i = size_t(row * s.h + c0 + k);
            v[size_t(k)] = admissible_normalized(s, profile_z(s, in, i), in.weight[size_t(c0 + k)], ri);
            const float a = std::fabs(v[size_t(k)].lo), b = std::fabs(v[size_t(k)].hi);
            amax_lo = std::fmax(amax_lo, std::fmin(a, b));
            amax_hi = std::fmax(amax_hi, std::fmax(a, b));
          }
          float amax = amax_lo, scale = want.scales[si];
          if (!same_float(got_scales[si], scale) && admissible_scale(qs, got_scales[si], amax_lo, amax_hi, amax)) {
            scale = want.scales[si] = got_scales[si];
            ++own_flips;
          }
          for (int64_t k = 0; k < n; ++k) {
            const size_t i = size_t(row * s.h + c0 + k);
            const uint32_t got = o.codes[i];
            if (got == want.codes[i] && same_float(scale, e.profile.quant.scales[si])) continue;
            if (admissible_code(qs, v[size_t(k)], amax, scale, got)) {
              own_flips += got != want.codes[i];
              want.codes[i] = uint8_t(got);
            } else {
              want.codes[i] = quant::quantize_value(qs, e.profile.v[i], amax, scale);
            }
          }
        }
      }
      flips += own_flips;
    });
    rec.flips = flips;
    if (qs.writes_scales()) want.storage = quant::pack(qs.layout, ss, want.scales);
  }
  rec.expected.ideal = quant::quantize_ideal(qs, e.profile.v, want.scales);
  return rec;
}

// R1 and its reverse: the op wrote the other kind of scales (fp32 row vs int32-packed ue8m0) and
// quantized with them. Returns the story, or empty when the output is not explained so.
std::string packed_scale_story(const Case& c, const Inputs& in, const Observed& o) {
  const Spec& s = c.spec;
  if (s.gs == 0) return {};
  Spec alt = s;
  const bool want_packed = s.layout == quant::Layout::ue8m0_packed;
  alt.layout = want_packed ? quant::Layout::row : quant::Layout::ue8m0_packed;
  alt.ue8m0 = !want_packed;
  if (!alt.problem().empty()) return {};
  const Result r = normalize_profile(alt, in);
  if (!std::equal(o.codes.begin(), o.codes.end(), r.quant.codes.begin(), r.quant.codes.end())) return {};
  const size_t n = std::min(o.storage.size(), r.quant.storage.size());
  if (n == 0 || !std::equal(o.storage.begin(), o.storage.begin() + ptrdiff_t(n), r.quant.storage.begin())) return {};
  if (!want_packed) return "the op wrote int32-packed ue8m0 scales where its consumer reads fp32 row scales";
  // What the consumer computes: codes times the scales it reads from the packed words.
  std::string name;
  quant::Profile qp = quant_profile_of(s, name);
  const quant::Spec qs = s.quant_spec(qp);
  const std::vector<float> read = quant::unpack(qs.layout, qs.scale_shape(), o.storage);
  uint64_t nonfinite = 0;
  for (int64_t row = 0; row < s.m; ++row)
    for (int64_t col = 0; col < s.h; ++col) {
      const float v = decode_f32(s.format, o.codes[size_t(row * s.h + col)]) *
                      read[size_t(row * qs.scale_shape().g + col / s.gs)];
      nonfinite += !std::isfinite(v);
    }
  return "the fused op wrote fp32 scales (row layout, not powers of two) where its consumer reads int32-packed "
         "ue8m0 (R1, layouts row vs ue8m0-packed); dequantizing with the scales as the consumer reads them: " +
         std::to_string(nonfinite) + " of " + std::to_string(s.m * s.h) +
         " values are non-finite (a mantissa byte 0xFF reads as the ue8m0 NaN)";
}

// diagnose: name what went wrong in the quant step (false: counts and verdict only).
CaseResult judge_quant(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                       const BudgetTable& budgets, const NormBudget& b, bool diagnose) {
  const Spec& s = c.spec;
  std::string name;
  const quant::Profile qp = quant_profile_of(s, name);
  const quant::Spec qs = s.quant_spec(qp);
  const Reconciled rec = reconcile(c, in, e, o, qs, r_bound(s, b.lanes));
  const quant::Case qc{qs, Format::fp32, c.dist, c.seed};
  const quant::Inputs qin{{}, e.profile.v};
  CaseResult r = quant::compare(qc, qin, rec.expected, {o.codes, o.storage}, budgets, op_name(s.op), diagnose);
  // Elements that matched only at another admissible r are flips, not exact matches.
  const uint64_t moved = std::min(rec.flips, r.n_exact);
  r.n_exact -= moved;
  r.n_within += moved;
  if (r.verdict == Verdict::exact && moved) r.verdict = Verdict::within_budget;
  return r;
}

// rms-add-quant: the written-back residual beside the quant step's verdict.
void judge_added_residual(const Case& c, const Expected& e, const Observed& o, CaseResult& r) {
  if (o.residual.size() != e.profile.residual.size()) {
    r.verdict = Verdict::error;
    r.message = "output sizes differ from the reference";
    return;
  }
  const uint64_t bad = r.n_over + r.n_nonfinite;
  judge_residual(c, e, o.residual, 0, r);
  if (r.n_over + r.n_nonfinite == bad || r.verdict == Verdict::error) return;
  r.verdict = std::max(r.verdict, r.n_nonfinite ? Verdict::non_finite : Verdict::over_budget);
}

// What is wrong with y and the residual when no hypothesis explains it.
std::string unexplained(const CaseResult& r) {
  const uint64_t n = r.n_over + r.n_nonfinite;
  return std::to_string(n) + (n == 1 ? " element" : " elements") + " over budget; no hypothesis explains the output";
}

// The story of a failing result: R1, then the norm's hypotheses, then (rms-quant) the quant
// step's own diagnosis.
void explain(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets,
             const NormBudget& b, CaseResult& r) {
  if (c.spec.quantizes())
    if (std::string story = packed_scale_story(c, in, o); !story.empty()) {
      r.verdict = Verdict::layout;
      r.message = story;
      return;
    }
  if (const auto d = weigh(hypotheses(c, in, e, o, budgets))) {
    r.message = d->story + unwritten_note(e, o, d->story);
    if (d->verdict == Verdict::layout) r.verdict = Verdict::layout;
    return;
  }
  if (!c.spec.quantizes()) {
    r.message = unexplained(r) + unwritten_note(e, o, "");
    return;
  }
  const CaseResult q = judge_quant(c, in, e, o, budgets, b, true);
  r.message = q.message;
  r.verdict = q.verdict;
}

}  // namespace

CaseResult judge(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets,
                 int64_t first_row) {
  const NormBudget b = norm_budget(budgets, c.spec);
  CaseResult r;
  if (c.spec.quantizes()) {
    r = judge_quant(c, in, e, o, budgets, b, false);
    if (c.spec.has_residual()) judge_added_residual(c, e, o, r);
  } else if (o.y.size() != e.profile.y.size() || o.residual.size() != e.profile.residual.size()) {
    r.verdict = Verdict::error;
    r.message = "output sizes differ from the reference";
  } else {
    judge_y(c, in, e, o.y, b, first_row, r);
    if (c.spec.has_residual()) judge_residual(c, e, o.residual, first_row, r);
    r.verdict = verdict_of_counts(r);
  }
  r.case_id = c.id();
  r.family = "norm";
  r.profile = std::string(c.spec.profile->name);
  return r;
}

CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets) {
  CaseResult r = judge(c, in, e, o, budgets);
  if (!passes(r.verdict) && r.verdict != Verdict::error) explain(c, in, e, o, budgets, norm_budget(budgets, c.spec), r);
  return r;
}

}  // namespace ulpgate::norm
