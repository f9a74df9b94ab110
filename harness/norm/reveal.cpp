#include "harness/norm/reveal.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>

#include "harness/norm/budget.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::norm {
namespace {

// The designed x values (bf16). The big square 65025 * 2^112 lies in [2^127, 2^128), where
// fp32's ulp is 2^104; the fill's squares add 130815 * 2^104, so big + fill = 2^128 - 2^104, the
// largest fp32; a unit's square is 25 * 2^98 = 0.39 of that ulp. Sums of the fill and the units
// alone stay below 2^121, where all of them are exact multiples of 2^98.
const double kBig = std::ldexp(255, 56);
const std::array<double, 4> kFill = {std::ldexp(255, 52), std::ldexp(255, 52), std::ldexp(27, 52), std::ldexp(3, 53)};
const double kUnit = std::ldexp(5, 49);
const double kOneUlp = std::ldexp(1, 52);  // squared: one ulp at the top, the control that must overflow

constexpr int64_t kElementsPerCall = int64_t(1) << 25;  // 64 MiB of bf16 x (and as much y)

struct Query {
  int32_t big, a, b;  // units at a and b; the answer: they were added to each other before big's sum
};

using Term = std::pair<int32_t, double>;

uint16_t bf16_bits(double exact_bf16) {
  const float f = float(exact_bf16);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);
}

struct Outputs {
  std::vector<std::byte> y, residual;
  std::vector<uint8_t> codes, scales;
  bool operator==(const Outputs&) const = default;
};

// Runs rows of designed terms through the kernel, each call twice.
class Prober {
 public:
  Prober(const Spec& s, Backend& b, RevealedNorm& out) : s_(s), b_(b), out_(out) {}

  // Whether each query's units met first; empty once the kernel showed it cannot be probed
  // (out.problem says why).
  std::vector<char> ask(const std::vector<Query>& qs) {
    std::vector<char> answers;
    const size_t rows = size_t(std::max<int64_t>(1, kElementsPerCall / s_.h - 2));
    for (size_t at = 0; at < qs.size(); at += rows) {
      const std::vector<char> got = call(std::span(qs).subspan(at, std::min(rows, qs.size() - at)));
      if (got.empty()) return {};
      answers.insert(answers.end(), got.begin(), got.end());
    }
    return answers;
  }

 private:
  // Two control rows, then one row per query: whether the row's sum overflowed.
  std::vector<char> call(std::span<const Query> qs) {
    Spec s = s_;
    s.m = int64_t(qs.size()) + 2;
    const int64_t h = s.h;
    std::vector<uint16_t> x(size_t(s.m * h), 0);
    const auto set_row = [&](int64_t r, std::initializer_list<Term> terms) {
      uint16_t* xr = x.data() + r * h;
      for (auto [i, v] : terms) xr[i] = bf16_bits(v);
      int32_t i = 0;
      for (double f : kFill) {
        while (xr[i] != 0) ++i;
        xr[i] = bf16_bits(f);
      }
    };
    set_row(0, {{0, kBig}});
    set_row(1, {{0, kBig}, {1, kOneUlp}});
    for (size_t q = 0; q < qs.size(); ++q) set_row(int64_t(q) + 2, {{qs[q].big, kBig}, {qs[q].a, kUnit}, {qs[q].b, kUnit}});

    const Outputs first = run(s, x), second = run(s, x);
    out_.calls += 2;
    out_.rows += s.m;
    if (first != second) {
      out_.deterministic = false;
      out_.problem = "the same rows gave different outputs in two calls: the kernel is not deterministic, so no tree "
                     "describes it";
      return {};
    }
    const auto overflowed = [&](int64_t r, int32_t i) {
      const size_t e = size_t(r * h + i);
      float v;
      if (s.quantizes()) {
        v = decode_f32(s.format, first.codes[e]);
      } else {
        uint16_t bits;
        std::memcpy(&bits, first.y.data() + 2 * e, 2);
        v = decode_f32(s.dtype, bits);
      }
      return !(std::isfinite(v) && v != 0);
    };
    if (overflowed(0, 0) || !overflowed(1, 0)) {
      out_.problem = std::string("the control rows: squares adding up to fp32's largest value ") +
                     (overflowed(0, 0) ? "overflowed" : "and one ulp more did not overflow") +
                     ", so the kernel does not add the squares as plain fp32 sums (it scales or widens them) and "
                     "overflow cannot show its order";
      return {};
    }
    std::vector<char> answers;
    for (size_t q = 0; q < qs.size(); ++q) answers.push_back(overflowed(int64_t(q) + 2, qs[q].big));
    return answers;
  }

