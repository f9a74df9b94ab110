#include "harness/gemm/reveal.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <map>
#include <set>

#include "harness/gemm/gemm_case.hpp"
#include "harness/gemm/identify.hpp"
#include "reference/gemm/layout.hpp"
#include "reference/gemm/step.hpp"

namespace ulpgate::gemm {
namespace {

// Units per output at most: 128 units of 2^-18 sum to 2^-11, under half an fp32 ulp of L = 2^14
// (2^-10), so an fp32 addition swamps them all.
constexpr int64_t kWindow = 128;
constexpr double kBig = 128;  // L = kBig^2 = 2^14 (e4m3fnuz holds 128, not 256)
constexpr int kMaxReplays = 32;

struct Range {
  int64_t begin, end;  // [begin, end)
};

// The bits of D (bf16 or fp32) at element e.
uint32_t element(const Spec& s, std::span<const std::byte> d, size_t e) {
  const size_t bytes = s.out == Format::bf16 ? 2 : 4;
  uint32_t bits = 0;
  std::memcpy(&bits, d.data() + e * bytes, bytes);
  return bits;
}

uint8_t code_of(Format f, double v) {
  for (uint32_t c = 0; c < 0x80; ++c)
    if (decode(f, c) == v) return uint8_t(c);
  throw UsageError("reveal: " + std::string(format_name(f)) + " cannot hold " + std::to_string(v));
}

// Runs probes through the backend: each call twice (outputs that differ: not deterministic).
class Prober {
 public:
  Prober(const Spec& s, Backend& b) : s_(s), backend_(b), g_(geometry(s)) {
    for (Which w : {Which::a, Which::b}) {
      const Format f = w == Which::a ? s.a_format : s.b_format;
      big_[int(w)] = code_of(f, kBig);
      tiny_[int(w)] = 0x01;  // the smallest subnormal
      unit_ *= decode(f, 0x01);
    }
  }
  int calls() const { return calls_; }
  bool deterministic() const { return deterministic_; }
  // Mirrored, position p stands for K - 1 - p: a tree walked from its last leaf.
  void mirror(bool on) { mirror_ = on; }

  // Which K positions probe (i, j) lost (1), i and j included.
  std::vector<char> lost(int64_t i, int64_t j) {
    if (!mirror_) return lost_at(i, j);
    std::vector<char> out = lost_at(s_.k - 1 - i, s_.k - 1 - j);
    std::ranges::reverse(out);
    return out;
  }

 private:
  // One window per column first; a window partly lost (or holding i or j, whose own positions
  // carry no unit) is cut into smaller ones, as many as the columns hold, until every window is
  // all lost or none. The lost positions form one range around i and j in an ordered tree, and a
  // window's first and last positions always carry units, so a window of more than 128 K is
  // judged by 128 evenly spaced ones.
  std::vector<char> lost_at(int64_t i, int64_t j) {
    const int64_t excluded[] = {i, j};
    std::vector<char> out(size_t(s_.k), 0);
    std::vector<Range> windows = cut({0, s_.k}, s_.n);
    while (!windows.empty()) {
      const std::vector<int64_t> got = lost_counts(i, j, windows);
      std::vector<Range> partial;
      for (size_t w = 0; w < windows.size(); ++w) {
        const Range r = windows[w];
        const int64_t units = int64_t(unit_positions(r, excluded).size());
        const bool holds_probe = (i >= r.begin && i < r.end) || (j >= r.begin && j < r.end);
        if (got[w] == units && units > 0) std::fill(out.begin() + r.begin, out.begin() + r.end, 1);
        else if ((got[w] > 0 || holds_probe) && r.end - r.begin > 1) partial.push_back(r);
      }
      windows.clear();
      for (const Range& r : partial)
        for (const Range& piece : cut(r, std::max<int64_t>(2, s_.n / int64_t(partial.size())))) windows.push_back(piece);
    }
    out[size_t(i)] = out[size_t(j)] = 1;
    return out;
  }

