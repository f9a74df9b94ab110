#include "reference/gemm/grouped.hpp"

#include <algorithm>

#include "reference/formats/name_table.hpp"

namespace ulpgate::gemm {
namespace {

constexpr NameTable<Op, 2> kGroupedOps{{{{Op::block, "moe.gemm"}, {Op::mx, "moe.gemm-mx"}}}};
constexpr NameTable<GroupLayout, 2> kLayouts{{{{GroupLayout::contiguous, "contiguous"}, {GroupLayout::masked, "masked"}}}};

int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

}  // namespace

std::string_view grouped_op_name(Op expert_op) { return kGroupedOps.name(expert_op); }
Op parse_grouped_op(std::string_view name) { return kGroupedOps.parse(name, "grouped op"); }

std::string_view group_layout_name(GroupLayout l) { return kLayouts.name(l); }
GroupLayout parse_group_layout(std::string_view name) { return kLayouts.parse(name, "group layout"); }

int64_t GroupedSpec::slot_rows() const {
  const int64_t most = tokens.empty() ? 0 : *std::ranges::max_element(tokens);
  return std::max(align, round_up(most, align));
}

int64_t GroupedSpec::first_row(int64_t expert) const {
  if (layout == GroupLayout::masked) return expert * slot_rows();
  int64_t row = 0;
  for (int64_t e = 0; e < expert; ++e) row += round_up(tokens[size_t(e)], align);
  return row;
}

int64_t GroupedSpec::rows() const { return first_row(experts()); }

Spec GroupedSpec::expert_spec(int64_t expert) const {
  Spec s = base;
  s.m = tokens[size_t(expert)];
  return s;
}

std::vector<int32_t> GroupedSpec::row_experts() const {
  std::vector<int32_t> of(size_t(rows()), -1);
  for (int64_t e = 0; e < experts(); ++e)
    std::fill_n(of.begin() + first_row(e), tokens[size_t(e)], int32_t(e));
  return of;
}

std::string GroupedSpec::problem() const {
  Spec b = base;
  b.m = 0;
  if (std::string p = b.problem(); !p.empty()) return p;
  if (base.op != Op::block && base.op != Op::mx) return "a grouped GEMM's experts are gemm.block or gemm.mx";
  if (tokens.empty()) return "no experts";
  if (align < 1) return "the row alignment must be at least 1";
  if (std::ranges::any_of(tokens, [](int64_t t) { return t < 0; })) return "an expert has a negative number of tokens";
  return "";
}

}  // namespace ulpgate::gemm