  Outputs run(const Spec& s, const std::vector<uint16_t>& x) {
    const size_t n = x.size();
    std::vector<std::byte> residual(s.has_residual() ? 2 * n : 0, std::byte{0}), weight;
    for (int64_t i = 0; i < s.h; ++i) {
      const float one = 1.0f;
      const uint16_t bf16_one = bf16_bits(1.0);
      const auto* p = s.fp32_weight ? reinterpret_cast<const std::byte*>(&one) : reinterpret_cast<const std::byte*>(&bf16_one);
      weight.insert(weight.end(), p, p + (s.fp32_weight ? 4 : 2));
    }
    Outputs o;
    const std::byte poison{0xFF};
    if (!s.quantizes()) o.y.assign(2 * n, poison);
    if (s.has_residual()) o.residual.assign(2 * n, poison);
    if (s.quantizes()) {
      const quant::Profile qp = s.quant_row();
      o.codes.assign(n, 0xFF);
      o.scales.assign(size_t(s.quant_spec(qp).scale_bytes()), 0xFF);
    }
    b_.norm(s, Buffers{std::as_bytes(std::span(x)), residual, weight, o.y, o.residual, o.codes, o.scales});
    return o;
  }

  const Spec& s_;
  Backend& b_;
  RevealedNorm& out_;
};

// A subtree being revealed from its pivot (its least element): its other elements in parts,
// ordered by where they join the pivot's spine. A sorted part is one sibling subtree.
struct Task {
  int32_t pivot;
  struct Part {
    bool sorted;
    std::vector<int32_t> elements;
    int child = -1;  // the task revealing a sorted part of two or more elements
  };
  std::vector<Part> parts;
  bool expanded = false;
};

Task task_of(std::vector<int32_t> elements) {
  Task t{elements.front(), {}};
  elements.erase(elements.begin());
  t.parts.push_back({elements.size() < 2, elements});
  return t;
}

// One round of every open task's quicksort: each unsorted part split around its middle element.
// Returns false when the kernel could not be probed or answered inconsistently.
bool sort_round(std::vector<Task>& tasks, Prober& prober, RevealedNorm& out) {
  std::vector<Query> qs;
  for (const Task& t : tasks)
    for (const Task::Part& part : t.parts) {
      if (part.sorted) continue;
      const int32_t q = part.elements[part.elements.size() / 2];
      for (int32_t j : part.elements)
        if (j != q) qs.push_back({q, t.pivot, j}), qs.push_back({j, t.pivot, q});
    }
  const std::vector<char> answers = qs.empty() ? std::vector<char>{} : prober.ask(qs);
  if (answers.size() != qs.size()) return false;
  size_t at = 0;
  for (Task& t : tasks) {
    std::vector<Task::Part> parts;
    for (Task::Part& part : t.parts) {
      if (part.sorted) {
        parts.push_back(std::move(part));
        continue;
      }
      const int32_t q = part.elements[part.elements.size() / 2];
      std::vector<int32_t> before, with{q}, after;
      for (int32_t j : part.elements) {
        if (j == q) continue;
        const bool j_first = answers[at++], q_first = answers[at++];
        if (j_first && q_first) {
          out.problem = "inconsistent answers at elements " + std::to_string(t.pivot) + ", " + std::to_string(j) + ", " +
                        std::to_string(q) + ": the sum is not one tree of fp32 additions (a wider or compensated sum rounds to fp32 once)";
          return false;
        }
        (j_first ? before : q_first ? after : with).push_back(j);
      }
      for (auto* side : {&before, &with, &after})
        if (!side->empty()) parts.push_back({side == &with || side->size() < 2, std::move(*side)});
    }
    t.parts = std::move(parts);
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].expanded || std::ranges::any_of(tasks[i].parts, [](const Task::Part& p) { return !p.sorted; })) continue;
    tasks[i].expanded = true;
    for (size_t p = 0; p < tasks[i].parts.size(); ++p) {
      if (tasks[i].parts[p].elements.size() < 2) continue;
      std::vector<int32_t> sorted = tasks[i].parts[p].elements;
      std::ranges::sort(sorted);
      tasks[i].parts[p].child = int(tasks.size());
      tasks.push_back(task_of(std::move(sorted)));  // moves the tasks: indices only across it
    }
  }
  return true;
}

