#include "harness/norm/diagnosis.hpp"

#include <cmath>
#include <functional>
#include <memory>

#include "harness/norm/budget.hpp"
#include "harness/norm/r_fit.hpp"
#include "harness/report/text.hpp"

namespace ulpgate::norm {
namespace {

Fit fit_if(bool full) { return full ? Fit::full : Fit::none; }

// Does the output pass the comparator when the case follows profile p instead?
bool passes_as(const Case& c, const Inputs& in, const Observed& o, const BudgetTable& budgets, const Profile& p) {
  Case alt = c;
  alt.spec.profile = &p;
  return passes(judge(alt, in, expected(alt, in), o, budgets).verdict);
}

// ---- the profile with one parameter changed, and the other profiles ----------------------------

std::vector<Variants<Profile>::Variant> variants(const Spec& s) {
  const Profile& p = *s.profile;
  Variants<Profile> v{p, {}};
  for (float eps : {1e-5f, 1e-6f})
    if (eps != p.eps)
      v.add("eps " + text::short_num(eps) + " instead of " + text::short_num(p.eps), [eps](Profile& q) {
        q.eps = eps;
        q.eps_added = double(eps);
      });
  const bool twice = p.rounding == Rounding::twice;
  v.add(twice ? "y rounded once instead of twice" : "y rounded twice instead of once",
        [twice](Profile& q) { q.rounding = twice ? Rounding::once : Rounding::twice; });
  if (s.has_residual()) {
    const bool rounds = s.rounds_residual();
    v.add(rounds ? "the residual sum squared in fp32 instead of rounded to T first"
                 : "the residual sum rounded to T before it is squared",
          [rounds](Profile& q) {
            q.round_residual = !rounds;
            q.dynamic_quant_z_fp32 = rounds;
          });
  }
  if (s.quantizes())
    v.add(p.quantize_rounded ? "the quantizer fed the fp32 y instead of T(y)"
                             : "the quantizer fed T(y) instead of the fp32 y",
          [](Profile& q) { q.quantize_rounded = !q.quantize_rounded; });
  return v.list;
}

void profile_hypotheses(const Case& c, const Inputs& in, const Observed& o, const BudgetTable& budgets,
                        std::vector<Hypothesis>& h) {
  const Spec& s = c.spec;
  for (auto& v : variants(s))
    h.push_back({"profile mismatch: the output follows " + std::string(s.profile->name) + " with " + v.what, "",
                 Verdict::over_budget, [&, p = v.p] { return fit_if(passes_as(c, in, o, budgets, p)); }});
  if (s.scale_ub != 0)
    h.push_back({"the scales follow the rows' whole amax: scale_ub " + text::short_num(s.scale_ub) + " was not applied", "",
                 Verdict::over_budget, [&] {
                   Case alt = c;
                   alt.spec.scale_ub = 0;
                   return fit_if(passes(judge(alt, in, expected(alt, in), o, budgets).verdict));
                 }});
  // Only the profiles under which the case is a valid spec (a static scale needs a static row).
  const auto fits = [&](const Profile& p) {
    Spec alt = s;
    alt.profile = &p;
    return &p != s.profile && (p.quantizes() || !s.quantizes()) && alt.problem().empty();
  };
  for (const Profile& p : profiles())
    if (fits(p))
      h.push_back({"profile divergence: the output follows profile " + std::string(p.name) + ", not " +
                       std::string(s.profile->name),
                   "", Verdict::over_budget, [&, pp = &p] { return fit_if(passes_as(c, in, o, budgets, *pp)); }});
}

// ---- what went wrong with r --------------------------------------------------------------------

// The rows' r, shared by the hypotheses that read it.
struct RAnalysis {
  std::vector<RowR> rows;
  double rel;  // the kernel's proven error of r, plus the fp32 steps of a formula for r
  bool all_one_r() const {
    return std::ranges::all_of(rows, [](const RowR& r) { return r.one_r || !r.informative; });
  }
  bool any_off() const {  // some row's r is not one the profile allows
    return std::ranges::any_of(rows, [&](const RowR& r) { return r.one_r && !within(r, r.exact, rel); });
  }
};

// Every row follows r = 1 / (sqrt(ms) + eps).
bool eps_outside(const RAnalysis& a, double eps) {
  return a.all_one_r() && a.any_off() && std::ranges::all_of(a.rows, [&](const RowR& r) {
           if (!r.one_r) return true;
           const double ms = 1 / (r.exact * r.exact) - eps;
           return within(r, 1 / (std::sqrt(std::max(ms, 0.0)) + eps), a.rel);
         });
}

// The element count H' the rows' mean squares imply (ms' = ms H / H'), 0 if none other than H.
// At least three rows, and a unique H': two rows' ratios may agree by chance.
int64_t implied_count(const RAnalysis& a, int64_t h) {
  if (!a.all_one_r() || !a.any_off()) return 0;
  double lo = 0, hi = INFINITY;
  int rows = 0;
  for (const RowR& r : a.rows)
    if (r.one_r && r.k_lo != r.k_hi) lo = std::max(lo, r.k_lo), hi = std::min(hi, r.k_hi), ++rows;
  if (rows < 3 || !(lo <= hi) || (lo <= 1 && 1 <= hi) || double(h) / lo - double(h) / hi >= 1) return 0;
  const int64_t count = std::llround(double(h) / ((lo + hi) / 2));
  const double k = double(h) / double(count);
  return count > 0 && count != h && lo <= k && k <= hi ? count : 0;
}

// Rows normalized with a larger r than the profile's, the rest as the profile's.
int64_t rows_with_larger_r(const RAnalysis& a) {
  int64_t larger = 0;
  for (const RowR& r : a.rows) {
    if (!r.informative || within(r, r.exact, a.rel)) continue;
    if (!larger_r(r, a.rel)) return 0;
    ++larger;
  }
  return larger;
}

void r_hypotheses(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets,
                  std::vector<Hypothesis>& h) {
  const Spec& s = c.spec;
  if (s.quantizes()) return;
  // The kernel's own error of r, plus a few fp32 roundings of a formula for r (sqrt, +, /).
  auto a = std::make_shared<RAnalysis>();
  a->rel = r_bound(s, norm_budget(budgets, s).lanes) + 0x1p-21;
  a->rows = fit_rows(s, in, o.y, e.ideal.r, a->rel, kPoison16);
  const double eps = s.profile->eps;
  const bool outside = eps_outside(*a, eps);
  h.push_back({"every row follows r = 1 / (sqrt(ms) + eps)", "eps added outside the square root", Verdict::over_budget,
               [outside] { return fit_if(outside); }});
  if (const int64_t count = implied_count(*a, s.h); count && !outside)
    h.push_back({"every row follows the mean of the squares over " + std::to_string(count) +
                     " elements, not H = " + std::to_string(s.h),
                 "a wrong element count (1/H) in the mean", Verdict::over_budget, [] { return Fit::full; }});
  else if (const int64_t larger = rows_with_larger_r(*a); larger && !outside)
    h.push_back({std::to_string(larger) + " of " + std::to_string(s.m) +
                     " rows follow a larger r than the profile's: the sum of squares misses part of the row",
                 "a reduction narrower than the row (R12: a width or mask written for 32 lanes), a dropped lane or "
                 "warp partial, or elements never read",
                 Verdict::over_budget, [] { return Fit::full; }});
  // Outputs rounded toward zero: no single r per row explains y, and every deviation from the
  // profile's values is a few steps toward zero (one per truncating rounding, scaled by w).
  h.push_back(
      {"every deviating output is at most 4 ulps toward zero from the profile's, none away from zero",
       "a truncating conversion to " + std::string(format_name(s.dtype)) + " (round toward zero) instead of RNE",
       Verdict::over_budget, [&, a] {
         if (a->all_one_r()) return Fit::none;
         const auto toward_zero = [&](std::span<const uint16_t> got, std::span<const uint16_t> want) {
           for (size_t i = 0; i < got.size(); ++i) {
             if (got[i] == want[i]) continue;
             const double g = decode(s.dtype, got[i]), w = decode(s.dtype, want[i]);
             const auto d = ulp_distance(s.dtype, got[i], want[i]);
             if (!d || *d > 4 || !(std::fabs(g) < std::fabs(w)) || std::signbit(g) != std::signbit(w)) return false;
           }
           return true;
         };
         return fit_if(toward_zero(o.y, e.profile.y) && toward_zero(o.residual, e.profile.residual));
       }});
}

// ---- outputs never written ---------------------------------------------------------------------

int64_t unwritten(std::span<const uint16_t> got, std::span<const uint16_t> want) {
  int64_t n = 0;
  for (size_t i = 0; i < got.size(); ++i) n += got[i] == kPoison16 && want[i] != kPoison16;
  return n;
}

bool only_unwritten(std::span<const uint16_t> got, std::span<const uint16_t> want) {
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i] && got[i] != kPoison16) return false;
  return true;
}

