#include "harness/allreduce/fused_compare.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

#include "harness/core/family.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::allreduce {
namespace {

uint16_t to_t(Format T, float v) { return T == Format::bf16 ? float_to_bf16(v) : float_to_fp16(v); }

// Rows where a rank's outputs differ from rank 0's.
std::vector<int64_t> rows_differing(const norm::Spec& s, const norm::Observed& a, const norm::Observed& b) {
  std::vector<int64_t> rows;
  const auto row_differs = [&](int64_t row) {
    const size_t at = size_t(row * s.h), n = size_t(s.h);
    const auto differ = [&](auto x, auto y) {
      return !x.empty() && !std::equal(x.begin() + at, x.begin() + at + n, y.begin() + at);
    };
    return differ(a.residual, b.residual) || differ(a.y, b.y) || differ(a.codes, b.codes);
  };
  for (int64_t row = 0; row < s.m; ++row)
    if (row_differs(row)) rows.push_back(row);
  return rows;
}

std::string range_text(int64_t begin, int64_t end) {
  return end - begin == 1 ? "row " + std::to_string(begin) : "rows [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// "rank 1 differs from rank 0 in rows [2, 4), the rows rank 1 reduces (two-shot): ..."
std::string rank_disagreement(const FusedCase& c, std::span<const norm::Observed> ranks) {
  const norm::Spec& s = c.spec.norm;
  for (size_t r = 1; r < ranks.size(); ++r) {
    const bool scales_differ = !std::ranges::equal(ranks[r].storage, ranks[0].storage);
    const std::vector<int64_t> rows = rows_differing(s, ranks[r], ranks[0]);
    if (rows.empty() && !scales_differ) continue;
    std::string why = "rank " + std::to_string(r) + " differs from rank 0 (every rank must get the same bits)";
    if (rows.empty()) return why + " in its scales";
    why += " in " + std::to_string(rows.size()) + " of " + std::to_string(s.m) + " rows";
    if (c.spec.variant->sharding != Sharding::two_shot) return why;
    for (int owner = 0; owner < c.spec.world; ++owner) {
      const RowRange own = owned_rows(s.m, c.spec.world, owner);
      if (own.end - own.begin == int64_t(rows.size()) && rows.front() == own.begin && rows.back() == own.end - 1)
        return why + ": exactly " + range_text(own.begin, own.end) + ", the rows rank " + std::to_string(owner) +
               " reduces: its sums did not reach rank " + std::to_string(r == size_t(owner) ? 0 : r);
    }
    return why;
  }
  return "";
}

// The residual T(s + residual) for another sum s' (fp32 values before the last rounding).
using SumOf = std::function<float(size_t)>;
size_t residual_mismatches(const FusedCase& c, std::span<const uint16_t> got, const SumOf& z32) {
  size_t n = 0;
  for (size_t i = 0; i < got.size(); ++i) n += got[i] != to_t(c.spec.norm.dtype, z32(i));
  return n;
}

// The all-reduce stage wrong: which other sum explains the written-back residual.
std::string sum_story(const FusedCase& c, const FusedTensors& t, const FusedExpected& e, std::span<const uint16_t> got) {
  const Format T = c.spec.norm.dtype;
  const auto value = [&](int r, size_t i) { return decode_f32(T, t.x_bits(size_t(r), i)); };
  const auto fp32_sum = [&](size_t i) {
    float s = value(0, i);
    for (int r = 1; r < c.spec.world; ++r) s += value(r, i);
    return s;
  };
  const struct {
    std::string what;
    SumOf z;
  } alternatives[] = {
      {"the ranks were added in " + std::string(format_name(T)) + ", rounded at every hop, not in fp32",
       [&](size_t i) {
         float s = value(0, i);
         for (int r = 1; r < c.spec.world; ++r) s = decode_f32(T, to_t(T, s + value(r, i)));
         return s + t.residual_values[i];
       }},
      {"the residual was added to the fp32 sum before it was rounded to " + std::string(format_name(T)),
       [&](size_t i) { return fp32_sum(i) + t.residual_values[i]; }},
  };
  const size_t bad = residual_mismatches(c, got, [&](size_t i) { return e.norm_inputs.x[i] + t.residual_values[i]; });
  std::string story = "the all-reduce stage: the written-back residual T(s + residual) differs at " + std::to_string(bad) +
                      " of " + std::to_string(got.size()) + " elements";
  for (const auto& a : alternatives)
    if (residual_mismatches(c, got, a.z) == 0) return story + ": " + std::string(a.what);
  return story + " (no known order of the ranks' sum explains it)";
}

// The fp32 weights' bytes read as bf16: the first H 16-bit halves (R21).
std::vector<float> weights_read_as_bf16(const FusedTensors& t, int64_t h) {
  std::vector<float> w(static_cast<size_t>(h));
  for (size_t i = 0; i < w.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, t.weight.data() + 2 * i, 2);
    w[i] = decode_f32(Format::bf16, bits);
  }
  return w;
}

// Rank 0's outputs, and the norm stage's inputs as the slab judge fetches them: x the all-reduce's
// sum as the reference makes it (the stage is judged on the sum it must have had), the residual
// the input every rank shares.
class RankZeroRows : public norm_kernels::HeldOutputs {
 public:
  RankZeroRows(const FusedCase& c, const FusedTensors& t, const norm::Observed& o) : h_(c.spec.norm.h), t_(t), o_(o) {
    const std::vector<uint32_t> sum = fused_sum(c.spec, t.raw_x());
    sum_.assign(sum.begin(), sum.end());
  }
  void y(int64_t row0, int64_t row1, std::span<uint16_t> out) override { rows(o_.y, row0, row1, out); }
  void residual(int64_t row0, int64_t row1, std::span<uint16_t> out) override { rows(o_.residual, row0, row1, out); }
  void codes(int64_t row0, int64_t row1, std::span<uint8_t> out) override { rows(o_.codes, row0, row1, out); }
  std::span<const uint8_t> storage() override { return o_.storage; }
  void inputs(int64_t row0, int64_t row1, std::span<std::byte> x, std::span<std::byte> residual) override {
    rows(std::as_bytes(std::span<const uint16_t>(sum_)), row0, row1, x, 2);
    rows(std::span<const std::byte>(t_.residual), row0, row1, residual, 2);
  }
  const std::vector<guard::Violation>& violations() const override { return none_; }

