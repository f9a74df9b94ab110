#include "harness/gemm/diagnosis.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <list>
#include <numeric>

#include "harness/core/diagnosis.hpp"
#include "harness/gemm/identify.hpp"
#include "harness/gemm/readings.hpp"
#include "reference/gemm/layout.hpp"

namespace ulpgate::gemm {
namespace {

using quant::Layout;

constexpr Layout kScaleLayouts[] = {Layout::row,         Layout::col,      Layout::col_tma, Layout::ue8m0_packed,
                                    Layout::aiter_tview, Layout::mx_swizzle_128x4, Layout::mx_row};
constexpr size_t kSampleRows = 4;
constexpr size_t kFocus = 16;  // bad outputs the identification tries one by one first
constexpr int64_t kMinTile = 16;  // elements a tile story needs

std::string name(Layout l) { return std::string(quant::layout_name(l)); }
std::string range(int64_t first, int64_t last) { return std::to_string(first) + ".." + std::to_string(last); }

class Diagnoser {
 public:
  Diagnoser(const Case& c, const Operands& in, const Expected& e, std::span<const uint32_t> got, const Marks& marks)
      : s_(c.spec), in_(in), e_(e), got_(got), marks_(marks), stored_(stored(c.spec, in)) {
    for (int64_t m = 0; m < s_.m; ++m)
      for (int64_t n = 0; n < s_.n; ++n)
        if (marks_.bad[at(m, n)]) {
          if (bad_ == 0) first_bad_ = int64_t(at(m, n));
          bad_rows_.push_back(m);
          bad_at_.push_back({m, n});
          box_ = {std::min(box_.r0, m), std::max(box_.r1, m), std::min(box_.c0, n), std::max(box_.c1, n)};
          ++bad_;
        }
    bad_rows_.erase(std::unique(bad_rows_.begin(), bad_rows_.end()), bad_rows_.end());
    for (size_t i = 0; i < std::min(kFocus, bad_at_.size()); ++i)  // the first bad output, then spread
      focus_.push_back(bad_at_[i * (bad_at_.size() - 1) / std::max<size_t>(kFocus - 1, 1)]);
    bad_at_.clear();
    for (size_t i = 0; i < std::min(kSampleRows, bad_rows_.size()); ++i)
      sample_.push_back(bad_rows_[i * (bad_rows_.size() - 1) / std::max<size_t>(kSampleRows - 1, 1)]);
    sample_.erase(std::unique(sample_.begin(), sample_.end()), sample_.end());
    all_.resize(size_t(s_.m));
    std::iota(all_.begin(), all_.end(), 0);
  }

  Diagnosis run() {
    if (bad_ == 0) return {"", Verdict::over_budget};
    // Another accumulation that reproduces D is weighed with the readings: few bad outputs (a bf16
    // D) can fit a foreign order by chance as well as the fault that made them.
    std::vector<Hypothesis> weighed;
    if (std::string order = other_order(); !order.empty()) {
      weighed.push_back({order, "", Verdict::over_budget, [] { return Fit::full; }});
    } else {
      if (std::string tile = shifted_tile(); !tile.empty()) return {tile, Verdict::layout};
      if (std::string moved = moved_outputs(); !moved.empty()) return {moved, Verdict::layout};
    }
    const std::vector<Reading> readings = hypotheses();
    for (const Reading& r : readings)
      weighed.push_back({r.story, "", r.verdict, [this, &r] { return explains(r) ? Fit::full : Fit::none; }});
    add_nonfinite_codes_read(weighed);
    if (const std::optional<ulpgate::Diagnosis> d = weigh(weighed)) return {d->story, d->verdict};
    return {fallback(), Verdict::over_budget};
  }

 private:
  struct Box {
    int64_t r0 = INT64_MAX, r1 = -1, c0 = INT64_MAX, c1 = -1;
  };

  const Spec& s_;
  const Operands& in_;
  const Expected& e_;
  std::span<const uint32_t> got_;
  const Marks& marks_;
  Stored stored_;
  std::vector<int64_t> bad_rows_, sample_, all_;
  std::vector<Output2d> bad_at_, focus_;  // the bad outputs (while counting), and those identification samples first
  Box box_;
  int64_t bad_ = 0, first_bad_ = 0;
  std::list<Profile> profiles_;  // patched profiles the hypotheses' specs point to

  size_t at(int64_t m, int64_t n) const { return size_t(m * s_.n + n); }
  uint32_t poison() const { return s_.out == Format::bf16 ? 0xA5A5u : 0xA5A5A5A5u; }

