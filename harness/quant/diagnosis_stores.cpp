// Hypotheses that the arithmetic is right but the stores are not (diagnosis_parts.hpp): outputs
// never written, scales one slot off, scales at places no known layout puts them.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "harness/quant/diagnosis_parts.hpp"

namespace ulpgate::quant {
namespace {

Fit fit_if(bool full) { return full ? Fit::full : Fit::none; }

bool same_scale(float a, float b) {
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b) || (std::isnan(a) && std::isnan(b));
}

// Bytes that differ from the reference, and how many of them still hold the poison.
struct Unwritten {
  int64_t codes = 0, scales = 0, padding = 0, other = 0;
};

Unwritten unwritten(const Spec& s, const Expected& e, const Observed& o) {
  Unwritten u;
  for (size_t i = 0; i < o.codes.size(); ++i)
    if (o.codes[i] != e.profile.codes[i]) ++(o.codes[i] == kPoison ? u.codes : u.other);
  for (size_t b = 0; b < o.storage.size(); ++b)
    if (o.storage[b] != e.profile.storage[b]) {
      const bool scale = scale_at(s.layout, s.scale_shape(), int64_t(b)).has_value();
      ++(o.storage[b] != kPoison ? u.other : scale ? u.scales : u.padding);
    }
  return u;
}

std::string bytes(int64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? " byte" : " bytes");
}

void never_written(const Evidence& ev, std::vector<Hypothesis>& h) {
  const Unwritten u = unwritten(ev.c.spec, ev.e, ev.o);
  if (u.other || !(u.codes + u.scales + u.padding)) return;
  std::string parts;
  for (auto [n, what] : {std::pair{u.codes, "code"}, {u.scales, "scale"}, {u.padding, "padding"}})
    if (n) parts += (parts.empty() ? "" : ", ") + bytes(n, what);
  const bool padding_only = u.padding && !u.codes && !u.scales;
  h.push_back({parts + " never written (still the poison byte 0xA5)",
               padding_only ? "uninitialised padding (R3)" : "a missing store (a loop bound, a skipped group or chunk)",
               Verdict::over_budget, [] { return Fit::full; }});
}

// Scales k slots (row-major over the scale shape) from where the profile's are, and not all in
// place (equal neighbours shift onto themselves). A shift loses a scale at one end, so the right
// scales in another order (equal neighbours swapped can look shifted) are no shift.
bool shifted(std::span<const float> got, std::span<const float> want, int k) {
  const int64_t n = int64_t(got.size());
  const auto sorted = [](std::span<const float> v) {
    std::vector<uint32_t> bits(v.size());
    std::ranges::transform(v, bits.begin(), [](float f) { return std::bit_cast<uint32_t>(f); });
    std::ranges::sort(bits);
    return bits;
  };
  if (std::ranges::equal(got, want, same_scale) || sorted(got) == sorted(want)) return false;
  for (int64_t i = std::max<int64_t>(0, k); i < std::min(n, n + k); ++i)
    if (!same_scale(got[size_t(i)], want[size_t(i - k)])) return false;
  return n > 1;
}

// The storage's scale slots (fp32 words, or ue8m0 bytes even when packed four to a word) as a
// sorted multiset.
std::vector<uint32_t> slots(Layout l, std::span<const uint8_t> storage) {
  const size_t w = is_ue8m0_layout(l) ? 1 : 4;
  std::vector<uint32_t> v(storage.size() / w);
  for (size_t i = 0; i < v.size(); ++i) std::memcpy(&v[i], &storage[i * w], w);
  std::ranges::sort(v);
  return v;
}

// Transposed fp32 scales (col, col-tma, aiter-tview: [G][rows]) stored with a stride other than
// the layout's: scale (t, g) at word g * stride + t. Candidates: the powers of two from 32 to 1024
// (thread-block sizes: vLLM's silu-mul kernel strides by blockDim.x) and the row count +-1.
void stride_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h) {
  const Spec& s = ev.c.spec;
  if (s.layout != Layout::col && s.layout != Layout::col_tma && s.layout != Layout::aiter_tview) return;
  const ScaleShape ss = s.scale_shape();
  const int64_t words = int64_t(ev.o.storage.size()) / 4, layout_stride = int64_t(storage_bytes(s.layout, ss)) / 4 / std::max<int64_t>(ss.g, 1);
  std::vector<int64_t> strides = {ss.m - 1, ss.m + 1};
  for (int64_t p = 32; p <= 1024; p *= 2) strides.push_back(p);
  for (int64_t stride : strides) {
    if (stride <= 0 || stride == layout_stride || ss.g < 2) continue;
    h.push_back({"scales stored column-major with a stride of " + std::to_string(stride) + " rows instead of " +
                     std::to_string(layout_stride) + ": scale (t, g) at word g * " + std::to_string(stride) + " + t",
                 "a transposed store that strides by another count (vLLM's silu-mul block-quant kernel strides by "
                 "its block size, blockDim.x, instead of the token count)",
                 Verdict::layout, [&ev, stride, words] {
                   const Spec& sp = ev.c.spec;
                   const ScaleShape q = sp.scale_shape();
                   int64_t placed = 0;
                   for (int64_t t = 0; t < q.m; ++t)
                     for (int64_t g = 0; g < q.g; ++g) {
                       const int64_t at = g * stride + t;
                       if (at >= words) continue;
                       float v;
                       std::memcpy(&v, &ev.o.storage[size_t(at) * 4], 4);
                       if (!same_scale(v, ev.e.profile.scales[size_t(t * q.g + g)])) return Fit::none;
                       ++placed;
                     }
                   return placed * 2 >= q.m * q.g ? Fit::partial : Fit::none;
                 }});
  }
}

}  // namespace

void store_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h) {
  never_written(ev, h);
  if (ev.codes_bad || !ev.scales_bad) return;
  stride_hypotheses(ev, h);
  const Spec& s = ev.c.spec;
  for (int k : {1, -1})
    h.push_back({"the scales are the profile's shifted by one slot (group i's scale in slot i" +
                     std::string(k > 0 ? "+1" : "-1") + ")",
                 "a scale index off by one", Verdict::layout, [&ev, k] {
                   const Spec& sp = ev.c.spec;
                   return fit_if(shifted(unpack(sp.layout, sp.scale_shape(), ev.o.storage), ev.e.profile.scales, k));
                 }});
  // Partial: the values are explained, their places are not (a known layout, which fits fully,
  // is the better story when there is one).
  h.push_back({"the storage holds the profile's scales and padding at other places than " +
                   std::string(layout_name(s.layout)) + " puts them",
               "an index map of no known layout (a swizzle, stride or group index bug)", Verdict::layout, [&ev] {
                 const Layout l = ev.c.spec.layout;
                 return slots(l, ev.o.storage) == slots(l, ev.e.profile.storage) ? Fit::partial : Fit::none;
               }});
}

}  // namespace ulpgate::quant
