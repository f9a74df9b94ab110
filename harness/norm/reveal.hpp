// `ulpgate reveal --op norm.*`: the tree in which a black-box RMSNorm kernel adds the squares of a
// row, from designed inputs.
//
// FPRev's swamping (harness/gemm/reveal.hpp) needs a large term and its negation; squares have no
// sign. What positive terms can show instead is fp32's overflow, which swamping turns into an
// order test: a row holds one big square and a fill whose squares add up to exactly fp32's
// largest value 2^128 - 2^104 (every partial sum of them exact, in any order), and two unit
// squares of 0.39 ulp each at positions a and b. A unit that meets the big term's partial sum on
// its own rounds away; two that were added to each other first make 0.78 ulp, round up, and the
// row's sum overflows: r = rsqrt(inf) = 0 and the row's outputs are zeros. So one row answers
// "did a and b meet before either met the big term's position?", and every output row is its own
// experiment: one kernel call answers as many of them as it has rows.
//
// From a leaf p, the tree's spine (the nodes from p to the root) adds one sibling subtree per
// node; leaves j, k are in the same sibling exactly when neither meets p before the other
// (neither row (big j; p, k) nor (big k; p, j) overflows), and j's sibling comes before k's when
// row (big k; p, j) overflows. The siblings are sorted with that comparison by a quicksort whose
// partitions run side by side (one call per round), then each sibling subtree is revealed the
// same way: O(H log^2 H) rows in O(depth x log H) calls, every call run twice (bits that differ:
// not deterministic, no order). Two control rows per call check that the kernel sums plain fp32
// squares (the fill alone does not overflow; the fill and one more ulp does); a kernel that
// scales or widens its sum cannot be revealed this way and is told so. bf16 inputs only: fp16
// squares never reach fp32's overflow.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/backend.hpp"
#include "reference/norm/norm.hpp"

namespace ulpgate::norm {

struct RevealedNorm {
  bool deterministic = true;
  std::string problem;  // why no tree was revealed ("" when one was)
  // The tree: node i < H is element i's square; node H + n adds inner[n]'s two nodes. The root
  // is the last node. Operand order is not revealed (fp32 addition commutes).
  std::vector<std::array<int32_t, 2>> inner;
  std::vector<std::string> lines;  // the tree described: chains, how they are combined
  int64_t depth = 0;               // additions on the longest path from a square to the sum
  int64_t assumed_depth = 0;       // the longest path the case's r budget allows (0: no budget row)
  int calls = 0;                   // kernel calls made (each row set twice)
  int64_t rows = 0;                // experiment rows run
  std::string case_id, backend;

  // Every internal node's elements, sorted (the tree as sets; tests compare it with a known one).
  std::vector<std::vector<int32_t>> node_elements(int64_t h) const;
  std::string story() const;
};

// Reveals the tree of the spec's sum of squares (its op, profile and H; M is the reveal's own).
// Throws BackendError when the kernel fails, UsageError for a spec it cannot probe (H < 7).
RevealedNorm reveal_norm(const Spec& s, Backend& backend);

}  // namespace ulpgate::norm
