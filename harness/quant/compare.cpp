#include "harness/quant/compare.hpp"

#include "harness/core/chunked_judge.hpp"
#include "harness/core/error_grid.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/diagnosis.hpp"
#include "harness/report/text.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
#include <atomic>

namespace ulpgate::quant {
namespace {

constexpr size_t kFirstBad = 5;

using text::num;
std::string hex2(uint32_t v) { return text::hex(v, 2); }

bool same_bits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

bool is_pow2(float s) {
  int e;
  return std::isfinite(s) && s > 0 && std::frexp(s, &e) == 0.5f;
}

// The MX blocks whose codes are don't-care: the reference's scale and the written one are both the
// ue8m0 NaN (0xFF), and under OCP MX a NaN scale makes every element of its block NaN.
std::vector<bool> nan_scale_blocks(const Spec& s, std::span<const float> want, std::span<const uint8_t> storage) {
  if (!s.mx_scales()) return {};
  const std::vector<float> got = unpack(s.layout, s.scale_shape(), storage);
  std::vector<bool> nan(got.size());
  for (size_t b = 0; b < got.size(); ++b) nan[b] = std::isnan(got[b]) && std::isnan(want[b]);
  return nan;
}

// The reference's codes, the judged ones and the raw input of rows [row0, row0 + profile.size() / K).
struct CodeRows {
  int64_t row0;
  std::span<const uint8_t> profile, ideal, actual;
  std::span<const std::byte> raw;
};

// What judging the codes gathers across their rows (every slab of them): the bad codes by scale
// group and the codes that differ only in don't-care blocks.
struct CodeTally {
  std::vector<bool> dont_care;
  GridTally by_group;
  std::atomic<uint64_t> equivalent = 0;
  std::mutex lock;

  CodeTally(const Case& c, std::span<const float> scales, std::span<const uint8_t> storage)
      : dont_care(nan_scale_blocks(c.spec, scales, storage)),
        by_group(c.spec.m, (c.spec.k + c.spec.tile_cols() - 1) / c.spec.tile_cols()) {}