  // r in at most `pieces` windows of equal width.
  static std::vector<Range> cut(Range r, int64_t pieces) {
    std::vector<Range> out;
    const int64_t width = std::max<int64_t>(1, (r.end - r.begin + pieces - 1) / pieces);
    for (int64_t k = r.begin; k < r.end; k += width) out.push_back({k, std::min(k + width, r.end)});
    return out;
  }

  // Where a window's units are: every position, or 128 evenly spaced ones from its first to its
  // last; never i or j.
  static std::vector<int64_t> unit_positions(Range r, std::span<const int64_t> excluded) {
    std::vector<int64_t> at;
    const int64_t size = r.end - r.begin;
    for (int64_t t = 0; t < std::min(size, kWindow); ++t) {
      const int64_t k = size <= kWindow ? r.begin + t : r.begin + t * (size - 1) / (kWindow - 1);
      if (std::ranges::find(excluded, k) == excluded.end()) at.push_back(k);
    }
    return at;
  }

  // Per window, how many of its units probe (i, j) lost; windows in calls of N columns.
  std::vector<int64_t> lost_counts(int64_t i, int64_t j, std::span<const Range> windows) {
    std::vector<int64_t> out;
    for (size_t w0 = 0; w0 < windows.size(); w0 += size_t(s_.n)) {
      const std::span<const Range> some = windows.subspan(w0, std::min(windows.size() - w0, size_t(s_.n)));
      const std::vector<double> counts = call(i, j, some);
      const int64_t excluded[] = {i, j};
      for (size_t n = 0; n < some.size(); ++n) {
        const int64_t units = int64_t(unit_positions(some[n], excluded).size());
        const double survived = counts[n];
        if (!(survived >= 0 && survived <= double(units) && survived == std::floor(survived)))
          throw UsageError("reveal: output " + std::to_string(n) + " is " + std::to_string(survived * unit_) +
                           ", not a count of the window's units: the kernel does not sum the products of a designed input "
                           "exactly (an order of operations cannot be read from it)");
        out.push_back(units - int64_t(survived));
      }
    }
    return out;
  }

  // One probe call (twice): row 0 of A holds +L at i, -L at j and units elsewhere; column n of B
  // holds +L at i and j and units in windows[n]. Returns each column's surviving units.
  std::vector<double> call(int64_t i, int64_t j, std::span<const Range> windows) {
    Operands in;
    in.a.assign(size_t(s_.m * s_.k), 0);
    in.b.assign(size_t(s_.n * s_.k), 0);
    in.sa.assign(size_t(g_.sa.m * g_.sa.g), 1.0f);
    in.sb.assign(size_t(g_.sb.m * g_.sb.g), 1.0f);
    const uint8_t neg = 0x80;
    for (int64_t k = 0; k < s_.k; ++k) in.a[size_t(k)] = tiny_[0];
    in.a[size_t(i)] = big_[0], in.a[size_t(j)] = uint8_t(big_[0] | neg);
    for (size_t n = 0; n < windows.size(); ++n) {
      uint8_t* b = in.b.data() + n * size_t(s_.k);
      for (int64_t k : unit_positions(windows[n], {})) b[k] = tiny_[1];
      b[i] = b[j] = big_[1];
    }
    const Stored st = stored(s_, in);
    const size_t bytes = s_.out == Format::bf16 ? 2 : 4;
    std::vector<std::byte> d(size_t(s_.m * s_.n) * bytes, std::byte{0xFF}), again = d;
    backend_.gemm(s_, st.buffers(d));
    backend_.gemm(s_, st.buffers(again));
    calls_ += 2;
    if (d != again) deterministic_ = false;
    std::vector<double> out;
    for (size_t n = 0; n < windows.size(); ++n) out.push_back(decode(s_.out, element(s_, d, n)) / unit_);
    return out;
  }

  const Spec& s_;
  Backend& backend_;
  Geometry g_;
  uint8_t big_[2], tiny_[2];
  double unit_ = 1;
  int calls_ = 0;
  bool deterministic_ = true, mirror_ = false;
};

// The tree of an ordered sum over K as the ranges of its internal nodes, from probes: the spine
// of a node's range from its first leaf (each probe (a, j) gives the node where j joins a's
// subtree), and for each group of leaves a spine node adds, whether they are its own leaves or
// one subtree of their own (revealed the same way). A run of equal-sized spine nodes is galloped
// (doubling, then bisection) and its groups take the structure of the run's first one.
class TreeReveal {
 public:
  TreeReveal(Prober& p, int64_t k) : p_(p), k_(k) {}

