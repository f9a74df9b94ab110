#include "harness/allreduce/compare.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>

#include "harness/core/chunked_judge.hpp"
#include "harness/report/text.hpp"

namespace ulpgate::allreduce {
namespace {

constexpr size_t kFirstBad = 5;
using text::num;

std::string_view order_name(Order o) {
  switch (o) {
    case Order::rank_order: return "one-shot (fp32, ranks 0..n-1)";
    case Order::rotated: return "two-shot (fp32, the partition's owner first)";
    case Order::by_size: return "by size";
    case Order::per_hop: return "per hop";
  }
  return "?";
}

bool same(Format f, uint32_t a, uint32_t b) { return a == b || (is_nan(f, a) && is_nan(f, b)); }

uint32_t poison_bits(Format f) { return f == Format::fp32 ? 0xA5A5A5A5u : 0xA5A5u; }

class Judge {
 public:
  Judge(const Case& c, const Expected& e, double factor) : s_(c.spec), e_(e), factor_(factor) {}

  void run(const std::vector<uint32_t>& got, CaseResult& r) {
    judge_rows_in_chunks(int64_t(got.size()), 1, kFirstBad, r, [&](int64_t i0, int64_t i1, CaseResult& part) {
      for (auto i = size_t(i0); i < size_t(i1); ++i) element(i, got[i], part);
    });
    r.elements = got.size();
    r.verdict = verdict_of_counts(r);
    if (overflowed_)
      r.message = std::to_string(overflowed_.load()) + " elements are Inf as NCCL's measured ring makes them: a partial sum passes " +
                  std::string(format_name(s_.dtype)) + "'s largest value at a hop although the whole sum is finite (" +
                  std::string(e_.ring->source) + ")";
  }

 private:
  const Spec& s_;
  const Expected& e_;
  double factor_;
  std::atomic<int64_t> overflowed_{0};  // the chunks are judged on every core

  // f B plus half an ulp of dtype wherever the result can lie (rigorous across a binade).
  double allowance(size_t i) const {
    const double b = factor_ * error_bound(s_, e_.order, e_.ideal.abs_sum[i]);
    return b + 0.5 * ulp_of(s_.dtype, std::fabs(e_.ideal.exact[i]) + b);
  }

  void element(size_t i, uint32_t a, CaseResult& r) {
    const Format f = s_.dtype;
    const uint32_t ideal = e_.ideal.bits[i];
    const bool budget_only = e_.bits.empty();
    const uint32_t want = budget_only ? ideal : e_.bits[i];
    const double v = decode(f, a), exact = e_.ideal.exact[i];
    r.n_nan += is_nan(f, a);
    const std::optional<int64_t> ulps = ulp_distance(f, a, want);
    r.max_ulp = std::max(r.max_ulp, ulps ? double(*ulps) : INFINITY);
    count_ulps(r, ulps ? double(*ulps) : same(f, a, want) ? 0 : INFINITY);
    const bool finite_ideal = std::isfinite(decode(f, ideal));
    // A measured ring whose own partial sums overflow (fp16 beyond 65504 on the way to a finite
    // sum) is held to its bits there: the arithmetic it documents, not the kernel, lost the sum.
    const bool hop_overflow = e_.ring && finite_ideal && !std::isfinite(decode(f, want));
    const bool in_bound = hop_overflow ? same(f, a, want)
                          : finite_ideal ? std::isfinite(v) && std::fabs(v - exact) <= allowance(i)
                                         : same(f, a, ideal);
    if (in_bound && same(f, a, want)) {
      ++r.n_exact;
      overflowed_ += hop_overflow;
      return;
    }
    if (in_bound && budget_only) {
      ++r.n_within;
      return;
    }
    ++(finite_ideal && !std::isfinite(v) ? r.n_nonfinite : r.n_over);
    if (r.first_bad.size() < kFirstBad) r.first_bad.push_back(bad_line(i, a, want, exact, budget_only));
  }

  std::string bits(uint32_t b) const {
    return text::hex(b, s_.dtype == Format::fp32 ? 8 : 4) + " (" + num(decode(s_.dtype, b)) + ")";
  }