  // Its grid and its message into the result, once every row is judged.
  void report(CaseResult& result) const {
    if (by_group.any()) result.grids.push_back(by_group.grid("bad codes by (row, scale group)", "row", "group", "bad codes"));
    if (equivalent)
      result.message = "equivalent encoding: " + std::to_string(equivalent) +
                       " codes differ from the reference's in blocks whose scale is the ue8m0 NaN (0xFF), where OCP MX "
                       "makes every element NaN whatever its code";
  }
};

// Compares the codes of `rows` element by element (rows on every core); adds to the counts,
// max_ulp and the first bad elements, and to the tally.
void judge_codes(const Case& c, const Inputs& in, std::span<const float> scales, CodeRows rows,
                 const CodeBudget& budget, CodeTally& tally, CaseResult& result) {
  const Spec& s = c.spec;
  // Inputs a device reference judged keep no fp32 values: an element is widened from its raw bytes.
  const int64_t g = s.scale_shape().g, first = rows.row0 * s.k;
  const auto value = [&](size_t i) {
    return in.values.empty() ? raw_value(rows.raw, c.input, size_t(int64_t(i) - first)) : in.values[i];
  };
  const double rel = budget.ideal_rel_error;
  const auto n_rows = int64_t(rows.profile.size()) / std::max<int64_t>(1, s.k);
  const std::array<uint8_t, 256> nan_code = nan_codes(s.format);
  judge_rows_in_chunks(n_rows, s.k, kFirstBad, result, [&](int64_t row0, int64_t row1, CaseResult& r) {
    uint64_t own_equivalent = 0;
    std::vector<std::pair<int64_t, int64_t>> bad_groups;
    for (int64_t row = rows.row0 + row0; row < rows.row0 + row1; ++row)
      for (int64_t col = 0; col < s.k; ++col) {
        const size_t i = size_t(row * s.k + col), at = size_t(int64_t(i) - first);
        const uint32_t a = rows.actual[at], p = rows.profile[at], d = rows.ideal[at];
        const size_t si = size_t((row / s.tile_rows()) * g + col / s.tile_cols());
        const float scale = scales[si];
        if (a != p && !tally.dont_care.empty() && tally.dont_care[si]) {
          ++own_equivalent;
          ++r.n_within;
          continue;
        }
        r.n_nan += nan_code[a];
        if (a == p) {  // most codes: distance 0, nothing more to find
          count_ulps(r, 0);
          ++(p == d ? r.n_exact : r.n_within);  // profile != ideal: a proven tie flip
          continue;
        }
        const auto dist = ulp_distance(s.format, a, p);
        if (dist) r.max_ulp = std::max(r.max_ulp, double(*dist));
        count_ulps(r, dist ? double(*dist) : INFINITY);
        const bool within = dist && *dist <= budget.max_codes_vs_profile &&
                            (a == d || justified_flip(s.format, a, d, value(i), scale, rel));
        if (within) {
          ++r.n_within;
          continue;
        }
        const bool nonfinite = nan_code[a] && !nan_code[p];
        ++(nonfinite ? r.n_nonfinite : r.n_over);
        if (!dist) r.max_ulp = INFINITY;
        bad_groups.emplace_back(row, col / s.tile_cols());
        if (r.first_bad.size() < kFirstBad)
          r.first_bad.push_back("code[" + std::to_string(row) + "," + std::to_string(col) + "] x=" +
                                num(value(i)) + " scale=" + num(scale) + ": expected " + hex2(p) + " (" +
                                num(decode(s.format, p)) + "), got " + hex2(a) + " (" +
                                num(decode(s.format, a)) + ")" + (a == kPoison ? " = poison: never written" : "") +
                                ", ideal " + hex2(d));
      }
    tally.equivalent += own_equivalent;
    if (bad_groups.empty()) return;
    const std::lock_guard lock(tally.lock);
    for (const auto& [row, group] : bad_groups) tally.by_group.add(row, group);
  });
}

// Scales bit-exact and padding as defined; returns the number of bad scale and padding slots.
uint64_t judge_scales(const Case& c, const Result& want, std::span<const uint8_t> storage, CaseResult& r) {
  const Spec& s = c.spec;
  if (!s.writes_scales()) return 0;  // a static scale is an input
  const ScaleShape ss = s.scale_shape();
  const std::vector<float> got = unpack(s.layout, ss, storage);
  // What the layout can hold of the reference's scales (an Inf scale is the ue8m0 NaN byte 0xFF).
  const std::vector<float> stored = unpack(s.layout, ss, want.storage);
  uint64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float want = stored[i];
    if (same_bits(got[i], want) || (std::isnan(got[i]) && std::isnan(want))) {
      ++r.n_exact;
      continue;
    }
    ++bad;
    if (r.first_bad.size() < kFirstBad) {
      std::string why = s.pow2_scales() && !is_pow2(got[i]) && !is_ue8m0_layout(s.layout)
                            ? " (scale not a power of two: a ue8m0 consumer loses its mantissa)"
                            : "";
      const int64_t at = byte_offset(s.layout, ss, int64_t(i) / ss.g, int64_t(i) % ss.g);
      const std::string lane = s.layout == Layout::ue8m0_packed
                                   ? " (int32 word " + std::to_string(at / 4) + ", byte lane " + std::to_string(at % 4) + ")"
                                   : "";
      r.first_bad.push_back("scale[" + std::to_string(int64_t(i) / ss.g) + "," + std::to_string(int64_t(i) % ss.g) +
                            "]" + lane + ": expected " + num(want) + ", got " + num(got[i]) + why);
    }
  }
  uint64_t pad = 0;
  for (int64_t b = 0; b < storage_bytes(s.layout, ss); ++b)
    if (!scale_at(s.layout, ss, b) && storage[size_t(b)] != padding_byte(s.layout, ss, b)) {
      if (pad++ == 0 && r.first_bad.size() < kFirstBad)
        r.first_bad.push_back("padding byte " + std::to_string(b) + " of " + std::string(layout_name(s.layout)) +
                              ": expected " + hex2(padding_byte(s.layout, ss, b)) + ", got " +
                              hex2(storage[size_t(b)]) + (storage[size_t(b)] == kPoison ? " (never written)" : ""));
    }
  r.elements += got.size();
  return bad + pad;
}

// What is wrong when no hypothesis explains it: how many codes, scales and padding bytes.
std::string unexplained(const Case& c, const Expected& e, const Observed& o, uint64_t bad_codes, uint64_t bad_slots) {
  const Spec& s = c.spec;
  const ScaleShape ss = s.scale_shape();
  uint64_t pad = 0;
  for (int64_t b = 0; b < s.scale_bytes(); ++b)
    pad += !scale_at(s.layout, ss, b) && o.storage[size_t(b)] != e.profile.storage[size_t(b)];
  std::vector<std::string> parts;
  const auto count = [](uint64_t n, const char* one, const char* many) { return std::to_string(n) + (n == 1 ? one : many); };
  if (bad_codes) parts.push_back(count(bad_codes, " code over budget", " codes over budget"));
  if (bad_slots > pad) parts.push_back(count(bad_slots - pad, " scale differs", " scales differ"));
  if (pad) parts.push_back("padding: " + std::to_string(pad) + " bytes not written as the " +
                           std::string(layout_name(s.layout)) + " layout defines");
  std::string m;
  for (const std::string& p : parts) m += (m.empty() ? "" : "; ") + p;
  return m + (m.empty() ? "" : "; ") + "no hypothesis explains the output";
}

// The case's counts: its codes (judge_rows(tally, r) judges every row of them), then its scales
// against `want` (the profile's); the verdict they give, or error where the outputs' sizes
// (`codes` bytes, the storage) are not the case's. `bad_scales` gets the bad scale and padding slots.
template <class JudgeRows>
CaseResult counted(const Case& c, const Result& want, size_t codes, std::span<const uint8_t> storage,
                   uint64_t& bad_scales, JudgeRows judge_rows) {
  CaseResult r;
  r.case_id = c.id();
  r.family = "quant";
  r.profile = std::string(c.spec.profile->name);
  r.elements = size_t(c.spec.m * c.spec.k);
  if (codes != r.elements || int64_t(storage.size()) != c.spec.scale_bytes()) {
    r.verdict = Verdict::error;
    r.message = "output sizes differ from the reference";
    return r;
  }
  CodeTally tally(c, want.scales, storage);
  judge_rows(tally, r);
  tally.report(r);
  bad_scales = judge_scales(c, want, storage, r);
  r.n_over += bad_scales;
  r.verdict = verdict_of_counts(r);
  return r;
}

}  // namespace

CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets,
                   std::string_view budget_op, bool diagnose) {
  const CodeBudget budget = code_budget(budgets, c.spec, budget_op);
  uint64_t bad_scales = 0;
  CaseResult r = counted(c, e.profile, o.codes.size(), o.storage, bad_scales, [&](CodeTally& tally, CaseResult& r) {
    judge_codes(c, in, e.profile.scales, {0, e.profile.codes, e.ideal, o.codes, in.raw}, budget, tally, r);
  });
  if (passes(r.verdict) || !diagnose || r.verdict == Verdict::error) return r;
  const bool codes_bad = r.n_over - bad_scales + r.n_nonfinite > 0;
  const Inputs widened_in = in.values.empty() ? Inputs{{}, widened(in.raw, c.input)} : Inputs{};
  const Evidence ev{c, in.values.empty() ? widened_in : in, e, o, codes_bad, bad_scales > 0};
  if (const auto d = weigh(hypotheses(ev))) {
    r.message = d->story;
    if (d->verdict == Verdict::layout) r.verdict = Verdict::layout;
    return r;
  }
  r.message = unexplained(c, e, o, r.n_over - bad_scales, bad_scales);
  return r;
}

CaseResult compare_held(const Case& c, quant_kernels::HeldReference& held, quant_kernels::HeldOutputs& o,
                        const BudgetTable& budgets, int64_t slab_elements) {
  const CodeBudget budget = code_budget(budgets, c.spec, {});
  const int64_t per = std::max<int64_t>(1, slab_elements / std::max<int64_t>(1, c.spec.k));
  const size_t row_bytes = c.input_rows().row_bytes;
  uint64_t bad_scales = 0;
  const size_t n = size_t(c.spec.m * c.spec.k);
  const Inputs raw_only;  // the input's values come from each slab's raw rows
  CaseResult r = counted(c, held.scales(), n, o.storage(), bad_scales, [&](CodeTally& tally, CaseResult& r) {
    std::vector<uint8_t> codes, ideal, actual;
    std::vector<std::byte> raw;
    for (int64_t row0 = 0; row0 < c.spec.m; row0 += per) {
      const int64_t row1 = std::min(c.spec.m, row0 + per);
      // Where the kernel's codes are on the reference's device, a slab whose codes are all the
      // profile's is judged there: judge_codes' counts of such codes (0 ulps).
      if (const uint8_t* on_device = o.codes_on_device()) {
        const quant_kernels::CodeCounts k = held.count_codes(row0, row1, on_device);
        if (k.other == 0) {
          r.n_exact += uint64_t(k.as_ideal), r.n_within += uint64_t(k.tie_flips), r.n_nan += uint64_t(k.nan);
          r.ulp_hist[0] += uint64_t(k.as_ideal + k.tie_flips);
          continue;
        }
      }
      codes.resize(size_t((row1 - row0) * c.spec.k)), ideal.resize(codes.size()), actual.resize(codes.size());
      raw.resize(size_t(row1 - row0) * row_bytes);
      held.rows(row0, row1, codes, ideal);
      held.input(row0, row1, raw);
      o.codes(row0, row1, actual);
      judge_codes(c, raw_only, held.scales().scales, {row0, codes, ideal, actual, raw}, budget, tally, r);
    }
  });
  if (passes(r.verdict) || r.verdict == Verdict::error) return r;
  // A failing case is diagnosed with every reference, every code and the input fetched: its layout
  // and format hypotheses read the whole output. The counts stay the slabs'.
  quant_kernels::ReferenceResult whole = held.whole(c.spec.m, c.spec.k);
  std::vector<uint8_t> actual(n);
  o.codes(0, c.spec.m, actual);
  Inputs in{std::vector<std::byte>(size_t(c.spec.m) * row_bytes), {}};
  held.input(0, c.spec.m, in.raw);
  const CaseResult d = compare(c, in, {std::move(whole.profile), std::move(whole.ideal), {}}, {actual, o.storage()}, budgets);
  r.message = d.message;
  if (d.verdict == Verdict::layout) r.verdict = Verdict::layout;
  return r;
}

}  // namespace ulpgate::quant