  // Does the observed element `obs` follow `hyp` (a replay's bits with its bound)? Bit-exact
  // claims: the same bits (NaN as a class). Budget-only: within both bounds of each other.
  bool same(uint32_t obs, uint32_t hyp, double bound) const {
    const Format f = s_.out;
    if (obs == hyp || (is_nan(f, obs) && is_nan(f, hyp))) return true;
    if (!e_.budget_only) return false;
    const double vo = decode(f, obs), vh = decode(f, hyp);
    if (!std::isfinite(vo) || !std::isfinite(vh)) return false;
    return std::fabs(vo - vh) <= 2 * bound + ulp_of(f, std::fabs(vh) + bound);
  }

  // Rows `rows` of D, from column n0 on, follow the model on these operands (the spec's rows are
  // those rows, its columns those from n0).
  bool matches(const Spec& s, const Operands& x, const AccumModel& model, std::span<const int64_t> rows,
               int64_t n0 = 0) const {
    const Replay r = e_.budget_only ? gemm_replay(s, model, x) : Replay{gemm_model(s, model, x), {}};
    for (size_t i = 0; i < rows.size(); ++i)
      for (int64_t n = 0; n < s.n; ++n) {
        const size_t j = i * size_t(s.n) + size_t(n);
        if (!same(got_[at(rows[i], n0 + n)], r.out.bits[j], r.bound.empty() ? 0 : r.bound[j])) return false;
      }
    return true;
  }

  bool explains(const Reading& h) const {
    Spec s = s_;
    Operands scales{{}, {}, in_.sa, in_.sb};
    if (h.apply) h.apply(s, scales);
    const RowReader read = [&](Which w, int64_t row, std::span<uint8_t> out) {
      const auto stored = (w == Which::a ? in_.a : in_.b).begin() + row * s.k;
      for (int64_t c = 0; c < s.k; ++c) out[size_t(c)] = h.read ? h.read(in_, w, row, c) : stored[c];
    };
    try {
      // The first bad output alone (its 16-column weight tile for bpreshuffle), then a few bad rows
      // over the 128 columns around it (a B scale row), so a wrong hypothesis costs a sliver of the
      // GEMM, whatever N and K are; then all of D.
      const int64_t first_row = first_bad_ / s.n, col = first_bad_ % s.n;
      const int64_t tile = s.profile->weights == WeightLayout::bpreshuffle ? 16 : 1;
      const int64_t rows[] = {first_row};
      const auto [one, x1] = sub_problem(s, read, scales, rows, col / tile * tile, tile);
      if (!matches(one, x1, *h.model, rows, col / tile * tile)) return false;
      const int64_t n0 = col / 128 * 128, w = std::min<int64_t>(128, s.n - n0);
      const auto [sub, xs] = sub_problem(s, read, scales, sample_, n0, w);
      if (!matches(sub, xs, *h.model, sample_, n0)) return false;
      const auto [whole, xw] = sub_problem(s, read, scales, all_, 0, s.n);
      return matches(whole, xw, *h.model, all_);
    } catch (const UsageError&) {  // what it would have read is no valid GEMM (e.g. scales not powers of two)
      return false;
    }
  }

  std::vector<Reading> hypotheses() {
    std::vector<Reading> h = operand_readings(s_, in_, e_.model, profiles_);
    for (Which w : {Which::a, Which::b}) add_scale_layouts(h, w);
    add_first_kblock(h);
    add_scale_maps(h);
    add_scale_rules(h);
    add_scale_decodings(h);
    return h;
  }