void unwritten_hypothesis(const Case& c, const Expected& e, const Observed& o, std::vector<Hypothesis>& h) {
  if (c.spec.quantizes()) return;  // codes and scales: the quantization diagnosis
  const int64_t y = unwritten(o.y, e.profile.y), res = unwritten(o.residual, e.profile.residual);
  if (!(y + res) || !only_unwritten(o.y, e.profile.y) || !only_unwritten(o.residual, e.profile.residual)) return;
  std::string what = y ? std::to_string(y) + " y" : "";
  if (res) what += (y ? " and " : "") + std::to_string(res) + " residual";
  h.push_back({what + (y + res == 1 ? " element" : " elements") + " never written (still the poison 0xA5A5)",
               "a missing store", Verdict::over_budget, [] { return Fit::full; }});
}

}  // namespace

std::vector<Hypothesis> hypotheses(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                                   const BudgetTable& budgets) {
  std::vector<Hypothesis> h;
  profile_hypotheses(c, in, o, budgets, h);
  r_hypotheses(c, in, e, o, budgets, h);
  unwritten_hypothesis(c, e, o, h);
  return h;
}

std::string unwritten_note(const Expected& e, const Observed& o, const std::string& story) {
  const int64_t n = unwritten(o.y, e.profile.y) + unwritten(o.residual, e.profile.residual);
  if (!n || story.find("never written") != std::string::npos) return {};
  return "; " + std::to_string(n) + (n == 1 ? " element" : " elements") + " never written (poison 0xA5A5)";
}

}  // namespace ulpgate::norm