int32_t build_tree(const std::vector<Task>& tasks, int t, int64_t h, RevealedNorm& out) {
  int32_t node = tasks[size_t(t)].pivot;
  for (const Task::Part& part : tasks[size_t(t)].parts) {
    const int32_t sibling = part.child < 0 ? part.elements.front() : build_tree(tasks, part.child, h, out);
    out.inner.push_back({node, sibling});
    node = int32_t(h + int64_t(out.inner.size()) - 1);
  }
  return node;
}

// ---- the tree described -------------------------------------------------------------------------

// A task's chain: its pivot and the elements its spine adds one at a time before any subtree;
// then the chains each later sibling holds.
struct Shape {
  std::vector<int32_t> chain;
  std::vector<int64_t> counts;  // chains in each later sibling, in spine order
  int64_t chains = 1;
  bool pairwise = true;  // a perfect binary tree of chains
};

Shape shape_of(const std::vector<Task>& tasks, int t, std::vector<std::vector<int32_t>>& all_chains) {
  const Task& task = tasks[size_t(t)];
  Shape s{{task.pivot}, {}};
  size_t i = 0;
  for (; i < task.parts.size() && task.parts[i].elements.size() == 1; ++i) s.chain.push_back(task.parts[i].elements[0]);
  all_chains.push_back(s.chain);
  for (; i < task.parts.size(); ++i) {
    const Task::Part& part = task.parts[i];
    int64_t count = 1;
    if (part.child < 0) {
      all_chains.push_back(part.elements);
    } else {
      const Shape inner = shape_of(tasks, part.child, all_chains);
      count = inner.chains;
      s.pairwise = s.pairwise && inner.pairwise;
    }
    s.pairwise = s.pairwise && count == int64_t(1) << s.counts.size();
    s.counts.push_back(count);
    s.chains += count;
  }
  return s;
}

std::string elements_text(const std::vector<int32_t>& e) {
  std::string s;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e.size() > 6 && i == 4) {
      s += ", ..., " + std::to_string(e.back());
      break;
    }
    s += (i ? ", " : "") + std::to_string(e[i]);
  }
  std::vector<int32_t> steps;
  for (size_t i = 1; i < e.size(); ++i) steps.push_back(e[i] - e[i - 1]);
  if (steps.size() > 1 && std::ranges::all_of(steps, [&](int32_t d) { return d == steps[0]; }))
    return s + " (stride " + std::to_string(steps[0]) + ")";
  size_t pack = 1;
  while (pack < e.size() && steps[pack - 1] == 1) ++pack;
  if (pack < 2 || pack == e.size() || e.size() % pack) return s;
  for (size_t i = pack; i < e.size(); ++i)
    if (e[i] - e[i - pack] != e[pack] - e[0]) return s;
  return s + " (packs of " + std::to_string(pack) + " contiguous elements every " + std::to_string(e[pack] - e[0]) + ")";
}

std::string counts_text(const std::vector<int64_t>& counts) {
  std::string s;
  for (size_t i = 0; i < counts.size();) {
    size_t j = i;
    while (j < counts.size() && counts[j] == counts[i]) ++j;
    s += (s.empty() ? "" : ", ") + (j - i > 2 ? std::to_string(j - i) + " x " : "") + std::to_string(counts[i]);
    i = j - i > 2 ? j : i + 1;
  }
  return s;
}

