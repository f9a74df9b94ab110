#include "harness/gemm/readings.hpp"

#include <algorithm>
#include <array>

#include "reference/gemm/layout.hpp"

namespace ulpgate::gemm {
namespace {

// Every pair of fp8 formats: a reading may decode codes as a format the profile does not take.
constexpr auto kAllPairs = [] {
  constexpr Format f[] = {Format::e4m3fn, Format::e4m3fnuz, Format::e5m2, Format::e5m2fnuz};
  std::array<FormatPair, 16> pairs{};
  for (int i = 0; i < 16; ++i) pairs[size_t(i)] = {f[i / 4], f[i % 4]};
  return pairs;
}();

// The same bits read the other way: fnuz <-> OCP.
Format twin(Format f) {
  switch (f) {
    case Format::e4m3fn: return Format::e4m3fnuz;
    case Format::e4m3fnuz: return Format::e4m3fn;
    case Format::e5m2: return Format::e5m2fnuz;
    default: return Format::e5m2;
  }
}
// The other element format of the same kind: e4m3 <-> e5m2.
Format other_element(Format f) {
  switch (f) {
    case Format::e4m3fn: return Format::e5m2;
    case Format::e5m2: return Format::e4m3fn;
    case Format::e4m3fnuz: return Format::e5m2fnuz;
    default: return Format::e4m3fnuz;
  }
}
bool is_fnuz(Format f) { return f == Format::e4m3fnuz || f == Format::e5m2fnuz; }
std::string name(Format f) { return std::string(format_name(f)); }

// A, B, or both: the sides a reading can apply to.
struct Side {
  bool a, b;
  const char* who;
};
constexpr Side kSides[] = {{true, false, "A"}, {false, true, "B"}, {true, true, "A and B"}};

class Readings {
 public:
  Readings(const Spec& s, const Operands& in, const AccumModel* model, std::list<Profile>& profiles)
      : s_(s), in_(in), model_(model), profiles_(profiles) {}

  std::vector<Reading> all() {
    weights();
    permutations();
    formats();
    element_formats();
    code_decodings();
    k_orders();
    return std::move(out_);
  }

 private:
  const Spec& s_;
  const Operands& in_;
  const AccumModel* model_;
  std::list<Profile>& profiles_;
  std::vector<Reading> out_;

  using Read = std::function<uint8_t(const Operands&, Which, int64_t, int64_t)>;
  void add(std::string story, Verdict v, std::function<void(Spec&, Operands&)> apply, Read read = {}) {
    out_.push_back({std::move(story), v, model_, std::move(apply), std::move(read)});
  }
  static uint8_t at(const Operands& in, Which w, int64_t r, int64_t c, int64_t k) {
    return (w == Which::a ? in.a : in.b)[size_t(r * k + c)];
  }

  // A copy of the profile that takes every format pair, for readings that decode another format.
  const Profile* any_pair() {
    profiles_.push_back(*s_.profile);
    profiles_.back().pairs = kAllPairs;
    return &profiles_.back();
  }

  void weights() {
    const int64_t n = s_.n, k = s_.k;
    if (s_.profile->weights == WeightLayout::bpreshuffle)
      add("the weights are row-major [N, K], not pre-shuffled, but the kernel reads bpreshuffle 16x32 tiles "
          "(R14; weight layouts row vs bpreshuffle)",
          Verdict::layout, {}, [n, k](const Operands& in, Which w, int64_t r, int64_t c) {
            return w == Which::a ? at(in, w, r, c, k) : in.b[size_t(bpreshuffle_offset(r, c, n, k))];
          });
    if (s_.n % 16 == 0 && s_.k % 32 == 0)
      add("the weights are pre-shuffled (bpreshuffle 16x32 tiles) but the kernel reads them row-major [N, K] (" +
              std::string(s_.profile->weights == WeightLayout::bpreshuffle ? "R14; " : "") +
              "weight layouts bpreshuffle vs row)",
          Verdict::layout, {}, [n, k](const Operands& in, Which w, int64_t r, int64_t c) {
            if (w == Which::a) return at(in, w, r, c, k);
            const auto [sn, sk] = bpreshuffle_source(r * k + c, n, k);
            return at(in, w, sn, sk, k);
          });
  }