 private:
  // Rows [row0, row1) of an [M, H] tensor, `element` units an element (an empty out: none).
  template <class T>
  void rows(std::span<const T> from, int64_t row0, int64_t row1, std::span<T> out, size_t element = 1) const {
    const size_t at = size_t(row0 * h_) * element, n = size_t((row1 - row0) * h_) * element;
    if (out.empty()) return;
    if (out.size() != n || at + n > from.size()) throw std::logic_error("allreduce::RankZeroRows: rows of another size");
    std::copy_n(from.begin() + ptrdiff_t(at), n, out.begin());
  }
  int64_t h_;
  const FusedTensors& t_;
  const norm::Observed& o_;
  std::vector<uint16_t> sum_;  // T bits
  std::vector<guard::Violation> none_;
};

void name_fused(CaseResult& r, const FusedCase& c) {
  r.case_id = c.id();
  r.family = "allreduce";
  r.profile = std::string(c.spec.variant->name);
}

}  // namespace

CaseResult fused_judged(const FusedCase& c, const FusedTensors& t, std::span<const norm::Observed> ranks, Backend& backend,
                        std::string* device, int64_t slab_elements) {
  const norm::Case nc = c.norm_case();
  if (norm::judged_in_slabs(nc.spec)) {
    RankZeroRows rows(c, t, ranks[0]);
    CaseResult r = norm::count_in_slabs(nc, backend, {{}, {}, t.weight, t.weight_values}, rows, slab_elements, device).result;
    if (passes(r.verdict)) {
      name_fused(r, c);
      if (const std::string why = rank_disagreement(c, ranks); !why.empty()) worsen(r, Verdict::over_budget, why);
      return r;
    }
  }
  return fused_compare(c, t, fused_expected(c, t), ranks, quant::default_budgets());
}

CaseResult fused_compare(const FusedCase& c, const FusedTensors& t, const FusedExpected& e,
                         std::span<const norm::Observed> ranks, const BudgetTable& budgets) {
  const norm::Case nc = c.norm_case();
  const norm::Observed& o = ranks[0];
  CaseResult r;
  if (!std::ranges::equal(o.residual, e.norm.profile.residual)) {
    r = norm::judge(nc, e.norm_inputs, e.norm, o, budgets);  // the counts
    r.verdict = Verdict::over_budget;
    r.message = sum_story(c, t, e, o.residual);
  } else {
    r = norm::compare(nc, e.norm_inputs, e.norm, o, budgets);
    if (!passes(r.verdict) && c.spec.norm.fp32_weight) {
      norm::Inputs as_bf16 = e.norm_inputs;
      as_bf16.weight = weights_read_as_bf16(t, c.spec.norm.h);
      const norm::Expected alt = norm::expected(nc, as_bf16);
      if (passes(norm::judge(nc, as_bf16, alt, o, budgets).verdict))
        r.message = "the norm stage read the fp32 weights as bf16 (R21): the outputs are the norm of the sum with the "
                    "first H 16-bit halves of the fp32 weight words as weights";
    }
    if (!r.message.empty() && !passes(r.verdict) && !r.message.starts_with("the norm stage"))
      r.message = "the norm stage (" + std::string(norm::op_name(c.spec.norm.op)) + "/" +
                  std::string(c.spec.norm.profile->name) + " on the all-reduced sum): " + r.message;
  }
  name_fused(r, c);
  if (const std::string why = rank_disagreement(c, ranks); !why.empty()) worsen(r, Verdict::over_budget, why);
  return r;
}

}  // namespace ulpgate::allreduce
