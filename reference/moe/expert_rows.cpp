#include "reference/moe/expert_rows.hpp"

#include <algorithm>

#include "reference/formats/name_table.hpp"

namespace ulpgate::moe {
namespace {

constexpr NameTable<GroupLayout, 2> kLayouts{{{{GroupLayout::contiguous, "contiguous"}, {GroupLayout::masked, "masked"}}}};

int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

}  // namespace

std::string_view group_layout_name(GroupLayout l) { return kLayouts.name(l); }
GroupLayout parse_group_layout(std::string_view name) { return kLayouts.parse(name, "group layout"); }

int64_t ExpertRows::slot_rows() const {
  const int64_t most = tokens.empty() ? 0 : *std::ranges::max_element(tokens);
  return std::max(align, round_up(most, align));
}

int64_t ExpertRows::first_row(int64_t expert) const {
  if (layout == GroupLayout::masked) return expert * slot_rows();
  int64_t row = 0;
  for (int64_t e = 0; e < expert; ++e) row += round_up(tokens[size_t(e)], align);
  return row;
}

int64_t ExpertRows::rows() const { return first_row(experts()); }

std::vector<int32_t> ExpertRows::row_experts() const {
  std::vector<int32_t> of(size_t(rows()), -1);
  for (int64_t e = 0; e < experts(); ++e) std::fill_n(of.begin() + first_row(e), tokens[size_t(e)], int32_t(e));
  return of;
}

std::vector<int32_t> ExpertRows::masked_m() const { return {tokens.begin(), tokens.end()}; }

std::string ExpertRows::rows_problem() const {
  if (tokens.empty()) return "no experts";
  if (align < 1) return "the row alignment must be at least 1";
  if (std::ranges::any_of(tokens, [](int64_t t) { return t < 0; })) return "an expert has a negative number of tokens";
  return "";
}

std::vector<uint8_t> pack_part_scales(const ExpertRows& r, quant::Layout layout, int64_t groups,
                                      std::span<const float> scales) {
  const int64_t rows = r.part_rows();
  std::vector<uint8_t> out;
  for (int64_t p = 0; p < r.parts(); ++p) {
    const std::vector<uint8_t> part = quant::pack(layout, {rows, groups}, scales.subspan(size_t(p * rows * groups), size_t(rows * groups)));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

}  // namespace ulpgate::moe