  // Scale decoders wrong at the edges of their encoding (the scale-edges inputs reach them): ue8m0
  // 0x00 read as 0, 0xFF read as 2^128, fp32 subnormals flushed to zero. gemm.mx scales enter the
  // step as exponents, where 0 has none: a block scaled by 0 is read as its codes zeroed (scale 1).
  void add_scale_decodings(std::vector<Reading>& h) const {
    struct Decoding {
      const char* story;
      bool pow2;
      bool (*hit)(float);
      float read;
    };
    static const Decoding kDecodings[] = {
        {"ue8m0 0x00 decoded as 0, not 2^-127", true, [](float v) { return v == std::ldexp(1.0f, -127); }, 0.0f},
        {"ue8m0 0xFF decoded as 2^128 (its exponent bits), not NaN", true, [](float v) { return std::isnan(v); },
         INFINITY},
        {"subnormal fp32 scales flushed to zero", false,
         [](float v) { return std::fpclassify(v) == FP_SUBNORMAL; }, 0.0f},
    };
    const Geometry g = geometry(s_);
    for (const Decoding& d : kDecodings) {
      if (d.pow2 != s_.pow2_scales()) continue;
      const auto read = [&d](std::vector<float> v) {
        for (float& x : v) x = d.hit(x) ? d.read : x;
        return v;
      };
      const std::vector<float> sa = read(in_.sa), sb = read(in_.sb);
      const bool a_hit = !same_bits(sa, in_.sa), b_hit = !same_bits(sb, in_.sb);
      for (auto [a, b] : {std::pair{true, false}, {false, true}, {true, true}}) {
        if ((a && !a_hit) || (b && !b_hit)) continue;
        Reading r{std::string(a && b ? "A and B" : a ? "A" : "B") + " scales: " + d.story, Verdict::over_budget, e_.model,
                  [=](Spec& s, Operands& x) {
                    s.ue8m0 = false;  // the values read are no ue8m0 values; the arithmetic is the same
                    if (a) x.sa = sa;
                    if (b) x.sb = sb;
                    if (s.op == Op::mx)  // a block scaled by 0 is read as zero codes (below) scaled by 1
                      for (std::vector<float>* v : {&x.sa, &x.sb}) std::ranges::replace(*v, 0.0f, 1.0f);
                  },
                  {}};
        if (s_.op == Op::mx)
          r.read = [=, blocks = g.kblocks, kblock = g.kblock, k = s_.k](const Operands& in, Which w, int64_t row, int64_t c) {
            const std::vector<float>& read_scales = w == Which::a ? (a ? sa : in.sa) : (b ? sb : in.sb);
            const uint8_t code = (w == Which::a ? in.a : in.b)[size_t(row * k + c)];
            return read_scales[size_t(row * blocks + c / kblock)] == 0 ? uint8_t(0) : code;
          };
        h.push_back(std::move(r));
      }
    }
  }

  static bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    return std::ranges::equal(x, y, [](float u, float v) { return std::bit_cast<uint32_t>(u) == std::bit_cast<uint32_t>(v); });
  }

  // The op's scale rule (the epilogue of gemm.tensor / gemm.rowwise, the K-block combine of
  // gemm.block) of another profile: where the scales are multiplied in, in which order.
  void add_scale_rules(std::vector<Reading>& h) {
    ScaleRule Profile::*field = s_.op == Op::tensor ? &Profile::tensor : s_.op == Op::rowwise ? &Profile::rowwise : &Profile::block;
    const char* where = s_.op == Op::tensor || s_.op == Op::rowwise ? "epilogue" : "K-block combine";
    static constexpr const char* kText[] = {"fl(G fl(sa sb))", "fl(fl(G sa) sb)", "fl(fl(G sb) sa)"};
    const ScaleRule mine = s_.profile->*field;
    for (ScaleRule r : {ScaleRule::product_first, ScaleRule::a_first, ScaleRule::b_first}) {
      if (r == mine) continue;
      const Profile* p = &profiles_.emplace_back(*s_.profile);
      profiles_.back().*field = r;
      h.push_back({std::string("the ") + where + " is " + std::string(scale_rule_name(r)) + " (" + kText[int(r)] + "), where " +
                       std::string(s_.profile->name) + " is " + std::string(scale_rule_name(mine)) + " (" +
                       kText[int(mine)] + "): a scale rule of another profile",
                   Verdict::over_budget, e_.model, [p](Spec& s, Operands&) { s.profile = p; }});
    }
  }

  // A bit-exact claim whose outputs another accumulation reproduces (identify.hpp): that order
  // is the story, whatever else a hypothesis could say.
  std::string other_order() const {
    if (e_.budget_only) return "";  // any order is allowed: the bound judges
    const Identification id = identify(s_, in_, got_, e_.arch, focus_);
    if (id.matches.empty()) return "";
    return "outputs follow " + variant_text(id.matches[0]->model, s_) + ", not " + variant_text(*e_.model, s_) +
           (id.matches.size() > 1 ? " (or " + std::to_string(id.matches.size() - 1) + " other orders the data cannot tell apart)" : "");
  }

