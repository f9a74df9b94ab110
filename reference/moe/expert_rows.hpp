// The rows of a grouped (mixture-of-experts) tensor: G experts' tokens in one of the two layouts
// real kernels read and write, shared by every grouped op (moe.gemm's A and D, moe.quant's input,
// codes and scales):
//   contiguous  (DeepGEMM m_grouped_*_contiguous): expert e's tokens at rows [first_row(e),
//               first_row(e) + tokens[e]), each expert's run padded to a multiple of `align` rows;
//               a row's expert in m_indices (-1: a padding row, not a token);
//   masked      (DeepGEMM m_grouped_*_masked): a fixed slot of slot_rows() rows per expert, the
//               first tokens[e] of them valid (masked_m), the rest not tokens.
// Per-row scales are stored per part: one part of rows() rows (contiguous: a dense operand's
// storage over every row) or one part per expert slot (masked), back to back.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/quant/layout.hpp"

namespace ulpgate::moe {

enum class GroupLayout : uint8_t { contiguous, masked };
std::string_view group_layout_name(GroupLayout l);
GroupLayout parse_group_layout(std::string_view name);  // throws UsageError naming the choices

struct ExpertRows {
  GroupLayout layout = GroupLayout::contiguous;
  int64_t align = 128;          // contiguous: rows per run multiple; masked: slot rows multiple
  std::vector<int64_t> tokens;  // per expert

  int64_t experts() const { return int64_t(tokens.size()); }
  int64_t slot_rows() const;                 // masked: max tokens rounded up to align (at least align)
  int64_t first_row(int64_t expert) const;   // its first row
  int64_t rows() const;                      // every row, padding included
  std::vector<int32_t> row_experts() const;  // per row: its expert, -1 where it is not a token
  std::vector<int32_t> masked_m() const;     // per expert: its tokens (the masked layout's row map)
  // Scale storage: parts() parts of part_rows() rows each.
  int64_t parts() const { return layout == GroupLayout::masked ? experts() : 1; }
  int64_t part_rows() const { return layout == GroupLayout::masked ? slot_rows() : rows(); }
  // "" when valid, else what is wrong (no experts, negative tokens, align < 1).
  std::string rows_problem() const;
};

// A grouped op's dense spec over m rows (an expert's tokens, one part of the scale storage).
template <class Spec>
Spec with_m(Spec base, int64_t m) {
  base.m = m;
  return base;
}

// Scales [rows(), G] (row-major) stored part by part in `layout` (quant::pack per part).
std::vector<uint8_t> pack_part_scales(const ExpertRows& r, quant::Layout layout, int64_t groups,
                                      std::span<const float> scales);

}  // namespace ulpgate::moe
