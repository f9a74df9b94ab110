// Judging a large output on every core: rows in chunks, each chunk counted into a CaseResult of
// its own, the parts merged in row order, so counts, histogram and first bad lines are those of a
// serial pass whatever the split. And judging it a slab of rows at a time, for references that are
// computed a slab at a time, so that what they hold stays bounded whatever the case's size.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "harness/core/case_result.hpp"
#include "reference/parallel.hpp"

namespace ulpgate {

// Adds p's counts and histogram to r, and its first bad lines while r holds fewer than max_lines.
inline void merge_counts(CaseResult& r, const CaseResult& p, size_t max_lines) {
  r.n_exact += p.n_exact, r.n_within += p.n_within, r.n_over += p.n_over;
  r.n_nonfinite += p.n_nonfinite, r.n_nan += p.n_nan;
  r.max_ulp = std::max(r.max_ulp, p.max_ulp);
  for (size_t b = 0; b < r.ulp_hist.size(); ++b) r.ulp_hist[b] += p.ulp_hist[b];
  for (size_t i = 0; i < p.first_bad.size() && r.first_bad.size() < max_lines; ++i) r.first_bad.push_back(p.first_bad[i]);
}

// judge(row0, row1, part) for chunks of rows [0, rows) of row_elements each (about 2^16 elements
// a chunk), merged into r in order.
template <class Judge>
void judge_rows_in_chunks(int64_t rows, int64_t row_elements, size_t max_lines, CaseResult& r, Judge judge) {
  const int64_t per = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, row_elements));
  std::vector<CaseResult> part(size_t((rows + per - 1) / per));
  parallel_for_large(int64_t(part.size()), 2, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) judge(c * per, std::min(rows, (c + 1) * per), part[size_t(c)]);
  });
  for (const CaseResult& p : part) merge_counts(r, p, max_lines);
}

// Rows [0, rows) in slabs of about slab_elements (at least one row): judge_slab(row0, row1)
// returns the slab's result, whose counts, elements and first bad lines are merged into r in row
// order. Returns the first slab with a bad element ({rows, rows} when none has one).
template <class JudgeSlab>
std::pair<int64_t, int64_t> judge_rows_in_slabs(int64_t rows, int64_t row_elements, int64_t slab_elements,
                                                size_t max_lines, CaseResult& r, JudgeSlab judge_slab) {
  const int64_t per = std::max<int64_t>(1, slab_elements / std::max<int64_t>(1, row_elements));
  std::pair<int64_t, int64_t> first_bad{rows, rows};
  for (int64_t row0 = 0; row0 < rows; row0 += per) {
    const int64_t row1 = std::min(rows, row0 + per);
    const CaseResult part = judge_slab(row0, row1);
    merge_counts(r, part, max_lines);
    r.elements += part.elements;
    if (first_bad.first == rows && part.n_over + part.n_nonfinite > 0) first_bad = {row0, row1};
  }
  return first_bad;
}

}  // namespace ulpgate