  // The scale storage read under every other layout that fits in it.
  void add_scale_layouts(std::vector<Reading>& h, Which w) const {
    const Layout stored_as = scale_layout(s_, w);
    const quant::ScaleShape shape = scale_shape(s_, w);
    const std::vector<uint8_t>& storage = w == Which::a ? stored_.sa : stored_.sb;
    const std::vector<float>& logical = w == Which::a ? in_.sa : in_.sb;
    for (Layout l : kScaleLayouts) {
      if (l == stored_as || quant::storage_bytes(l, shape) > int64_t(storage.size())) continue;
      std::vector<float> read = quant::unpack(l, shape, storage);
      if (std::memcmp(read.data(), logical.data(), read.size() * sizeof(float)) == 0) continue;  // the same reads
      const bool transposed = (stored_as == Layout::row) != (l == Layout::row) &&
                              (stored_as == Layout::col || l == Layout::col || stored_as == Layout::aiter_tview ||
                               l == Layout::aiter_tview);
      h.push_back({std::string(w == Which::a ? "A" : "B") + " scales are stored as " + name(stored_as) +
                       " but the kernel reads them as " + name(l) + " (" + (transposed ? "R13; " : "") + "layouts " +
                       name(stored_as) + " vs " + name(l) + ")",
                   Verdict::layout, e_.model, [read = std::move(read), w](Spec&, Operands& x) {
                     (w == Which::a ? x.sa : x.sb) = read;
                   }});
    }
  }

  // Scale index maps: each output reads another entry of the same scale tensor, the K-block
  // index or the scale row off by one, strided, or one row for all (fitted over the tensor's
  // shape: maps that are the identity for it are not tried).
  void add_scale_maps(std::vector<Reading>& h) const {
    struct Map {
      const char* story;
      bool along_k;  // the K-block index (else the scale row)
      int64_t (*at)(int64_t i, int64_t count);
    };
    static constexpr Map kMaps[] = {
        {"read at K-block kb + 1 (the last block its own): a K-block scale index off by one", true,
         [](int64_t i, int64_t n) { return std::min(i + 1, n - 1); }},
        {"read at K-block kb - 1 (the first block its own): a K-block scale index off by one", true,
         [](int64_t i, int64_t) { return std::max<int64_t>(i - 1, 0); }},
        {"read at K-block 2 kb (clamped to the last): a K-block scale stride of 2", true,
         [](int64_t i, int64_t n) { return std::min(2 * i, n - 1); }},
        {"read at scale row r + 1 (the last row its own): a scale row index off by one", false,
         [](int64_t i, int64_t n) { return std::min(i + 1, n - 1); }},
        {"read at scale row r - 1 (the first row its own): a scale row index off by one", false,
         [](int64_t i, int64_t) { return std::max<int64_t>(i - 1, 0); }},
        {"read at scale row 0 for every row: one scale slice for all rows", false, [](int64_t, int64_t) { return int64_t(0); }},
    };
    const auto remapped = [this](Which w, const Map& map) {
      const quant::ScaleShape sh = scale_shape(s_, w);
      const std::vector<float>& from = w == Which::a ? in_.sa : in_.sb;
      std::vector<float> out(from.size());
      for (int64_t r = 0; r < sh.m; ++r)
        for (int64_t g = 0; g < sh.g; ++g) {
          const int64_t rr = map.along_k ? r : map.at(r, sh.m), gg = map.along_k ? map.at(g, sh.g) : g;
          out[size_t(r * sh.g + g)] = from[size_t(rr * sh.g + gg)];
        }
      return out;
    };
    for (const Map& map : kMaps)
      for (auto [a, b] : {std::pair{true, false}, {false, true}, {true, true}}) {
        if (a && b && !map.along_k) continue;  // rows of A and B are different indices
        std::vector<float> sa = a ? remapped(Which::a, map) : in_.sa, sb = b ? remapped(Which::b, map) : in_.sb;
        if ((!a || sa == in_.sa) && (!b || sb == in_.sb)) continue;  // the identity for this shape
        if ((a && sa == in_.sa) || (b && sb == in_.sb)) continue;    // one side unchanged: the single-side map says it
        h.push_back({std::string(a && b ? "A and B" : a ? "A" : "B") + " scales are " + map.story, Verdict::over_budget,
                     e_.model, [sa = std::move(sa), sb = std::move(sb)](Spec&, Operands& x) { x.sa = sa, x.sb = sb; }});
      }
  }

