#include "harness/quant/compare.hpp"

#include "harness/quant/budget.hpp"
#include "harness/report/text.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>

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

// Compares codes element by element; fills counts, max_ulp and the first bad elements.
void judge_codes(const Case& c, const Inputs& in, const Expected& e, std::span<const uint8_t> codes,
                 const CodeBudget& budget, CaseResult& r) {
  const Spec& s = c.spec;
  const double rel = budget.ideal_rel_error;
  const int64_t g = s.scale_shape().g;
  for (int64_t row = 0; row < s.m; ++row)
    for (int64_t col = 0; col < s.k; ++col) {
      const size_t i = size_t(row * s.k + col);
      const uint32_t a = codes[i], p = e.profile.codes[i], d = e.ideal[i];
      const float scale = e.profile.scales[size_t((row / s.tile_rows()) * g + col / s.tile_cols())];
      r.n_nan += is_nan(s.format, a);
      const auto dist = ulp_distance(s.format, a, p);
      if (dist) r.max_ulp = std::max(r.max_ulp, double(*dist));
      if (a == p) {
        ++(p == d ? r.n_exact : r.n_within);  // profile != ideal: a proven tie flip
        continue;
      }
      const bool within = dist && *dist <= budget.max_codes_vs_profile &&
                          (a == d || justified_flip(s.format, a, d, in.values[i], scale, rel));
      if (within) {
        ++r.n_within;
        continue;
      }
      const bool nonfinite = is_nan(s.format, a) && !is_nan(s.format, p);
      ++(nonfinite ? r.n_nonfinite : r.n_over);
      if (!dist) r.max_ulp = INFINITY;
      if (r.first_bad.size() < kFirstBad)
        r.first_bad.push_back("code[" + std::to_string(row) + "," + std::to_string(col) + "] x=" +
                              num(in.values[i]) + " scale=" + num(scale) + ": expected " + hex2(p) + " (" +
                              num(decode(s.format, p)) + "), got " + hex2(a) + " (" +
                              num(decode(s.format, a)) + ")" + (a == kPoison ? " = poison: never written" : "") +
                              ", ideal " + hex2(d));
    }
}

// Scales bit-exact and padding as defined; returns the number of bad scale and padding slots.
uint64_t judge_scales(const Case& c, const Expected& e, std::span<const uint8_t> storage, CaseResult& r) {
  const Spec& s = c.spec;
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
  if (pad) r.message += "padding: " + std::to_string(pad) + " bytes not written as the layout defines; ";
  r.elements += got.size();
  return bad + pad;
}

// A hypothesis about what the backend did instead, and the verdict it earns when it matches.
struct Hypothesis {
  std::string story;
  Verdict verdict;
  std::function<bool()> matches;
};

// Scales that fit in the storage when read under layout l (a wrong writer may fill it only in part).
bool scales_match_under(Layout l, const Spec& s, std::span<const uint8_t> storage, std::span<const float> want) {
  const ScaleShape ss = s.scale_shape();
  int64_t compared = 0;
  for (int64_t m = 0; m < ss.m; ++m)
    for (int64_t g = 0; g < ss.g; ++g) {
      const int64_t at = byte_offset(l, ss, m, g);
      if (at + slot_bytes(l) > int64_t(storage.size())) continue;
      float v;
      if (is_ue8m0_layout(l)) {
        v = decode_f32(Format::ue8m0, storage[size_t(at)]);
      } else {
        std::memcpy(&v, &storage[size_t(at)], 4);
      }
      const float w = want[size_t(m * ss.g + g)];
      if (!same_bits(v, w) && !(std::isnan(v) && std::isnan(w))) return false;
      ++compared;
    }
  // A writer of layout l into a buffer sized for another may fill it only in part (R1); where the
  // buffer is large enough, every scale must match.
  const bool fits = storage_bytes(l, ss) <= int64_t(storage.size());
  return compared > 0 && (!fits || compared == ss.m * ss.g) && compared * 2 >= std::min<int64_t>(ss.m * ss.g, 2);
}