void describe(const std::vector<Task>& tasks, RevealedNorm& out) {
  std::vector<std::vector<int32_t>> chains;
  const Shape root = shape_of(tasks, 0, chains);
  const auto [shortest, longest] = std::ranges::minmax(chains, {}, &std::vector<int32_t>::size);
  const std::string lengths = shortest.size() == longest.size()
                                  ? std::to_string(longest.size())
                                  : std::to_string(shortest.size()) + " to " + std::to_string(longest.size());
  out.lines.push_back("the squares in " + std::to_string(chains.size()) + " chains of " + lengths +
                      " elements, each added one element at a time; element 0's: " + elements_text(root.chain));
  if (root.counts.empty()) return;
  std::string how = root.pairwise                                                      ? " (a pairwise tree of the chains)"
                    : std::ranges::all_of(root.counts, [](int64_t c) { return c == 1; }) ? " (one chain after another)"
                                                                                          : "";
  out.lines.push_back("the other chains join element 0's in subtrees of " + counts_text(root.counts) + " chains" + how);
}

void check_depth(const Spec& s, RevealedNorm& out) {
  std::vector<int64_t> depth(size_t(s.h), 0);
  for (const auto& [a, b] : out.inner) depth.push_back(1 + std::max(depth[size_t(a)], depth[size_t(b)]));
  out.depth = depth.back();
  try {
    const int64_t lanes = norm_budget(quant::default_budgets(), s).lanes;
    out.assumed_depth = norm::assumed_depth(s, lanes);
    out.lines.push_back("longest path: " + std::to_string(out.depth) + " additions; the r budget (lanes " +
                        std::to_string(lanes) + " in golden/budgets.csv) allows " + std::to_string(out.assumed_depth) +
                        (out.depth <= out.assumed_depth ? ": the budget holds for this kernel"
                                                        : ": EXCEEDED, the r budget is too small for this kernel"));
  } catch (const UsageError&) {
    out.lines.push_back("longest path: " + std::to_string(out.depth) + " additions (no r budget row for this case)");
  }
}

}  // namespace

std::vector<std::vector<int32_t>> RevealedNorm::node_elements(int64_t h) const {
  std::vector<std::vector<int32_t>> sets;
  const auto of = [&](int32_t node) { return node < h ? std::vector<int32_t>{node} : sets[size_t(node - h)]; };
  for (const auto& [a, b] : inner) {
    std::vector<int32_t> u = of(a), v = of(b);
    u.insert(u.end(), v.begin(), v.end());
    std::ranges::sort(u);
    sets.push_back(std::move(u));
  }
  return sets;
}

std::string RevealedNorm::story() const {
  std::string s;
  if (!problem.empty()) s += "  no tree: " + problem + "\n";
  for (const std::string& line : lines) s += "  " + line + "\n";
  s += "  " + std::to_string(calls) + " calls, " + std::to_string(rows) + " rows (each set of rows run twice)" +
       (deterministic ? ", deterministic\n" : "\n");
  return s;
}

RevealedNorm reveal_norm(const Spec& s, Backend& backend) {
  RevealedNorm out;
  out.backend = backend.name();
  if (const std::string p = s.problem(); !p.empty()) throw UsageError(p);
  if (s.h < 7) throw UsageError("reveal needs H >= 7 (a row holds 7 designed terms)");
  if (s.dtype != Format::bf16) {
    out.problem = std::string(format_name(s.dtype)) + " inputs: their squares never reach fp32's overflow, which the "
                  "reveal needs (the kernel's bf16 form can be revealed)";
    return out;
  }
  Prober prober(s, backend, out);
  std::vector<int32_t> all(size_t(s.h));
  for (int32_t i = 0; i < int32_t(s.h); ++i) all[size_t(i)] = i;
  std::vector<Task> tasks{task_of(all)};
  while (std::ranges::any_of(tasks, [](const Task& t) { return !t.expanded; }))
    if (!sort_round(tasks, prober, out)) return out;
  build_tree(tasks, 0, s.h, out);
  describe(tasks, out);
  check_depth(s, out);
  return out;
}

}  // namespace ulpgate::norm