  std::string bad_line(size_t i, uint32_t a, uint32_t want, double exact, bool budget_only) const {
    return "y[" + std::to_string(i) + "]: got " + bits(a) + (a == poison_bits(s_.dtype) ? " = poison: never written" : "") +
           ", " + (budget_only ? "ideal " : e_.ring ? "NCCL's measured ring gives " : std::string(order_name(e_.order)) + " gives ") +
           bits(want) + " (exact " +
           num(exact) + "); allowance " + num(allowance(i));
  }
};

// Rank r differs from rank 0: where, and whether r added in its own order (ranks 0..n-1 rotated to
// start at r: a kernel that does not keep "the same order on every rank").
std::string disagreement(const Case& c, const Inputs& in, const Outputs& got) {
  const Spec& s = c.spec;
  for (size_t r = 1; r < got.size(); ++r) {
    size_t n = 0, first = 0;
    for (size_t i = 0; i < got[r].size(); ++i)
      if (!same(s.dtype, got[r][i], got[0][i]) && n++ == 0) first = i;
    if (!n) continue;
    std::string why = "ranks disagree: rank " + std::to_string(r) + " differs from rank 0 at " + std::to_string(n) +
                      " of " + std::to_string(got[r].size()) + " elements (first y[" + std::to_string(first) + "]: " +
                      text::hex(got[r][first], s.dtype == Format::fp32 ? 8 : 4) + " vs " +
                      text::hex(got[0][first], s.dtype == Format::fp32 ? 8 : 4) + ")";
    std::vector<Inputs::value_type> rotated(in.begin() + long(r), in.end());
    rotated.insert(rotated.end(), in.begin(), in.begin() + long(r));
    if (ordered_sum(s, Order::rank_order, rotated) == got[r])
      why += "; rank " + std::to_string(r) + "'s bits are the fp32 sum in its own order (from rank " + std::to_string(r) +
             " on): each rank adds in a different order, so the ranks cannot agree";
    return why;
  }
  return "";
}

// " = partition p, never gathered" when elements [i, j) of the view are exactly one two-shot
// partition (the kernel's: the view's packs of 16 bytes split evenly, the last rank taking the
// remainder).
std::string partition_of(const Spec& s, size_t i, size_t j) {
  if (resolved_order(s) != Order::rotated) return "";
  const int64_t per_pack = 16 / int64_t(info(s.dtype).bits / 8), packs = s.bytes() / 16, part = packs / s.world;
  for (int p = 0; p < s.world; ++p) {
    const int64_t b = part * p * per_pack, e = p == s.world - 1 ? s.view.count : part * (p + 1) * per_pack;
    if (int64_t(i) == b && int64_t(j) == e) return " = partition " + std::to_string(p) + ", never gathered";
  }
  return "";
}

// The elements each rank left unwritten, as runs ("rank 1: y[96..127]"): those still holding the
// poison, or (`in_place`) runs still holding the rank's own input where the sum is another value
// somewhere in the run (a sum that happens to equal the input does not cut a run).
std::string unwritten(const Spec& s, const Inputs& in, const Expected& e, const Outputs& got, bool in_place) {
  const uint32_t poison = poison_bits(s.dtype);
  const auto left = [&](size_t r, size_t i) { return got[r][i] == (in_place ? in[r][i] : poison); };
  const auto wrong = [&](size_t r, size_t i) { return !same(s.dtype, e.bits.empty() ? e.ideal.bits[i] : e.bits[i], got[r][i]); };
  std::vector<std::string> runs;
  size_t total = 0, all = 0;
  for (size_t r = 0; r < got.size(); ++r) {
    all += got[r].size();
    for (size_t i = 0; i < got[r].size();) {
      if (!left(r, i)) { ++i; continue; }
      size_t j = i;
      bool any_wrong = false;
      for (; j < got[r].size() && left(r, j); ++j) any_wrong |= wrong(r, j);
      if (in_place && !any_wrong) { i = j; continue; }
      total += j - i;
      runs.push_back("rank " + std::to_string(r) + ": y[" + std::to_string(i) + ".." + std::to_string(j - 1) + "]" +
                     partition_of(s, i, j));
      i = j;
    }
  }
  if (!total) return "";
  // In place the story must explain every wrong element: a rank whose sum merely equals its input
  // somewhere is not an unwritten run.
  if (in_place)
    for (size_t r = 0; r < got.size(); ++r)
      for (size_t i = 0; i < got[r].size(); ++i)
        if (wrong(r, i) && !left(r, i)) return "";
  std::string text = std::to_string(total) + " of " + std::to_string(all) + " elements never written (" +
                     (in_place ? "in place: they still hold the rank's own input" : "poison") + "): ";
  for (size_t k = 0; k < std::min<size_t>(runs.size(), 4); ++k) text += (k ? "; " : "") + runs[k];
  return text + (runs.size() > 4 ? "; and " + std::to_string(runs.size() - 4) + " more runs" : "");
}

// One rank's input read at another offset (d elements on, the view's neighbours or the poison
// past it where the shift leaves the view: compared only where it stays inside): the sum in the
// documented order with that rank's input shifted.
std::string shifted_rank(const Case& c, const Inputs& in, const Expected& e, const std::vector<uint32_t>& got) {
  if (e.bits.empty() || e.order == Order::per_hop) return "";
  const Spec& s = c.spec;
  const int64_t n = int64_t(got.size());
  for (size_t r = 0; r < in.size(); ++r)
    for (int64_t d : {1, -1, 2, -2, 4, -4, 8, -8}) {
      if (std::abs(d) >= n) continue;
      Inputs moved = in;
      for (int64_t i = 0; i < n; ++i) moved[r][size_t(i)] = in[r][size_t(std::clamp<int64_t>(i + d, 0, n - 1))];
      const std::vector<uint32_t> want = ordered_sum(s, e.order, moved);
      bool fits = true;
      for (int64_t i = std::max<int64_t>(0, -d); i < std::min(n, n - d) && fits; ++i)
        fits = same(s.dtype, got[size_t(i)], want[size_t(i)]);
      if (fits && got != e.bits)
        return "rank " + std::to_string(r) + "'s input is read " + std::to_string(std::abs(d)) +
               (std::abs(d) == 1 ? " element " : " elements ") +
               (d > 0 ? "on" : "back") + " (y[i] sums x" + std::to_string(r) + "[i " + (d > 0 ? "+ " : "- ") +
               std::to_string(std::abs(d)) + "]): an offset into that rank's buffer";
    }
  return "";
}

// Whole-output stories for a failing rank 0 (unwritten elements are told first, over all ranks).
std::string diagnose(const Case& c, const Inputs& in, const Expected& e, const std::vector<uint32_t>& got) {
  const Spec& s = c.spec;
  if (const std::string shifted = shifted_rank(c, in, e, got); !shifted.empty()) return shifted;
  if (e.ring)
    return "not the sum of NCCL's ring as measured (" + std::string(e.ring->source) +
           "); where the NCCL version or the machine differs it may cut the message otherwise: `ulpgate reveal --case " +
           c.id() + " --backend vendor` shows the order followed here";
  for (Order o : {Order::rank_order, Order::rotated})
    if (!e.bits.empty() && o != e.order && ordered_sum(s, o, in) == got)
      return "the bits are the " + std::string(order_name(o)) + " order's, not the " + std::string(order_name(e.order)) +
             " the variant documents" +
             (s.variant->order == Order::by_size ? " (the selection rule picks the other kernel for this size and world)" : "");
  return "";
}

}  // namespace

Order summed_order(const Case& c) { return c.exact_inputs() ? Order::per_hop : resolved_order(c.spec); }

Expected expected_from(const Case& c, Ideal ideal, std::vector<uint32_t> summed) {
  Expected e;
  e.ideal = std::move(ideal);
  e.order = resolved_order(c.spec);
  e.bits = c.exact_inputs() ? e.ideal.bits : std::move(summed);
  return e;
}

void hold_to_ring(Expected& e, const Case& c, const RingOrder& ring, const Inputs& in) {
  if (c.exact_inputs()) return;
  e.bits = ring_sum(c.spec, ring, in);
  e.ring = &ring;
}

Expected expected(const Case& c, const Inputs& in) {
  const Order o = summed_order(c);
  return expected_from(c, ideal(c.spec, in), o == Order::per_hop ? std::vector<uint32_t>{} : ordered_sum(c.spec, o, in));
}

CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Outputs& got, const BudgetTable& budgets) {
  CaseResult r;
  r.case_id = c.id();
  r.family = "allreduce";
  r.profile = std::string(c.spec.variant->name);
  const std::string_view variant = c.spec.variant->name;
  if (!e.bits.empty()) budgets.lookup("allreduce", variant, "y", BudgetRule::bit_exact);
  const double factor = budgets.lookup("allreduce", variant, "y-ideal", BudgetRule::accum_bound).limit;
  Judge(c, e, factor).run(got.at(0), r);
  if (const std::string why = unwritten(c.spec, in, e, got, false); !why.empty()) {
    r.verdict = std::max(r.verdict, Verdict::over_budget);
    r.message = why;
  } else if (const std::string why = disagreement(c, in, got); !why.empty()) {
    r.verdict = std::max(r.verdict, Verdict::over_budget);
    r.message = why;
  }
  // In place an unwritten element keeps the rank's input, not the poison: told once the case fails.
  if (c.spec.in_place && !passes(r.verdict))
    if (const std::string why = unwritten(c.spec, in, e, got, true); !why.empty()) r.message = why;
  if (!passes(r.verdict) && r.message.empty()) r.message = diagnose(c, in, e, got[0]);
  return r;
}

}  // namespace ulpgate::allreduce