  // R15: every K-block reads the scales of K-block 0.
  void add_first_kblock(std::vector<Reading>& h) const {
    const Geometry g = geometry(s_);
    if (g.epilogue_scales() || g.kblocks < 2) return;
    const auto first = [](std::vector<float>& s, int64_t blocks) {
      for (size_t r = 0; r < s.size(); r += size_t(blocks))
        std::fill(s.begin() + ptrdiff_t(r) + 1, s.begin() + ptrdiff_t(r) + blocks, s[r]);
    };
    const int64_t kbs = g.kblocks;
    for (auto [a, b, who] : {std::tuple{true, false, "A"}, {false, true, "B"}, {true, true, "A and B"}})
      h.push_back({"every K-block reads the scales of K-block 0 (R15: the scale index ignores the K-block; " +
                       std::string(who) + " scales)",
                   Verdict::over_budget, e_.model, [=, a = a, b = b](Spec&, Operands& x) {
                     if (a) first(x.sa, kbs);
                     if (b) first(x.sb, kbs);
                   }});
  }

  // Non-finite codes decoded as numbers (a decoder without the special-value case: e4m3fn's 0x7F
  // read as 480): no code holds such a value, so the fit is where the bad outputs are. Reading A's
  // (or B's, or both operands') NaN / Inf codes as numbers makes exactly the outputs bad that touch
  // one of those codes and no other non-finite input, and makes them finite.
  void add_nonfinite_codes_read(std::vector<Hypothesis>& h) const {
    if (std::isfinite(decode(s_.out, e_.ideal.out.bits[size_t(first_bad_)]))) return;  // bad where D is finite
    const auto touches = [this](const std::vector<uint8_t>& codes, Format f, int64_t rows) {
      std::array<bool, 256> special{};
      for (int c = 0; c < 256; ++c) special[size_t(c)] = !std::isfinite(decode(f, uint32_t(c)));
      std::vector<char> t(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r)
        t[size_t(r)] = std::any_of(codes.begin() + r * s_.k, codes.begin() + (r + 1) * s_.k, [&](uint8_t c) { return special[c]; });
      return t;
    };
    const Geometry g = geometry(s_);
    const auto nonfinite_scales = [&g](const std::vector<float>& scales, int64_t rows, auto index) {
      std::vector<char> t(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t kb = 0; kb < g.kblocks && !t[size_t(r)]; ++kb) t[size_t(r)] = !std::isfinite(scales[size_t(index(r, kb))]);
      return t;
    };
    auto row_a = touches(in_.a, s_.a_format, s_.m), col_b = touches(in_.b, s_.b_format, s_.n);
    auto scale_a = nonfinite_scales(in_.sa, s_.m, [&g](int64_t m, int64_t kb) { return g.sa_index(m, kb); });
    auto scale_b = nonfinite_scales(in_.sb, s_.n, [&g](int64_t n, int64_t kb) { return g.sb_index(n, kb); });
    const bool any_a = std::ranges::count(row_a, 1) > 0, any_b = std::ranges::count(col_b, 1) > 0;
    for (auto [a, b] : {std::pair{true, false}, {false, true}, {true, true}}) {
      if ((a && !any_a) || (b && !any_b)) continue;
      const std::string who = a && b ? "A and B" : a ? "A" : "B";
      h.push_back({who + " codes: the NaN / Inf codes decoded as numbers (a decoder without the special-value case): the "
                       "outputs that touch them are finite",
                   "", Verdict::over_budget, [=, this] {
                     for (int64_t m = 0; m < s_.m; ++m)
                       for (int64_t n = 0; n < s_.n; ++n) {
                         const bool misread = (a && row_a[size_t(m)]) || (b && col_b[size_t(n)]);
                         const bool still = (!a && row_a[size_t(m)]) || (!b && col_b[size_t(n)]) ||
                                            scale_a[size_t(m)] || scale_b[size_t(n)];
                         const bool bad = marks_.bad[at(m, n)];
                         if (misread && still) continue;  // still non-finite, of either class (NaN, or 480 x Inf)
                         if (bad != misread || (bad && !std::isfinite(decode(s_.out, got_[at(m, n)])))) return Fit::none;
                       }
                     return Fit::partial;  // where the bad outputs are, not their values
                   }});
    }
  }

