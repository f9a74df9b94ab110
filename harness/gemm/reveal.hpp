// `ulpgate reveal --op gemm.*`: the order in which a black-box GEMM sums K, measured with designed
// inputs (FPRev, arXiv 2411.00442: a large term +L, its negation -L and small unit terms; a unit
// summed together with +L or -L before the two met is swamped, one summed after they cancelled
// survives, so the units that survive tell which K positions a kernel summed together first).
//
// Extended to FP8 matrix units: a unit is a product of the format's smallest subnormals (2^-18
// for e4m3fn), L = 2^14, far apart enough that an MMA step's alignment and an fp32 addition both
// swamp up to 128 units. One GEMM call runs M probes x N windows: row m of A holds +L at K
// position i and -L at j_m, column n of B units at a window of K positions, so output (m, n)
// counts the window's units that survived probe (i, j_m). The K positions lost to a probe are
// the leaves under the summation tree's node where i and j_m meet (their lowest common ancestor).
//
// From leaf i the "spine" is the chain of those nodes bottom up: for each, the K range under it.
// An MMA chain shows as ranges growing by the step's k, a promotion as ranges growing by whole
// chains, split-K as ranges growing by whole parts (by the same part sequentially, by doubling
// pairwise). Regular runs are galloped (doubling, then bisection), so a spine costs
// O(levels x log K) probes. Every call runs twice: outputs that differ make the kernel
// non-deterministic (no order is given). The revealed spine is then matched against the orders
// of the model rows (identify.hpp's family), and the matching rows replayed on random data at the
// same shape: a row that reproduces the kernel bit for bit is its model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/backend.hpp"
#include "reference/gemm/gemm.hpp"

namespace ulpgate::gemm {

// An internal node of the summation tree: the K range [lo, hi] summed below it.
struct TreeNode {
  int64_t lo, hi;
  bool inferred = false;  // inside a galloped run: taken from the run's probed nodes
};

// A line of the tree's description: `count` nodes at `depth` (0: the spine from K 0; 1: inside
// a group a spine node adds, ...) each adding `size` K, as `kind` ("its own leaves": an MMA step's
// products; "one subtree": a chain, a split part), up to K `upto`.
struct RevealLine {
  int depth;
  int64_t size;
  std::string kind;
  int64_t count, upto;
};

struct Revealed {
  bool deterministic = true;
  std::string problem;              // why no order could be revealed ("" when one was)
  std::vector<TreeNode> tree;       // every internal node
  std::vector<RevealLine> lines;    // the tree described, bottom up from K 0 (or from the last K)
  bool descending = false;          // the tree is walked from the last K (its first leaf summed)
  std::vector<std::string> orders;  // the model-family orders with this tree (identify.hpp names)
  std::vector<std::string> exact;   // those whose replay reproduced the kernel on random data (up to
                                    // 4 x 64 outputs of D)
  int calls = 0;                    // GEMM calls made
  std::string case_id, backend, ran;  // what was revealed where: the backend's own account of what ran
  std::string story() const;          // what the CLI prints
};

// The tree a model sums the spec's K in (its steps, chains, promotion, scale blocks and split
// parts), as the sorted [lo, hi] ranges of its internal nodes; empty when its K ranges are not
// contiguous (interleaved steps).
std::vector<std::pair<int64_t, int64_t>> predicted_tree(const Spec& s, const AccumModel& m);

// Reveals the spec's order on the backend (its shape and profile: the kernel's choices may depend
// on them). `arch` selects the plausible model rows (identify.hpp plausible_rows). Throws
// BackendError when the kernel fails, UsageError for a spec without room for a probe (K < 3).
Revealed reveal_gemm(const Spec& s, Backend& backend, std::string_view arch);

}  // namespace ulpgate::gemm
