#include "harness/gemm/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "harness/core/chunked_judge.hpp"
#include "harness/gemm/diagnosis.hpp"
#include "harness/report/text.hpp"

namespace ulpgate::gemm {
namespace {

constexpr size_t kFirstBad = 5;

using text::num;

size_t out_bytes(Format out) { return out == Format::bf16 ? 2 : 4; }

class Judge {
 public:
  // kept: the elements' bits, values and marks kept for the diagnosis (17 bytes an element, zeroed
  // by one thread before the parallel pass); a judgement without one keeps none.
  Judge(const Case& c, const Expected& e, std::span<const std::byte> d, double factor, bool kept)
      : s_(c.spec), e_(e), d_(d), factor_(factor), size_(size_t(s_.m * s_.n)), kept_(kept) {
    if (!kept) return;
    marks.bad.resize(size_), marks.excess.resize(size_);
    got.resize(size_), values.resize(size_);
  }

  void run(CaseResult& r) {
    judge_rows_in_chunks(s_.m, s_.n, kFirstBad, r, [&](int64_t m0, int64_t m1, CaseResult& part) {
      for (auto i = size_t(m0 * s_.n); i < size_t(m1 * s_.n); ++i) element(i, part);
    });
    r.elements = size_;
    r.verdict = verdict_of_counts(r);
  }

  Marks marks;
  std::vector<uint32_t> got;
  std::vector<double> values;

 private:
  const Spec& s_;
  const Expected& e_;
  std::span<const std::byte> d_;
  double factor_;
  size_t size_;
  bool kept_;

  // The allowance around the exact D: f B plus half an ulp of the output wherever the model's
  // fp32 result can lie (|exact| + f B: rigorous across a binade boundary).
  double allowance(size_t i) const {
    const double b = factor_ * e_.replay.bound[i];
    return b + 0.5 * ulp_of(s_.out, std::fabs(e_.ideal.exact[i]) + b);
  }

  void element(size_t i, CaseResult& r) {
    const Format f = s_.out;
    const uint32_t a = output_bits(f, d_, i), p = e_.replay.out.bits[i], ideal = e_.ideal.out.bits[i];
    const double v = decode(f, a), exact = e_.ideal.exact[i];
    r.n_nan += is_nan(f, a);
    // Where D rounds to Inf or NaN (non-finite inputs, or beyond the output's range) the output must
    // be of the ideal's class; elsewhere within the allowance of the exact D.
    const bool finite_ideal = std::isfinite(decode(f, ideal));
    // ULPs from the claimed model's output (0 for a kernel that follows it; the distance to an
    // exact D is unbounded where D cancels to 0).
    const std::optional<int64_t> ulps = ulp_distance(f, a, p);
    r.max_ulp = std::max(r.max_ulp, ulps ? double(*ulps) : INFINITY);
    count_ulps(r, ulps ? double(*ulps) : a == p || (is_nan(f, a) && is_nan(f, p)) ? 0 : INFINITY);
    const double err = std::fabs(v - exact);
    const bool in_bound = finite_ideal ? std::isfinite(v) && err <= allowance(i) : a == ideal || (is_nan(f, a) && is_nan(f, ideal));
    const bool as_model = a == p || (is_nan(f, a) && is_nan(f, p));
    const bool as_ideal = a == ideal || (is_nan(f, a) && is_nan(f, ideal));
    if (kept_) {
      got[i] = a, values[i] = v;
      marks.excess[i] = finite_ideal ? (std::isfinite(v) ? float(err / allowance(i)) : INFINITY) : (in_bound ? 0.0f : INFINITY);
    }
    if (in_bound && (e_.budget_only ? as_ideal : as_model)) {
      ++r.n_exact;
      return;
    }
    if (in_bound && e_.budget_only) {
      ++r.n_within;
      return;
    }
    if (kept_) marks.bad[i] = 1;
    ++(finite_ideal && !std::isfinite(v) ? r.n_nonfinite : r.n_over);
    if (r.first_bad.size() < kFirstBad) r.first_bad.push_back(bad_line(i, a, p, ideal, err, as_model));
  }

  std::string bits(uint32_t b) const { return text::hex(b, s_.out == Format::bf16 ? 4 : 8) + " (" + num(decode(s_.out, b)) + ")"; }

  std::string bad_line(size_t i, uint32_t a, uint32_t p, uint32_t ideal, double err, bool as_model) const {
    const int64_t m = int64_t(i) / s_.n, n = int64_t(i) % s_.n;
    const uint32_t poison = s_.out == Format::bf16 ? 0xA5A5u : 0xA5A5A5A5u;
    std::string line = "d[" + std::to_string(m) + "," + std::to_string(n) + "]: got " + bits(a) +
                       (a == poison ? " = poison: never written" : "") + ", " + std::string(e_.model->name) + " gives " +
                       bits(p) + ", ideal " + bits(ideal) + " (exact " + num(e_.ideal.exact[i]) + "); |error| " +
                       num(err) + " = " + num(err / allowance(i)) + "x its allowance " + num(allowance(i));
    if (as_model) line += " (the model itself is outside its bound: a reference bug)";
    return line;
  }
};

}  // namespace

double bound_factor(const BudgetTable& t, const Spec& s, bool bit_exact) {
  const std::string_view op = op_name(s.op), profile = s.profile->name;
  if (bit_exact) t.lookup(op, profile, "d", BudgetRule::bit_exact);
  return t.lookup(op, profile, "d-ideal", BudgetRule::accum_bound).limit;
}

uint32_t output_bits(Format out, std::span<const std::byte> d, size_t i) {
  if (out == Format::bf16) {
    uint16_t b;
    std::memcpy(&b, d.data() + 2 * i, 2);
    return b;
  }
  uint32_t b;
  std::memcpy(&b, d.data() + 4 * i, 4);
  return b;
}

Compared compare(const Case& c, const Operands& in, const Expected& e, std::span<const std::byte> d,
                 const BudgetTable& budgets, bool diagnosed) {
  Compared out;
  CaseResult& r = out.result;
  r.case_id = c.id();
  r.family = "gemm";
  r.profile = std::string(c.spec.profile->name);
  if (!e.model) {
    r.verdict = Verdict::error;
    r.message = "the backend did not say which accumulator model its GEMM follows";
    return out;
  }
  if (d.size() != size_t(c.spec.m * c.spec.n) * out_bytes(c.spec.out)) {
    r.verdict = Verdict::error;
    r.message = "output sizes differ from the reference";
    return out;
  }
  Judge judge(c, e, d, bound_factor(budgets, c.spec, !e.budget_only), diagnosed);
  judge.run(r);
  if (!e.budget_only) r.model = std::string(e.model->name);
  r.message = e.identified;
  if (passes(r.verdict) || !diagnosed) return out;
  const Diagnosis why = diagnose(c, in, e, judge.got, judge.marks);
  r.message = why.story + (e.identified.empty() ? "" : "; " + e.identified);
  if (why.verdict == Verdict::layout) r.verdict = Verdict::layout;
  out.maps = error_maps(c.spec, in, judge.values, judge.marks);
  for (std::string& line : out.maps.text()) r.first_bad.push_back(std::move(line));
  r.grids = out.maps.grids();
  return out;
}

}  // namespace ulpgate::gemm