  void run() { nodes_ = walk(0, k_ - 1, 0); }
  const std::vector<TreeNode>& nodes() const { return nodes_; }
  const std::vector<RevealLine>& lines() const { return lines_; }
  const std::string& problem() const { return problem_; }

 private:
  struct Span {
    int64_t lo = -1, hi = -1;
  };
  struct Line {
    int depth;
    int64_t size;
    std::string kind;
    bool operator==(const Line&) const = default;
  };
  static constexpr int kMaxDepth = 64;

  // The range under the node where i and j meet; lo = -1 (and problem_ set) when the lost
  // positions are not one range.
  Span meet(int64_t i, int64_t j) {
    if (!problem_.empty()) return {};
    const std::vector<char> lost = p_.lost(i, j);
    Span r{i, i};
    while (r.lo > 0 && lost[size_t(r.lo - 1)]) --r.lo;
    while (r.hi + 1 < k_ && lost[size_t(r.hi + 1)]) ++r.hi;
    for (int64_t x = 0; x < k_; ++x)
      if (lost[size_t(x)] && (x < r.lo || x > r.hi)) {
        problem_ = "probe (" + std::to_string(i) + ", " + std::to_string(j) + ") lost K positions that are not one range (" +
                   std::to_string(x) + " outside " + std::to_string(r.lo) + ".." + std::to_string(r.hi) +
                   "): the kernel does not sum K in contiguous ranges";
        return {};
      }
    return r;
  }

  void add(std::vector<TreeNode>& into, int64_t lo, int64_t hi, bool inferred) {
    if (hi > lo) into.push_back({lo, hi, inferred});
  }

  // Node [a, b] whose first leaf is a: its spine from a and the groups each spine node adds.
  std::vector<TreeNode> walk(int64_t a, int64_t b, int depth) {
    if (depth > kMaxDepth) {
      problem_ = "the tree is deeper than " + std::to_string(kMaxDepth) + " levels below K " + std::to_string(a) +
                 " (reveal walks trees summed from their first or their last leaf)";
      return {};
    }
    std::vector<TreeNode> found;
    int64_t h = a, last = -1;
    size_t prev_at = SIZE_MAX;  // this walk's last line, and what it says
    Line prev_key{-1, 0, ""};
    while (h < b && problem_.empty()) {
      const Span m = meet(a, h + 1);
      if (m.lo < 0) break;
      if (m.lo != a || m.hi > b) {
        problem_ = "K " + std::to_string(a) + " and " + std::to_string(h + 1) + " meet under K " + std::to_string(m.lo) + ".." +
                   std::to_string(m.hi) + ", outside the node " + std::to_string(a) + ".." + std::to_string(b) +
                   " they belong to: not an ordered tree";
        break;
      }
      const int64_t size = m.hi - h;
      const size_t at = lines_.size();
      const std::vector<TreeNode> inside = group(h + 1, m.hi, a, depth + 1);
      found.insert(found.end(), inside.begin(), inside.end());
      add(found, a, m.hi, false);
      int64_t run = 1;
      if (size == last) {  // two nodes of one size: perhaps a regular run
        const int64_t more = gallop(a, m.hi, size, b);
        for (int64_t t = 1; t <= more; ++t) {
          for (const TreeNode& n : inside) found.push_back({n.lo + t * size, n.hi + t * size, true});
          add(found, a, m.hi + t * size, t != more);
        }
        run += more;
      }
      h = m.hi + (run - 1) * size;
      const Line key{depth, size, size == 1 ? "a leaf" : inside.empty() ? "its own leaves" : "one subtree"};
      if (at == lines_.size() && prev_at != SIZE_MAX && prev_key == key) {  // nothing new to say: one line
        lines_[prev_at].count += run, lines_[prev_at].upto = h;
      } else {
        lines_.insert(lines_.begin() + std::ptrdiff_t(at), {depth, size, key.kind, run, h});
        prev_at = at, prev_key = key;
      }
      last = size;
    }
    return found;
  }

