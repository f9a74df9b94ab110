#include "harness/quant/compare.hpp"

#include "harness/core/chunked_judge.hpp"
#include "harness/core/error_grid.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/diagnosis.hpp"
#include "harness/report/text.hpp"

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
std::vector<bool> nan_scale_blocks(const Spec& s, const Expected& e, std::span<const uint8_t> storage) {
  if (!s.mx_scales()) return {};
  const std::vector<float> got = unpack(s.layout, s.scale_shape(), storage);
  std::vector<bool> nan(got.size());
  for (size_t b = 0; b < got.size(); ++b) nan[b] = std::isnan(got[b]) && std::isnan(e.profile.scales[b]);
  return nan;
}

// Compares codes element by element (rows on every core); fills counts, max_ulp and the first bad
// elements.
void judge_codes(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const CodeBudget& budget,
                 CaseResult& result) {
  const Spec& s = c.spec;
  // Inputs a device reference judged keep no fp32 values: an element is widened from its raw bytes.
  const auto value = [&](size_t i) { return in.values.empty() ? raw_value(in.raw, c.input, i) : in.values[i]; };
  const double rel = budget.ideal_rel_error;
  const int64_t g = s.scale_shape().g;
  const std::vector<bool> dont_care = nan_scale_blocks(s, e, o.storage);
  std::atomic<uint64_t> equivalent = 0;
  GridTally by_group(s.m, (s.k + s.tile_cols() - 1) / s.tile_cols());
  std::mutex tally;
  judge_rows_in_chunks(s.m, s.k, kFirstBad, result, [&](int64_t row0, int64_t row1, CaseResult& r) {
    uint64_t own_equivalent = 0;
    std::vector<std::pair<int64_t, int64_t>> bad_groups;
    for (int64_t row = row0; row < row1; ++row)
      for (int64_t col = 0; col < s.k; ++col) {
        const size_t i = size_t(row * s.k + col);
        const uint32_t a = o.codes[i], p = e.profile.codes[i], d = e.ideal[i];
        const size_t si = size_t((row / s.tile_rows()) * g + col / s.tile_cols());
        const float scale = e.profile.scales[si];
        if (a != p && !dont_care.empty() && dont_care[si]) {
          ++own_equivalent;
          ++r.n_within;
          continue;
        }
        r.n_nan += is_nan(s.format, a);
        const auto dist = ulp_distance(s.format, a, p);
        if (dist) r.max_ulp = std::max(r.max_ulp, double(*dist));
        count_ulps(r, a == p ? 0 : dist ? double(*dist) : INFINITY);
        if (a == p) {
          ++(p == d ? r.n_exact : r.n_within);  // profile != ideal: a proven tie flip
          continue;
        }
        const bool within = dist && *dist <= budget.max_codes_vs_profile &&
                            (a == d || justified_flip(s.format, a, d, value(i), scale, rel));
        if (within) {
          ++r.n_within;
          continue;
        }
        const bool nonfinite = is_nan(s.format, a) && !is_nan(s.format, p);
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
    equivalent += own_equivalent;
    if (bad_groups.empty()) return;
    const std::lock_guard lock(tally);
    for (const auto& [row, group] : bad_groups) by_group.add(row, group);
  });
  if (by_group.any()) result.grids.push_back(by_group.grid("bad codes by (row, scale group)", "row", "group", "bad codes"));
  if (equivalent)
    result.message = "equivalent encoding: " + std::to_string(equivalent) +
                     " codes differ from the reference's in blocks whose scale is the ue8m0 NaN (0xFF), where OCP MX "
                     "makes every element NaN whatever its code";
}

// Scales bit-exact and padding as defined; returns the number of bad scale and padding slots.
uint64_t judge_scales(const Case& c, const Expected& e, std::span<const uint8_t> storage, CaseResult& r) {
  const Spec& s = c.spec;
  if (!s.writes_scales()) return 0;  // a static scale is an input
  const ScaleShape ss = s.scale_shape();
  const std::vector<float> got = unpack(s.layout, ss, storage);
  // What the layout can hold of the reference's scales (an Inf scale is the ue8m0 NaN byte 0xFF).
  const std::vector<float> stored = unpack(s.layout, ss, e.profile.storage);
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

}  // namespace

CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets,
                   std::string_view budget_op, bool diagnose) {
  CaseResult r;
  r.case_id = c.id();
  r.family = "quant";
  r.profile = std::string(c.spec.profile->name);
  r.elements = e.profile.codes.size();
  if (o.codes.size() != e.profile.codes.size() || int64_t(o.storage.size()) != c.spec.scale_bytes()) {
    r.verdict = Verdict::error;
    r.message = "output sizes differ from the reference";
    return r;
  }
  judge_codes(c, in, e, o, code_budget(budgets, c.spec, budget_op), r);
  const bool codes_bad = r.n_over + r.n_nonfinite > 0;
  const uint64_t bad_scales = judge_scales(c, e, o.storage, r);
  r.n_over += bad_scales;
  r.verdict = verdict_of_counts(r);
  if (passes(r.verdict) || !diagnose) return r;
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

}  // namespace ulpgate::quant