  // An operand's [rows, K] codes read under a permutation: inside the tiles kernels load (K
  // chunks swapped, the bytes of a word reversed, row halves swapped, 16x16 sub-tiles transposed),
  // or the whole operand read as [K, rows] row-major.
  struct Permutation {
    std::string story;
    int64_t row_tile, k_tile;  // what the shape must divide into
    bool whole;                // reads across the whole operand: not for pre-shuffled weights
    std::function<int64_t(int64_t r, int64_t c, int64_t rows, int64_t k)> source;  // flat index read at (r, c)
  };
  static std::vector<Permutation> permutation_table() {
    std::vector<Permutation> p;
    const auto inside = [](std::string what) { return "with " + what + " (an operand permutation inside the loaded tile)"; };
    for (int64_t w : {4, 8, 16, 32, 64})
      p.push_back({inside("the two " + std::to_string(w) + "-K halves of every " + std::to_string(2 * w) +
                          "-K chunk swapped"),
                   1, 2 * w, false, [w](int64_t r, int64_t c, int64_t, int64_t k) { return r * k + (c ^ w); }});
    p.push_back({inside("the 4 codes of every 32-bit word in reverse order"), 1, 4, false,
                 [](int64_t r, int64_t c, int64_t, int64_t k) { return r * k + (c ^ 3); }});
    for (int64_t h : {8, 16})
      p.push_back({inside("the two " + std::to_string(h) + "-row halves of every " + std::to_string(2 * h) +
                          "-row tile swapped"),
                   2 * h, 1, false, [h](int64_t r, int64_t c, int64_t, int64_t k) { return (r ^ h) * k + c; }});
    p.push_back({inside("every 16x16 sub-tile transposed"), 16, 16, false, [](int64_t r, int64_t c, int64_t, int64_t k) {
                   return ((r / 16) * 16 + c % 16) * k + (c / 16) * 16 + r % 16;
                 }});
    p.push_back({"", 1, 1, true, [](int64_t r, int64_t c, int64_t rows, int64_t) { return c * rows + r; }});
    return p;
  }

  void permutations() {
    static const std::vector<Permutation> kTable = permutation_table();
    for (const Permutation& p : kTable)
      for (Which w : {Which::a, Which::b}) {
        const int64_t rows = w == Which::a ? s_.m : s_.n;
        const bool shuffled = w == Which::b && s_.profile->weights != WeightLayout::row;
        if (rows % p.row_tile || s_.k % p.k_tile || (p.whole && (shuffled || rows < 2 || s_.k < 2))) continue;
        const char* who = w == Which::a ? "A" : "B";
        const std::string story =
            p.whole ? std::string(who) + " is read as [K, " + (w == Which::a ? "M" : "N") + "] row-major but stored [" +
                          (w == Which::a ? "M" : "N") + ", K] (a transposed operand layout)"
                    : std::string(who) + " is read " + p.story;
        add(story, Verdict::layout, {}, [source = p.source, w, rows, k = s_.k](const Operands& in, Which which, int64_t r, int64_t c) {
          const std::vector<uint8_t>& codes = which == Which::a ? in.a : in.b;
          return codes[size_t(which == w ? source(r, c, rows, k) : r * k + c)];
        });
      }
  }

  // fnuz codes read as OCP (each value 2x) or the reverse, for A, B or both (R10).
  void formats() {
    const Profile* pairs = any_pair();
    const auto read_as = [](Format f) {
      return name(f) + " bytes but the kernel reads them as " + name(twin(f)) +
             (is_fnuz(f) ? " (fnuz read as OCP, R10" : " (OCP read as fnuz, R10");
    };
    const bool same_kind = is_fnuz(s_.a_format) == is_fnuz(s_.b_format);
    const std::string factor = is_fnuz(s_.a_format) ? "4x" : "1/4";
    const std::string stories[] = {
        "A codes are " + read_as(s_.a_format) + ": every value of A " + (is_fnuz(s_.a_format) ? "2x" : "1/2") + ")",
        "B codes are " + read_as(s_.b_format) + ": every value of B " + (is_fnuz(s_.b_format) ? "2x" : "1/2") + ")",
        same_kind ? "A and B codes are " + read_as(s_.a_format) + ": every product " + factor + ")" : ""};
    for (size_t i = 0; i < 3; ++i)
      if (!stories[i].empty())
        add(stories[i], Verdict::layout, [side = kSides[i], pairs](Spec& s, Operands&) {
          s.profile = pairs;
          if (side.a) s.a_format = twin(s.a_format);
          if (side.b) s.b_format = twin(s.b_format);
        });
  }