  // Groups of `size` after h inside [a, b]: group t is [h + 1 + t size, h + (t + 1) size]. How
  // many of them (the last probed, the others inferred) are regular: meet a at their own end.
  int64_t gallop(int64_t a, int64_t h, int64_t size, int64_t b) {
    const int64_t fits = (b - h) / size;
    const auto regular = [&](int64_t t) {
      const Span m = meet(a, h + 1 + t * size);
      return m.lo == a && m.hi == h + (t + 1) * size;
    };
    int64_t good = -1, bad = fits;
    for (int64_t t = 1; t < fits && problem_.empty(); t *= 2) {
      if (!regular(t)) {
        bad = t;
        break;
      }
      good = t;
    }
    if (good < 0) return 0;
    while (bad - good > 1 && problem_.empty()) {
      const int64_t mid = good + (bad - good) / 2;
      (regular(mid) ? good : bad) = mid;
    }
    return good + 1;
  }

  // The leaves [g0, g1] a node of a's spine adds: its own leaves (each meets a there), or one
  // subtree of their own (revealed as a node).
  std::vector<TreeNode> group(int64_t g0, int64_t g1, int64_t a, int depth) {
    if (g0 == g1 || !problem_.empty()) return {};
    const Span ends = meet(g0, g1);
    if (ends.lo == g0 && ends.hi == g1) {  // one subtree: walked once per size, then taken as walked
      const int64_t size = g1 - g0 + 1;
      if (const auto seen = subtrees_.find(size); seen != subtrees_.end()) {
        std::vector<TreeNode> shifted;
        for (const TreeNode& n : seen->second) shifted.push_back({n.lo + g0, n.hi + g0, true});
        return shifted;
      }
      std::vector<TreeNode> inside = walk(g0, g1, depth);
      std::vector<TreeNode>& relative = subtrees_[size];
      for (const TreeNode& n : inside) relative.push_back({n.lo - g0, n.hi - g0, n.inferred});
      return inside;
    }
    if (ends.lo == a && meet(g0, g0 + 1).lo == a && meet(g1 - 1, g1).lo == a) return {};
    if (problem_.empty())
      problem_ = "the K range " + std::to_string(g0) + ".." + std::to_string(g1) +
                 " joins its node neither as leaves nor as one subtree (reveal resolves those two only)";
    return {};
  }