// Hypotheses are aimed at what mismatched: scale layouts when only scales are wrong, formats,
// maxima and requantization when codes are wrong, whole profiles either way.
std::vector<Hypothesis> hypotheses(const Case& c, const Inputs& in, const Expected& e, const Observed& o,
                                   bool codes_bad, bool scales_bad) {
  std::vector<Hypothesis> h;
  const Spec& s = c.spec;
  if (scales_bad && !codes_bad)
  for (Layout l : {Layout::row, Layout::col, Layout::col_tma, Layout::ue8m0_packed, Layout::aiter_tview,
                   Layout::mx_swizzle_128x4, Layout::mx_row})
    if (l != s.layout && (!is_ue8m0_layout(l) || s.pow2_scales()))
      h.push_back({"scales were written as " + std::string(layout_name(l)) + " but are read as " +
                       std::string(layout_name(s.layout)),
                   Verdict::layout, [&, l] { return scales_match_under(l, s, o.storage, e.profile.scales); }});
  // Hypotheses outlive this function's locals: capture them by value.
  const auto codes_of = [&in](Spec alt) { return quantize_profile(alt, in.values).codes; };
  if (!codes_bad) return h;
  for (Format f : {Format::e4m3fn, Format::e4m3fnuz})
    if (f != s.format && !scales_bad) {  // an encoding mix-up leaves the scales right
      const bool fnuz = f == Format::e4m3fnuz;
      h.push_back({std::string("codes are ") + std::string(format_name(f)) + (fnuz ? " (fnuz)" : " (OCP)") +
                       " bytes, the consumer reads " + std::string(format_name(s.format)) +
                       ": every value is 2x off",
                   Verdict::layout, [&, f] {
                     for (size_t i = 0; i < o.codes.size(); ++i) {
                       const double want = decode(s.format, e.profile.codes[i]);
                       const uint32_t alt = std::isnan(want) ? info(f).canonical_nan : encode(want, Conversion{f});
                       if (alt != o.codes[i] && !(is_nan(f, alt) && is_nan(f, o.codes[i]))) return false;
                     }
                     return !o.codes.empty();
                   }});
    }
  // fnuz producers disagree on the clamp value (R11): 240 (AITER) vs 224 (vLLM, sglang).
  const std::vector<float> maxima = s.format == Format::e4m3fnuz ? std::vector{240.0f, 224.0f} : std::vector<float>{};
  for (float max : maxima)
    if (max != s.fp8_max())
      h.push_back({"profile mismatch: codes use fp8 max " + num(max) + ", " + std::string(s.profile->name) +
                       " uses " + num(s.fp8_max()),
                   Verdict::over_budget, [&, codes_of, max] {
                     Profile p = *s.profile;
                     p.max_fnuz = max;
                     Spec alt = s;
                     alt.profile = &p;
                     return codes_of(alt) == std::vector<uint8_t>(o.codes.begin(), o.codes.end());
                   }});
  if (s.pow2_scales() && s.op != Op::mx)
    h.push_back({"scale/code inconsistency: scales rounded to a power of two after the codes were "
                 "quantized with the unrounded scale",
                 Verdict::over_budget, [&, codes_of] {
                   Spec alt = s;
                   alt.ue8m0 = false;
                   alt.layout = Layout::row;
                   return codes_of(alt) == std::vector<uint8_t>(o.codes.begin(), o.codes.end());
                 }});
  for (const Profile& p : profiles())
    if (&p != s.profile && p.supports(s.format) && (p.mx != MxRule::none) == (s.op == Op::mx))
      h.push_back({"profile divergence: the output follows profile " + std::string(p.name) + ", not " +
                       std::string(s.profile->name),
                   Verdict::over_budget, [&, pp = &p] {
                     Spec alt = s;
                     alt.profile = pp;
                     const Result r = quantize_profile(alt, in.values);
                     return r.codes == std::vector<uint8_t>(o.codes.begin(), o.codes.end()) &&
                            r.storage == std::vector<uint8_t>(o.storage.begin(), o.storage.end());
                   }});
  return h;
}

}  // namespace

CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets,
                   std::string_view budget_op) {
  CaseResult r;
  r.case_id = c.id();
  r.family = "quant";
  r.profile = std::string(c.spec.profile->name);
  r.elements = e.profile.codes.size();
  if (o.codes.size() != e.profile.codes.size() || int64_t(o.storage.size()) != storage_bytes(c.spec.layout, c.spec.scale_shape())) {
    r.verdict = Verdict::error;
    r.message = "output sizes differ from the reference";
    return r;
  }
  judge_codes(c, in, e, o.codes, code_budget(budgets, c.spec, budget_op), r);
  const bool codes_bad = r.n_over + r.n_nonfinite > 0;
  const uint64_t bad_scales = judge_scales(c, e, o.storage, r);
  r.n_over += bad_scales;
  r.verdict = r.n_nonfinite ? Verdict::non_finite
              : r.n_over    ? Verdict::over_budget
              : r.n_within  ? Verdict::within_budget
                            : Verdict::exact;
  if (passes(r.verdict)) return r;
  for (const Hypothesis& h : hypotheses(c, in, e, o, codes_bad, bad_scales > 0))
    if (h.matches()) {
      r.message += h.story;
      if (h.verdict == Verdict::layout) r.verdict = Verdict::layout;
      return r;
    }
  if (bad_scales) r.message += std::to_string(bad_scales) + " scale/padding slots differ; ";
  return r;
}

}  // namespace ulpgate::quant
