// Tallies per-element events (bad codes, bad outputs) over a rows x cols grid for the report's
// error maps (case_result.hpp ErrorGrid). A grid larger than kMaxGridSide a side is folded: fine
// cell (r, c) lands in (r / row_fold, c / col_fold), so a 32768-row map stays a picture, not a dump.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/case_result.hpp"

namespace ulpgate {

inline constexpr int64_t kMaxGridSide = 64;

class GridTally {
 public:
  GridTally(int64_t rows, int64_t cols)
      : row_fold_(fold(rows)), col_fold_(fold(cols)), rows_(ceil_div(rows, row_fold_)), cols_(ceil_div(cols, col_fold_)),
        cells_(size_t(rows_ * cols_), 0.0f) {}

  void add(int64_t row, int64_t col) {
    ++cells_[size_t((row / row_fold_) * cols_ + col / col_fold_)];
    any_ = true;
  }
  bool any() const { return any_; }

  // The labels name the fold ("row (x4)") when cells were merged.
  ErrorGrid grid(std::string title, const std::string& row_label, const std::string& col_label,
                 std::string value_label) const {
    return {std::move(title), folded(row_label, row_fold_), folded(col_label, col_fold_), std::move(value_label),
            rows_, cols_, cells_};
  }

 private:
  static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
  static int64_t fold(int64_t n) { return std::max<int64_t>(1, ceil_div(n, kMaxGridSide)); }
  static std::string folded(const std::string& label, int64_t f) {
    return f == 1 ? label : label + " (" + std::to_string(f) + " per cell)";
  }

  int64_t row_fold_, col_fold_, rows_, cols_;
  std::vector<float> cells_;
  bool any_ = false;
};

}  // namespace ulpgate