  Prober& p_;
  int64_t k_;
  std::vector<TreeNode> nodes_;
  std::vector<RevealLine> lines_;
  std::map<int64_t, std::vector<TreeNode>> subtrees_;  // by size, relative to the first leaf
  std::string problem_;
};

bool in_mma(const AccumModel& m, const Spec& s) { return m.scales_in_mma && s.pow2_scales(); }

}  // namespace

std::vector<std::pair<int64_t, int64_t>> predicted_tree(const Spec& s, const AccumModel& m) {
  if (m.step.k_run) return {};
  const Geometry g = geometry(s);
  const bool mma = in_mma(m, s), over_k = mma || g.epilogue_scales();
  const bool fma_every_step = detail::is_fmaf(m.step) && m.promote_k == 1;
  std::vector<std::pair<int64_t, int64_t>> nodes;
  const auto node = [&](int64_t lo, int64_t hi) {
    if (hi > lo) nodes.push_back({lo, hi});
  };
  const auto chains = [&](int64_t k0, int64_t k1) {  // a segment: chains of steps, added in fp32
    const int64_t every = m.promote_k && !mma && !fma_every_step ? m.promote_k : std::max<int64_t>(k1 - k0, 1);
    for (int64_t c = k0; c < k1; c += every) {
      const int64_t c1 = std::min(c + every, k1);
      for (int64_t e = c + m.step.k;; e += m.step.k) {
        node(c, std::min(e, c1) - 1);
        if (e >= c1) break;
      }
      if (c > k0) node(k0, c1 - 1);
    }
  };
  const int64_t size = over_k ? s.k : g.kblocks;
  const auto k_at = [&](int64_t u) { return over_k ? u : u < g.kblocks ? g.block_begin(u) : s.k; };
  const auto part = [&](int64_t a, int64_t b) {  // in K, or in K-blocks for gemm.block
    if (over_k) return chains(a, b);
    for (int64_t kb = a; kb < b; ++kb) {
      chains(g.block_begin(kb), g.block_end(kb));
      if (kb > a) node(k_at(a), g.block_end(kb) - 1);
    }
  };
  std::vector<std::pair<int64_t, int64_t>> parts;  // [lo, hi] in K
  const int64_t unit = over_k ? (m.promote_k && !mma ? m.promote_k : m.step.k) : 1;
  const int64_t units = size == 0 ? 0 : (size + unit - 1) / unit, per = units_per_part(m, units, over_k ? unit : g.kblock);
  if (per == 0 || size == 0) {
    part(0, size);
  } else {
    for (int64_t u = 0; u < units; u += per) {
      const int64_t u1 = std::min((u + per) * unit, size);
      part(u * unit, u1);
      parts.push_back({k_at(u * unit), k_at(u1) - 1});
    }
    if (m.combine == Combine::sequential)
      for (size_t p = 1; p < parts.size(); ++p) node(0, parts[p].second);
    while (m.combine == Combine::pairwise && parts.size() > 1) {
      std::vector<std::pair<int64_t, int64_t>> next;
      for (size_t i = 0; i + 1 < parts.size(); i += 2) {
        node(parts[i].first, parts[i + 1].second);
        next.push_back({parts[i].first, parts[i + 1].second});
      }
      if (parts.size() % 2) next.push_back(parts.back());
      parts = std::move(next);
    }
  }
  std::ranges::sort(nodes);
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

std::string Revealed::story() const {
  if (!deterministic)
    return "not deterministic: a repeated call gave different bits (" + std::to_string(calls) + " calls); no order is given\n";
  if (!problem.empty()) return "no order revealed: " + problem + "\n";
  std::string s = "the summation tree over K (" + std::to_string(calls) + " GEMM calls), bottom up from " +
                  (descending ? "the last K, descending" : "K 0") + ":\n";
  for (const RevealLine& l : lines)
    s += std::string(size_t(2 * l.depth + 2), ' ') + std::to_string(l.count) + (l.count == 1 ? " node adds " : " nodes add ") +
         std::to_string(l.size) + " K" + (l.count == 1 ? "" : " each") + " (" + l.kind + "), " +
         (descending ? "down" : "up") + " to K " + std::to_string(l.upto) + "\n";
  if (orders.empty()) s += "no order of the model family (identify.hpp) is this tree\n";
  for (const std::string& o : orders) {
    const bool ok = std::ranges::find(exact, o) != exact.end();
    s += "order " + o + (ok ? ": reproduces the kernel bit for bit on random data" : ": this tree, another arithmetic") + "\n";
  }
  if (!orders.empty() && exact.empty()) s += "no row's arithmetic reproduces the kernel in this order\n";
  // What a model row made of it records (reference/gemm/model.cpp: name, step, promotion, parts,
  // and this provenance); a kernel can claim the order by its name meanwhile.
  if (!exact.empty())
    s += "as a claim: model=\"" + exact[0] + "\"; as a row's provenance: revealed by `ulpgate reveal` on " + backend +
         (ran.empty() ? "" : " (ran: " + ran + ")") + ", " + case_id + "\n";
  return s;
}

namespace {

}  // namespace

Revealed reveal_gemm(const Spec& s, Backend& backend, std::string_view arch) {
  if (const std::string p = s.problem(); !p.empty()) throw UsageError("reveal: " + p);
  if (s.k < 2 || s.m < 1 || s.n < 1) throw UsageError("reveal: needs K >= 2 and an output to read (M, N >= 1)");
  Revealed r;
  r.backend = backend.name();
  r.case_id = Case{s, Input::parse("normal"), 1}.id();
  Prober prober(s, backend);
  // K 0 and 1 meeting only at the root while the last two meet at once: summed last to first.
  const std::vector<char> first = prober.lost(0, 1), last = prober.lost(s.k - 2, s.k - 1);
  const bool backwards = std::ranges::count(first, 1) == s.k && std::ranges::count(last, 1) == 2 && s.k > 2;
  prober.mirror(backwards);
  TreeReveal tree(prober, s.k);
  tree.run();
  r.tree = tree.nodes();
  r.lines = tree.lines();
  r.problem = tree.problem();
  if (backwards) {  // positions were mirrored
    r.descending = true;
    for (TreeNode& n : r.tree) n = {s.k - 1 - n.hi, s.k - 1 - n.lo, n.inferred};
    for (RevealLine& l : r.lines) l.upto = s.k - 1 - l.upto;
  }
  r.calls = prober.calls();
  r.deterministic = prober.deterministic();
  if (!r.deterministic || !r.problem.empty()) return r;
  std::vector<std::pair<int64_t, int64_t>> measured;
  for (const TreeNode& n : r.tree) measured.push_back({n.lo, n.hi});
  std::ranges::sort(measured);
  measured.erase(std::unique(measured.begin(), measured.end()), measured.end());
  std::set<int64_t> lengths;  // the K the spine's nodes add: a split part's among them
  for (const RevealLine& l : r.lines)
    if (l.depth == 0 && l.size > 1) lengths.insert(l.size);
  const std::vector<int64_t> part_lengths(lengths.begin(), lengths.end());
  const std::deque<Variant> family = model_family(s, plausible_rows(arch), part_lengths);
  std::vector<const Variant*> same;  // the family's orders with this tree
  for (const Variant& v : family)
    if (predicted_tree(s, v.model) == measured) same.push_back(&v);
  // Random data at the same shape, twice: which of them the kernel's bits follow (on a sample of
  // D: a production shape's whole replay takes minutes on the host).
  const Case c{s, Input::parse("normal"), 1};
  const Operands in = c.operands();
  const Stored st = stored(s, in);
  std::vector<std::byte> d(size_t(s.m * s.n) * (s.out == Format::bf16 ? 2 : 4), std::byte{0xFF}), again = d;
  r.ran = backend.gemm(s, st.buffers(d)).ran;
  backend.gemm(s, st.buffers(again));
  r.calls += 2;
  if (d != again) {
    r.deterministic = false;
    return r;
  }
  // Replayed on 4 rows x 3 blocks of 64 columns of D (first, middle, last; whole B scale rows and
  // 16-row weight tiles), not all of it: a production shape's whole replay takes minutes here.
  std::vector<int64_t> rows;
  for (int64_t m : {int64_t(0), s.m / 3, 2 * s.m / 3, s.m - 1})
    if (rows.empty() || m > rows.back()) rows.push_back(m);
  const int64_t align = std::max<int64_t>({int64_t(1), geometry(s).b_rows, s.profile->weights == WeightLayout::bpreshuffle ? 16 : 1});
  const int64_t width = std::min(s.n, (64 + align - 1) / align * align);
  std::set<int64_t> starts;
  for (int64_t n0 : {int64_t(0), s.n / 2, s.n - width}) starts.insert(std::max<int64_t>(0, n0 / align * align));
  std::vector<std::pair<Spec, Operands>> samples;
  for (int64_t n0 : starts) samples.push_back(sub_problem(s, in, rows, n0, std::min(width, s.n - n0)));
  for (size_t v = 0; v < same.size(); ++v) {
    r.orders.push_back(same[v]->name);
    if (int(v) >= kMaxReplays) continue;
    bool all = true;
    size_t at = 0;
    for (int64_t n0 : starts) {
      const auto& [sub, sub_in] = samples[at++];
      const Output o = gemm_model(sub, same[v]->model, sub_in);
      for (size_t i = 0; i < rows.size() && all; ++i)
        for (int64_t n = 0; n < sub.n && all; ++n) {
          const uint32_t bits = element(s, d, size_t(rows[i] * s.n + n0 + n)), want = o.bits[i * size_t(sub.n) + size_t(n)];
          all = bits == want || (is_nan(s.out, bits) && is_nan(s.out, want));
        }
    }
    if (all) r.exact.push_back(same[v]->name);
  }
  return r;
}

}  // namespace ulpgate::gemm