  // A's and B's codes decoded as the other element format of the pair (e4m3 <-> e5m2).
  void element_formats() {
    const Profile* pairs = any_pair();
    for (const Side& side : kSides) {
      if (side.a && side.b && s_.a_format != s_.b_format) continue;
      const Format f = side.a ? s_.a_format : s_.b_format;
      add(std::string(side.who) + " codes are " + name(f) + " bytes but the kernel decodes them as " +
              name(other_element(f)) + " (the element formats mixed up)",
          Verdict::layout, [side, pairs](Spec& s, Operands&) {
            s.profile = pairs;
            if (side.a) s.a_format = other_element(s.a_format);
            if (side.b) s.b_format = other_element(s.b_format);
          });
    }
  }

  // Edge codes decoded wrongly, each a rewrite of the codes into those a correct decoder reads as
  // the faulty value: subnormals flushed (to a zero of their sign; +0 in fnuz, whose -0 is NaN) or
  // read with the implicit bit (as exponent field 1), and the fnuz NaN 0x80 read as zero.
  void code_decodings() {
    struct Decoding {
      const char* story;
      uint8_t (*read)(const FormatInfo& f, uint8_t code);  // the code a correct decoder reads as the faulty value
    };
    static constexpr Decoding kDecodings[] = {
        {"subnormal codes flushed to zero (a flush-to-zero decoder)",
         [](const FormatInfo& f, uint8_t c) {
           const bool sub = (c & 0x7f) >> f.mbits == 0 && (c & ((1 << f.mbits) - 1)) != 0;
           return sub ? uint8_t(f.family == Family::fnuz ? 0 : c & 0x80) : c;
         }},
        {"subnormal codes read as normals (exponent field 0 taken as 1 with the implicit bit: a decoder without "
         "the subnormal case)",
         [](const FormatInfo& f, uint8_t c) {
           const bool sub = (c & 0x7f) >> f.mbits == 0 && (c & ((1 << f.mbits) - 1)) != 0;
           return sub ? uint8_t(c | (1 << f.mbits)) : c;
         }},
        {"subnormal and zero codes read as normals (exponent field 0 taken as 1 with the implicit bit, zeros "
         "included: a decoder without the subnormal or zero case)",
         [](const FormatInfo& f, uint8_t c) {
           const bool nan = f.family == Family::fnuz && c == 0x80;
           return (c & 0x7f) >> f.mbits == 0 && !nan ? uint8_t(c | (1 << f.mbits)) : c;
         }},
        {"the fnuz NaN code 0x80 read as zero (as OCP's -0)",
         [](const FormatInfo& f, uint8_t c) { return f.family == Family::fnuz && c == 0x80 ? uint8_t(0) : c; }},
    };
    const std::array<bool, 256> in_a = present(in_.a), in_b = present(in_.b);
    using Table = std::array<uint8_t, 256>;
    std::vector<std::pair<Table, Table>> tables;  // the A and B reads of each decoding tried
    for (const Decoding& d : kDecodings) {
      const auto table = [&d](Format f, const std::array<bool, 256>& used, bool& hit) {
        Table t;
        for (int c = 0; c < 256; ++c) t[size_t(c)] = d.read(info(f), uint8_t(c)), hit |= used[size_t(c)] && t[size_t(c)] != c;
        return t;
      };
      bool a_hit = false, b_hit = false;
      const Table ta = table(s_.a_format, in_a, a_hit), tb = table(s_.b_format, in_b, b_hit);
      // A side that reads every code present as an earlier decoding does says nothing new.
      const auto same_reads = [&](const Table& x, const Table& y, const std::array<bool, 256>& used) {
        for (size_t c = 0; c < 256; ++c)
          if (used[c] && x[c] != y[c]) return false;
        return true;
      };
      const auto seen = [&](const Side& side) {
        return std::ranges::any_of(tables, [&](const std::pair<Table, Table>& t) {
          return (!side.a || same_reads(t.first, ta, in_a)) && (!side.b || same_reads(t.second, tb, in_b));
        });
      };
      std::vector<Side> sides;
      for (const Side& side : kSides)
        if (!(side.a && !a_hit) && !(side.b && !b_hit) && !seen(side)) sides.push_back(side);
      tables.emplace_back(ta, tb);
      for (const Side& side : sides) {
        add(std::string(side.who) + " codes: " + d.story, Verdict::over_budget, {},
            [side, ta, tb, k = s_.k](const Operands& in, Which w, int64_t r, int64_t c) {
              const uint8_t code = at(in, w, r, c, k);
              return w == Which::a ? (side.a ? ta[code] : code) : (side.b ? tb[code] : code);
            });
      }
    }
  }