  // The bad elements fill (at least half of) a rectangle, smaller than D, that holds the values of
  // another rectangle of the same size, a whole number of its sizes away.
  std::string shifted_tile() const {
    const int64_t h = box_.r1 - box_.r0 + 1, w = box_.c1 - box_.c0 + 1;
    if (h * w < kMinTile || 2 * bad_ < h * w || (h == s_.m && w == s_.n)) return "";
    for (int64_t dm = -(box_.r0 / h) * h; box_.r1 + dm < s_.m; dm += h)
      for (int64_t dn = -(box_.c0 / w) * w; box_.c1 + dn < s_.n; dn += w)
        if ((dm || dn) && holds(dm, dn))
          return "output rows " + range(box_.r0, box_.r1) + ", cols " + range(box_.c0, box_.c1) +
                 " hold the values of rows " + range(box_.r0 + dm, box_.r1 + dm) + ", cols " +
                 range(box_.c0 + dn, box_.c1 + dn) + " (a wrong output tile)";
    return "";
  }
  bool holds(int64_t dm, int64_t dn) const {
    bool told = false;  // NaN matches any NaN: it proves nothing about where a value came from
    for (int64_t m = box_.r0; m <= box_.r1; ++m)
      for (int64_t n = box_.c0; n <= box_.c1; ++n) {
        const size_t src = at(m + dm, n + dn);
        if (!same(got_[at(m, n)], e_.replay.out.bits[src], e_.replay.bound[src])) return false;
        told |= !is_nan(s_.out, got_[at(m, n)]);
      }
    return told;
  }

  // Every bad output holds another output's value at one offset (rows dm, cols dn, up to 4 each
  // way) or at its transposed place: the store's index is wrong, not the arithmetic.
  std::string moved_outputs() const {
    const auto all_bad_hold = [this](auto source) {
      bool told = false;  // as in holds(): NaN outputs alone prove no offset
      for (int64_t m = box_.r0; m <= box_.r1; ++m)
        for (int64_t n = box_.c0; n <= box_.c1; ++n) {
          if (!marks_.bad[at(m, n)]) continue;
          const auto [sm, sn] = source(m, n);
          if (sm < 0 || sm >= s_.m || sn < 0 || sn >= s_.n) return false;
          const size_t src = at(sm, sn);
          if (!same(got_[at(m, n)], e_.replay.out.bits[src], e_.replay.bound[src])) return false;
          told |= !is_nan(s_.out, got_[at(m, n)]);
        }
      return told;
    };
    const auto signed_text = [](int64_t d) { return (d < 0 ? " - " : " + ") + std::to_string(std::abs(d)); };
    for (int64_t dm = -4; dm <= 4; ++dm)
      for (int64_t dn = -4; dn <= 4; ++dn)
        if ((dm || dn) && all_bad_hold([=](int64_t m, int64_t n) { return std::pair{m + dm, n + dn}; }))
          return std::to_string(bad_) + " outputs hold the value of D[m" + (dm ? signed_text(dm) : "") + ", n" +
                 (dn ? signed_text(dn) : "") + "] (an output index off by (" + std::to_string(dm) + ", " +
                 std::to_string(dn) + "))";
    if (s_.m == s_.n && all_bad_hold([](int64_t m, int64_t n) { return std::pair{n, m}; }))
      return std::to_string(bad_) + " outputs hold the value of D[n, m] (the output stored transposed)";
    return "";
  }

  // When no hypothesis explains the data: unwritten outputs, a tile of wrong values, or nothing known.
  std::string fallback() const {
    const std::string where = "rows " + range(box_.r0, box_.r1) + ", cols " + range(box_.c0, box_.c1);
    int64_t poisoned = 0;
    for (int64_t m = box_.r0; m <= box_.r1; ++m)
      for (int64_t n = box_.c0; n <= box_.c1; ++n) poisoned += marks_.bad[at(m, n)] && got_[at(m, n)] == poison();
    if (poisoned == bad_)
      return std::to_string(bad_) + " outputs were never written (they hold the poison), in " + where;
    const int64_t h = box_.r1 - box_.r0 + 1, w = box_.c1 - box_.c0 + 1;
    if (h * w >= kMinTile && 2 * bad_ >= h * w && !(h == s_.m && w == s_.n))
      return "a wrong output tile: " + where + " hold values that are no other tile's";
    return "no known fault explains the " + std::to_string(bad_) + (bad_ == 1 ? " bad output" : " bad outputs") +
           " (tried: other accumulator models, weight and scale layouts, operand permutations, fnuz/OCP and e4m3/e5m2 "
           "codes, edge-code and scale decodings, K orders, scale index maps along K and rows, output tiles and "
           "offsets)";
  }
};

}  // namespace

Diagnosis diagnose(const Case& c, const Operands& in, const Expected& e, std::span<const uint32_t> got,
                   const Marks& marks) {
  return Diagnoser(c, in, e, got, marks).run();
}

}  // namespace ulpgate::gemm
