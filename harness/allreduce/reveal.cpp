#include "harness/allreduce/reveal.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "reference/parallel.hpp"

namespace ulpgate::allreduce {
namespace {

// L and the unit of rank 0 as powers of two: the units' sum (below 2^(unit + 8)) stays under half
// an ulp of L in fp32 and in the element type, and is exact in both.
struct Design {
  int big, unit;
};
Design design(Format dtype) { return dtype == Format::fp16 ? Design{15, -24} : Design{40, 0}; }

// The bits of +-2^e in dtype (normal or subnormal).
uint32_t pow2_bits(Format f, int e, bool negative) {
  const FormatInfo& fi = info(f);
  const uint32_t sign = negative ? 1u << (fi.ebits + fi.mbits) : 0;
  if (e >= fi.emin) return sign | uint32_t(e + fi.bias) << fi.mbits;
  return sign | 1u << (e - (fi.emin - fi.mbits));
}

using Mask = uint32_t;  // a set of ranks

std::string render(Mask node, const std::set<Mask>& nodes) {
  if (std::popcount(node) == 1) return "r" + std::to_string(std::countr_zero(node));
  // Children: the largest nodes inside, then the ranks no child holds.
  std::vector<Mask> children;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Mask m = *it;
    if (m == node || (m & ~node) || std::popcount(m) < 2) continue;
    if (std::ranges::none_of(children, [&](Mask c) { return (c & m) == m; })) children.push_back(m);
  }
  std::ranges::sort(children, [](Mask a, Mask b) { return std::popcount(a) != std::popcount(b) ? std::popcount(a) > std::popcount(b) : a < b; });
  Mask covered = 0;
  for (Mask c : children) covered |= c;
  for (Mask rest = node & ~covered; rest; rest &= rest - 1) children.push_back(rest & -rest);
  std::string s;
  for (Mask c : children) {
    const std::string part = render(c, nodes);
    s += (s.empty() ? "" : "+") + (std::popcount(c) > 1 ? "(" + part + ")" : part);
  }
  return s;
}

std::string rank_text(const std::vector<int>& ranks) {
  if (ranks.size() > 1 && ranks.back() - ranks.front() == int(ranks.size()) - 1)
    return std::to_string(ranks.front()) + "-" + std::to_string(ranks.back());
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

// The rank the variant's documented order starts with at element e (-1: it states none).
int expected_first(const Spec& s, int64_t e) {
  const Order o = resolved_order(s);
  if (o == Order::per_hop) return -1;
  return o == Order::rotated ? owner_of(s, e) : 0;
}

// The chain of the ranks from `first` on ("" for -1).
std::string chain_from(const Spec& s, int first) {
  if (first < 0) return "";
  std::vector<int> order;
  for (int k = 0; k < s.world; ++k) order.push_back((first + k) % s.world);
  return chain_tree(order);
}

// The nodes found at one (rank, element) as a set of rank masks packed a byte each (W <= 8 gives
// at most 7 nodes, none of them 0): 8 bytes where a std::set took a hundred, so a reveal of a GiB
// message fits; sorted once every pair has been seen, it is the run key.
struct Nodes {
  uint64_t packed = 0;
  // False when all 8 places are taken by other nodes: more nodes than a tree of W <= 8 ranks has.
  bool insert(Mask m) {
    for (int b = 0; b < 64; b += 8) {
      const Mask at = Mask(packed >> b & 0xFF);
      if (at == m) return true;
      if (at == 0) {
        packed |= uint64_t(m) << b;
        return true;
      }
    }
    return false;
  }
  uint64_t key() const {  // the masks in ascending order, the largest in the low byte
    std::array<uint8_t, 8> m{};
    for (int b = 0; b < 8; ++b) m[size_t(b)] = uint8_t(packed >> (8 * b));
    std::ranges::sort(m);
    uint64_t k = 0;
    for (uint8_t x : m) k = k << 8 | x;
    return k;
  }
};

}  // namespace

std::string chain_tree(const std::vector<int>& ranks) {
  std::set<Mask> nodes;
  Mask m = 0;
  for (size_t i = 0; i < ranks.size(); ++i) {
    m |= Mask(1) << ranks[i];
    if (i >= 1) nodes.insert(m);
  }
  return render(m, nodes);
}

std::optional<RingOrder> fit_ring(const Spec& s, std::string_view arch, const std::vector<RevealedRun>& runs) {
  const int w = s.world;
  if (w < 3 || runs.empty() || std::ranges::any_of(runs, [&](const RevealedRun& r) { return r.ranks != runs[0].ranks; }))
    return std::nullopt;
  const int64_t width = info(s.dtype).bits / 8, steps = (int64_t(runs.size()) + w - 1) / w;
  const auto chunk_of_step = [&](int64_t j) { return (runs[size_t(j * w)].end - runs[size_t(j * w)].begin) * width; };
  RingOrder ring{arch, w, s.bytes(), 0, chunk_of_step(0), chunk_of_step(0), chunk_of_step(steps - 1), ""};
  ring.region_bytes = w * ring.chunk_bytes;
  for (int64_t j = 1; j + 1 < steps; ++j)
    if (chunk_of_step(j) != ring.chunk_bytes) {  // a region's rest: the region ends with it
      ring.rest_chunk_bytes = chunk_of_step(j);
      ring.region_bytes = runs[size_t(j * w + w - 1)].end * width;
      break;
    }
  for (const RevealedRun& r : runs) {
    const int first = ring.first_rank(r.begin * width);
    if (r.tree != chain_from(s, first) || ring.first_rank((r.end - 1) * width) != first) return std::nullopt;
  }
  return ring;
}

std::string RevealedAllreduce::story() const {
  if (!deterministic)
    return "not deterministic: a repeated call gave different bits (" + std::to_string(calls) + " calls); no order is given\n";
  if (!problem.empty()) return "no order revealed: " + problem + "\n";
  std::string s = "the order the ranks are added in (" + std::to_string(calls) + " calls), by element of the view:\n";
  for (const RevealedRun& r : runs)
    s += "  elements " + std::to_string(r.begin) + ".." + std::to_string(r.end - 1) + ", output of rank " + r.ranks + ": " +
         r.tree + (r.expected.empty() ? "" : r.tree == r.expected ? " (the variant's documented order)" : " (documented: " + r.expected + ")") +
         "\n";
  if (!ring_row.empty()) s += "as a row of reference/allreduce/nccl_ring.cpp (its chains give every run above): " + ring_row + "\n";
  return s;
}

RevealedAllreduce reveal_allreduce(const Spec& s, Backend& backend) {
  if (const std::string p = s.problem(); !p.empty()) throw UsageError("reveal: " + p);
  if (std::string why = backend.declines(s); !why.empty()) throw NotSupported(backend.name() + " does not run this case: " + why);
  const size_t width = info(s.dtype).bits / 8, storage = size_t(s.view.storage()) * width, at = size_t(s.view.offset) * width;
  const size_t n = size_t(s.view.count);
  const Design d = design(s.dtype);
  RevealedAllreduce out;
  std::vector<std::vector<Nodes>> nodes(size_t(s.world), std::vector<Nodes>(n));  // [rank][element]
  const Mask all = (Mask(1) << s.world) - 1;
  for (int i = 0; i < s.world && out.problem.empty(); ++i)
    for (int j = i + 1; j < s.world && out.problem.empty(); ++j) {
      std::vector<std::vector<std::byte>> in(size_t(s.world), std::vector<std::byte>(storage)), res[2];
      for (int r = 0; r < s.world; ++r) {
        const uint32_t bits = r == i ? pow2_bits(s.dtype, d.big, false) : r == j ? pow2_bits(s.dtype, d.big, true)
                                                                                    : pow2_bits(s.dtype, d.unit + r, false);
        parallel_for_each(int64_t(n), int64_t(1) << 16,
                          [&](int64_t e) { std::memcpy(in[size_t(r)].data() + at + size_t(e) * width, &bits, width); });
      }
      for (auto& run : res) {
        run = s.in_place ? in : std::vector<std::vector<std::byte>>(size_t(s.world), std::vector<std::byte>(storage, std::byte{0xFF}));
        std::vector<std::vector<std::byte>> inputs = s.in_place ? std::vector<std::vector<std::byte>>() : in;
        std::vector<RankBuffers> io;
        for (int r = 0; r < s.world; ++r)
          io.push_back({s.in_place ? std::span<std::byte>(run[size_t(r)]) : std::span<std::byte>(inputs[size_t(r)]), run[size_t(r)]});
        backend.allreduce(s, io);
        ++out.calls;
      }
      if (res[0] != res[1]) {
        out.deterministic = false;
        return out;
      }
      for (int r = 0; r < s.world && out.problem.empty(); ++r) {
        std::atomic<int64_t> first_bad{int64_t(n)};
        parallel_for_large(int64_t(n), int64_t(1) << 16, [&](int64_t e0, int64_t e1) {
          for (int64_t e = e0; e < e1; ++e) {
            uint32_t bits = 0;
            std::memcpy(&bits, res[0][size_t(r)].data() + at + size_t(e) * width, width);
            const double units = decode(s.dtype, bits) / std::ldexp(1.0, d.unit);
            if (!(units >= 0 && units < double(Mask(1) << s.world) && units == std::floor(units)) ||
                !nodes[size_t(r)][size_t(e)].insert(all & ~Mask(units))) {
              for (int64_t seen = first_bad.load(); e < seen && !first_bad.compare_exchange_weak(seen, e);) {}
              return;
            }
          }
        });
        if (const int64_t e = first_bad.load(); e < int64_t(n)) {
          uint32_t bits = 0;
          std::memcpy(&bits, res[0][size_t(r)].data() + at + size_t(e) * width, width);
          out.problem = "rank " + std::to_string(r) + "'s element " + std::to_string(e) + " is " +
                        std::to_string(decode(s.dtype, bits)) + ", not a sum of the designed units of a tree (probe +L on rank " +
                        std::to_string(i) + ", -L on rank " + std::to_string(j) + ")";
        }
      }
    }
  if (out.problem.empty()) {
    // Per output rank, runs of elements with one tree (and one documented start); then ranks with
    // the same runs merged. Trees are rendered once per run.
    using Run = std::tuple<int64_t, int64_t, uint64_t, int>;  // begin, end, nodes key, documented start
    std::map<std::vector<Run>, std::vector<int>> by_runs;
    for (int r = 0; r < s.world; ++r) {
      std::vector<Run> runs;
      uint64_t packed = 0, key = 0;  // neighbours mostly found their nodes in the same order: sorted once
      for (size_t e = 0; e < n; ++e) {
        if (e == 0 || nodes[size_t(r)][e].packed != packed) packed = nodes[size_t(r)][e].packed, key = nodes[size_t(r)][e].key();
        const int first = expected_first(s, int64_t(e));
        if (!runs.empty() && std::get<2>(runs.back()) == key && std::get<3>(runs.back()) == first) std::get<1>(runs.back()) = int64_t(e) + 1;
        else runs.emplace_back(int64_t(e), int64_t(e) + 1, key, first);
      }
      by_runs[runs].push_back(r);
    }
    for (const auto& [runs, ranks] : by_runs)
      for (const auto& [b, e, key, first] : runs) {
        std::set<Mask> set;
        for (uint64_t k = key; k; k >>= 8) set.insert(Mask(k & 0xFF));
        out.runs.push_back({b, e, rank_text(ranks), render(all, set), chain_from(s, first)});
      }
    std::ranges::sort(out.runs, [](const RevealedRun& a, const RevealedRun& b) { return std::tie(a.ranks, a.begin) < std::tie(b.ranks, b.begin); });
    const std::string name = backend.name(), arch = name.substr(name.find('@') + 1);
    if (resolved_order(s) == Order::per_hop)
      if (const std::optional<RingOrder> r = fit_ring(s, arch, out.runs))
        out.ring_row = "RingOrder{\"" + arch + "\", " + std::to_string(r->world) + ", " + std::to_string(r->bytes) + ", " +
                       std::to_string(r->region_bytes) + ", " + std::to_string(r->chunk_bytes) + ", " +
                       std::to_string(r->rest_chunk_bytes) + ", " + std::to_string(r->last_rest_chunk_bytes) + ", SOURCE}";
  }
  return out;
}

}  // namespace ulpgate::allreduce
