#include "harness/quant/diagnosis.hpp"

#include "harness/quant/diagnosis_parts.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "harness/report/text.hpp"

namespace ulpgate::quant {
namespace {

using text::num;

bool same_bits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

template <class A, class B>
bool equal(const A& a, const B& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

Fit fit_if(bool full) { return full ? Fit::full : Fit::none; }

// The format with the other encoding of the same width: e4m3fn <-> e4m3fnuz, e5m2 <-> e5m2fnuz.
Format sibling(Format f) {
  switch (f) {
    case Format::e4m3fn: return Format::e4m3fnuz;
    case Format::e4m3fnuz: return Format::e4m3fn;
    case Format::e5m2: return Format::e5m2fnuz;
    default: return Format::e5m2;
  }
}

std::string times(int k) { return k > 0 ? std::to_string(1 << k) + "x" : "1/" + std::to_string(1 << -k); }

std::string codes_seen(int k) { return "codes are " + times(k) + " the expected values with the scales right"; }

// ---- scales ----------------------------------------------------------------------------------

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
  const bool fits = storage_bytes(l, ss) <= int64_t(storage.size());
  return compared > 0 && (!fits || compared == ss.m * ss.g) && compared * 2 >= std::min<int64_t>(ss.m * ss.g, 2);
}

// What a writer of layout l leaves in this buffer: all of it is explained (full) when the buffer
// starts with l's storage and every byte past it is untouched poison or zero (a buffer the
// caller zeroed); only the scales that fit match otherwise (partial).
Fit written_as(Layout l, const Spec& s, std::span<const uint8_t> storage, std::span<const float> want) {
  const std::vector<uint8_t> bytes = pack(l, s.scale_shape(), want);
  const size_t n = std::min(bytes.size(), storage.size());
  const bool prefix = std::equal(bytes.begin(), bytes.begin() + ptrdiff_t(n), storage.begin());
  const bool rest = std::all_of(storage.begin() + ptrdiff_t(n), storage.end(), [](uint8_t b) { return b == kPoison || b == 0; });
  if (prefix && rest) return Fit::full;
  return scales_match_under(l, s, storage, want) ? Fit::partial : Fit::none;
}

void scale_hypotheses(const Case& c, const Expected& e, const Observed& o, std::vector<Hypothesis>& h) {
  const Spec& s = c.spec;
  for (Layout l : {Layout::row, Layout::col, Layout::col_tma, Layout::ue8m0_packed, Layout::aiter_tview,
                   Layout::mx_swizzle_128x4, Layout::mx_row})
    if (l != s.layout && (!is_ue8m0_layout(l) || s.pow2_scales()))
      h.push_back({"scales were written as " + std::string(layout_name(l)) + " but are read as " +
                       std::string(layout_name(s.layout)),
                   "", Verdict::layout, [&, l] { return written_as(l, s, o.storage, e.profile.scales); }});
  if (s.layout == Layout::ue8m0_packed)
    h.push_back({"every packed ue8m0 word holds the right scales in reversed byte order (group 4p+j in byte 3-j)",
                 "a big-endian packing of the int32 words", Verdict::layout, [&] {
                   std::vector<uint8_t> swapped = e.profile.storage;
                   for (size_t w = 0; w + 4 <= swapped.size(); w += 4) std::reverse(&swapped[w], &swapped[w] + 4);
                   return fit_if(equal(swapped, o.storage));
                 }});
}

// ---- codes -----------------------------------------------------------------------------------

void code_hypotheses(const Case& c, const Inputs& in, const Expected& e, const Observed& o, bool scales_bad,
                     std::vector<Hypothesis>& h) {
  const Spec& s = c.spec;
  const auto codes_of = [&in](const Spec& alt) { return quantize_profile(alt, in.values).codes; };
  const bool scales_right = !scales_bad;
  // An encoding mix-up (R10) leaves the scales right; read in the consumer's format, the other
  // format's bytes are 2^(bias difference) off.
  const Format other = sibling(s.format);
  if (scales_right && info(other).bits == 8)
    h.push_back({codes_seen(info(other).bias - info(s.format).bias),
                 std::string(format_name(other)) + " bytes read as " + std::string(format_name(s.format)) + " (R10)",
                 Verdict::layout, [&, other] {
                   for (size_t i = 0; i < o.codes.size(); ++i) {
                     const double want = decode(s.format, e.profile.codes[i]);
                     const uint32_t alt = std::isnan(want) ? info(other).canonical_nan : encode(want, Conversion{other});
                     if (alt != o.codes[i] && !(is_nan(other, alt) && is_nan(other, o.codes[i]))) return Fit::none;
                   }
                   return fit_if(!o.codes.empty());
                 }});
  // A power-of-two factor in the quantization step with the scales right (a reciprocal scale's
  // exponent off by one): the profile's codes of 2^k x with the group's amax and scale.
  if (scales_right)
    for (int k : {-2, -1, 1, 2})
      h.push_back({codes_seen(k), "a factor off by a power of two in the quantization step", Verdict::over_budget,
                   [&, k] {
                     const std::vector<float> amax = group_amax(s, in.values);
                     const int64_t g = s.scale_shape().g;
                     for (int64_t r = 0; r < s.m; ++r)
                       for (int64_t col = 0; col < s.k; ++col) {
                         const size_t i = size_t(r * s.k + col);
                         const size_t si = size_t((r / s.tile_rows()) * g + col / s.tile_cols());
                         if (quantize_value(s, std::ldexp(in.values[i], k), amax[si], e.profile.scales[si]) != o.codes[i])
                           return Fit::none;
                       }
                     return fit_if(!o.codes.empty());
                   }});
  if (s.pow2_scales() && !s.mx_scales())
    h.push_back({"scale/code inconsistency: scales rounded to a power of two after the codes were quantized with "
                 "the unrounded scale",
                 "", Verdict::over_budget, [&, codes_of] {
                   Spec alt = s;
                   alt.ue8m0 = false;
                   alt.layout = Layout::row;
                   return fit_if(equal(codes_of(alt), o.codes));
                 }});
}

// fnuz producers disagree on the fp8 max (R11): 240 (AITER) vs 224 (vLLM, sglang), or take the
// OCP format's 448. Bad codes are judged alone (a second producer may have written the scales);
// where only the scales are bad (all-zero or tiny groups), the whole output.
void max_hypotheses(const Case& c, const Inputs& in, const Observed& o, bool codes_bad, std::vector<Hypothesis>& h) {
  const Spec& s = c.spec;
  if (s.format != Format::e4m3fnuz) return;
  for (float max : {240.0f, 224.0f, 448.0f})
    if (max != s.fp8_max())
      h.push_back({"profile mismatch: " + std::string(codes_bad ? "codes" : "scales") + " use fp8 max " + num(max) +
                       ", " + std::string(s.profile->name) + " uses " + num(s.fp8_max()),
                   "", Verdict::over_budget, [&, max, codes_bad] {
                     Profile p = *s.profile;
                     p.max_fnuz = max;
                     Spec alt = s;
                     alt.profile = &p;
                     const Result r = quantize_profile(alt, in.values);
                     return fit_if(equal(r.codes, o.codes) && (codes_bad || equal(r.storage, o.storage)));
                   }});
}

void profile_hypotheses(const Case& c, const Inputs& in, const Observed& o, std::vector<Hypothesis>& h) {
  const Spec& s = c.spec;
  // By name: a fused op's quant step follows a renamed copy of its quant row.
  for (const Profile& p : s.op == Op::tensor ? tensor_profiles() : profiles())
    if (p.name != s.profile->name && p.supports(s.format) && (p.mx != MxRule::none) == s.mx_scales())
      h.push_back({"profile divergence: the output follows profile " + std::string(p.name) + ", not " +
                       std::string(s.profile->name),
                   "", Verdict::over_budget, [&, pp = &p] {
                     Spec alt = s;
                     alt.profile = pp;
                     const Result r = quantize_profile(alt, in.values);
                     return fit_if(equal(r.codes, o.codes) && equal(r.storage, o.storage));
                   }});
}

// ---- quant.tensor: the grid-wide amax (R23) ------------------------------------------------------

// Do the stored scale and every code follow amax a (the profile's arithmetic from there on)?
bool follows_amax(const Spec& s, const Inputs& in, const Observed& o, float a) {
  const float scale = group_scale(s, a);
  if (!equal(pack(s.layout, s.scale_shape(), std::vector<float>{scale}), o.storage)) return false;
  for (size_t i = 0; i < o.codes.size(); ++i)
    if (quantize_value(s, in.values[i], a, scale) != o.codes[i]) return false;
  return true;
}

// The first element whose |x| is a, as "[r,c]".
std::string where_abs(const Spec& s, std::span<const float> x, float a) {
  for (size_t i = 0; i < x.size(); ++i)
    if (std::fabs(x[i]) == a) return "[" + std::to_string(int64_t(i) / s.k) + "," + std::to_string(int64_t(i) % s.k) + "]";
  return "?";
}

// The amax of a dynamic per-tensor scale computed otherwise: the largest signed value (|x|
// forgotten: negatives lost), or the |x| of an element below the true amax (a block's atomic lost,
// a plain store instead of an atomic max, the amax read before every block merged). The second
// takes its amax from the stored scale: the |x| whose scale it is.
void tensor_amax_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h) {
  const Spec& s = ev.c.spec;
  if (s.op != Op::tensor || !s.writes_scales() || s.m == 0 || !ev.scales_bad) return;
  const std::span<const float> x = ev.in.values;
  const float amax = group_amax(s, x)[0];
  float signed_max = 0;
  for (float v : x) signed_max = v > signed_max ? v : signed_max;
  if (signed_max != amax)
    h.push_back({"the scale and codes follow amax = " + num(signed_max) + ", the largest signed value, not max |x| = " +
                     num(amax) + " at " + where_abs(s, x, amax),
                 "an amax reduction without fabsf: the tensor's largest magnitude is negative (R23)",
                 Verdict::over_budget,
                 [&ev, signed_max] { return fit_if(follows_amax(ev.c.spec, ev.in, ev.o, signed_max)); }});
  const float written = unpack(s.layout, s.scale_shape(), ev.o.storage)[0];
  for (float v : x) {
    const float a = std::fabs(v);
    if (!(a < amax) || a == signed_max || !same_bits(group_scale(s, a), written)) continue;
    h.push_back({"the scale and codes follow amax = " + num(a) + " (|x| at " + where_abs(s, x, a) +
                     "), not the tensor's max |x| = " + num(amax) + " at " + where_abs(s, x, amax),
                 "a grid-wide amax that lost the contributions of the blocks holding the larger values (a plain "
                 "store instead of an atomic max, or the amax read before every block merged: R23)",
                 Verdict::over_budget, [&ev, a] { return fit_if(follows_amax(ev.c.spec, ev.in, ev.o, a)); }});
    break;
  }
}

}  // namespace

std::vector<Hypothesis> hypotheses(const Evidence& ev) {
  std::vector<Hypothesis> h;
  if (ev.scales_bad && !ev.codes_bad) scale_hypotheses(ev.c, ev.e, ev.o, h);
  if (ev.codes_bad) code_hypotheses(ev.c, ev.in, ev.e, ev.o, ev.scales_bad, h);
  max_hypotheses(ev.c, ev.in, ev.o, ev.codes_bad, h);
  profile_hypotheses(ev.c, ev.in, ev.o, h);
  parameter_hypotheses(ev, h);
  rounding_hypotheses(ev, h);
  scale_arith_hypotheses(ev, h);
  store_hypotheses(ev, h);
  tensor_amax_hypotheses(ev, h);
  return h;
}

}  // namespace ulpgate::quant