  // Which of the 256 codes occur.
  static std::array<bool, 256> present(const std::vector<uint8_t>& codes) {
    std::array<bool, 256> used{};
    for (uint8_t c : codes) used[c] = true;
    return used;
  }

  // K walked in another order, as the operands (and the K-block scales) reordered along K: from its
  // end; for block ops also each K-block from its end (blocks in order) and the K-blocks from the
  // last (each ascending), where K is a whole number of blocks.
  void k_orders() {
    if (s_.k < 2) return;
    const Geometry g = geometry(s_);
    const int64_t k = s_.k, size = g.kblock;
    // Each K index read at another: the operands reordered along K.
    const auto reordered = [k](int64_t (*order)(int64_t c, int64_t k, int64_t block), int64_t block) -> Read {
      return [=](const Operands& in, Which w, int64_t r, int64_t c) { return at(in, w, r, order(c, k, block), k); };
    };
    const auto from_end = [](int64_t c, int64_t k, int64_t) { return k - 1 - c; };
    if (g.epilogue_scales()) {
      add("K is summed from its end (the operands taken in reverse K order)", Verdict::over_budget, {},
          reordered(from_end, 0));
      return;
    }
    add("each K-block is summed from its end (the blocks in order)", Verdict::over_budget, {},
        reordered([](int64_t c, int64_t k, int64_t b) { return c / b * b + std::min(b, k - c / b * b) - 1 - c % b; }, size));
    if (g.kblocks < 2) return;
    // The K-blocks from the last: a partial last block goes first, padded with zero codes to a whole
    // block (exact zero products), so K grows to a whole number of blocks.
    const auto blocks_from_last = [g, padded = g.kblocks * size](Spec& s, Operands& x) {
      s.k = padded;
      for (std::vector<float>* scales : {&x.sa, &x.sb})
        for (size_t r = 0; r < scales->size(); r += size_t(g.kblocks))
          std::reverse(scales->begin() + ptrdiff_t(r), scales->begin() + ptrdiff_t(r) + g.kblocks);
    };
    const int64_t nb = g.kblocks;
    const auto last_first = [nb, k, size](bool each_from_end) -> Read {  // block b read from block nb - 1 - b
      return [=](const Operands& in, Which w, int64_t r, int64_t c) {
        const int64_t ob = nb - 1 - c / size, begin = ob * size, len = std::min(k, begin + size) - begin, i = c % size;
        if (i >= len) return uint8_t(0);
        return at(in, w, r, begin + (each_from_end ? len - 1 - i : i), k);
      };
    };
    add("the K-blocks are taken from the last (each block summed in ascending K)", Verdict::over_budget,
        blocks_from_last, last_first(false));
    add("K is summed from its end (the K-blocks from the last, each from its end)", Verdict::over_budget,
        blocks_from_last, last_first(true));
  }
};

}  // namespace

std::vector<Reading> operand_readings(const Spec& s, const Operands& in, const AccumModel* model,
                                      std::list<Profile>& profiles) {
  return Readings(s, in, model, profiles).all();
}

}  // namespace ulpgate::gemm
