#include "harness/moe/expert_judging.hpp"

#include <algorithm>

namespace ulpgate::moe {

std::string rows_text(int64_t first, int64_t count) {
  return count == 1 ? "row " + std::to_string(first)
                    : "rows " + std::to_string(first) + "-" + std::to_string(first + count - 1);
}

void add_expert(CaseResult& total, const ExpertRows& rows, int64_t e, std::string_view tensor, const CaseResult& r,
                const std::string& story) {
  total.elements += r.elements, total.n_exact += r.n_exact, total.n_within += r.n_within;
  total.n_over += r.n_over, total.n_nonfinite += r.n_nonfinite, total.n_nan += r.n_nan;
  total.max_ulp = std::max(total.max_ulp, r.max_ulp);
  for (size_t b = 0; b < total.ulp_hist.size(); ++b) total.ulp_hist[b] += r.ulp_hist[b];
  total.verdict = std::max(total.verdict, r.verdict);
  if (passes(r.verdict)) return;
  const int64_t count = rows.tokens[size_t(e)];
  const std::string where = "expert " + std::to_string(e) + " (" + std::to_string(count) + " tokens, " + std::string(tensor) + " " +
                            rows_text(rows.first_row(e), count) + ")";
  if (!story.empty()) total.verdict = std::max(total.verdict, Verdict::layout);
  if (total.message.size() < 600)
    total.message += (total.message.empty() ? "" : "; ") + where + ": " + (story.empty() ? r.message : story);
  for (const std::string& line : r.first_bad)
    if (total.first_bad.size() < 8) total.first_bad.push_back("expert " + std::to_string(e) + ": " + line);
}

std::string written_off_tokens(const ExpertRows& rows, const std::function<bool(int64_t row)>& written) {
  std::string what;
  int64_t shown = 0;
  for (int64_t e = 0; e < rows.experts() && shown < 4; ++e) {
    const int64_t begin = rows.first_row(e) + rows.tokens[size_t(e)], end = rows.first_row(e + 1);
    int64_t first = -1, last = -1;
    for (int64_t r = begin; r < end; ++r) {
      if (!written(r)) continue;
      if (first < 0) first = r;
      last = r;
    }
    if (first < 0) continue;
    ++shown;
    what += (what.empty() ? "" : "; ") + rows_text(first, last - first + 1) + " (" +
            (rows.layout == GroupLayout::masked ? "beyond masked_m " + std::to_string(rows.tokens[size_t(e)]) +
                                                     " in expert " + std::to_string(e) + "'s slot"
                                               : "padding after expert " + std::to_string(e) + "'s tokens") +
            ")";
  }
  return what;
}

ErrorGrid expert_grid(const ExpertRows& rows, int64_t cols, int64_t tile, const std::string& what,
                      const std::function<bool(int64_t row, int64_t col)>& bad) {
  const int64_t tiles = (cols + tile - 1) / tile;
  std::vector<float> cells(size_t((rows.experts() + 1) * tiles), 0.0f);
  const std::vector<int32_t> of = rows.row_experts();
  for (int64_t r = 0; r < rows.rows(); ++r) {
    const int64_t e = of[size_t(r)] >= 0 ? of[size_t(r)] : rows.experts();
    for (int64_t c = 0; c < cols; ++c) cells[size_t(e * tiles + c / tile)] += bad(r, c);
  }
  return expert_grid(rows, tile, what, std::move(cells));
}

ErrorGrid expert_grid(const ExpertRows& rows, int64_t tile, const std::string& what, std::vector<float> cells) {
  const int64_t tiles = int64_t(cells.size()) / (rows.experts() + 1);
  return {"bad " + what + " by expert x column tile (" + std::to_string(tile) +
              " columns; the last row: rows that are not tokens)",
          "expert", "column tile", "bad " + what, rows.experts() + 1, tiles, std::move(cells)};
}

}  // namespace ulpgate::moe
