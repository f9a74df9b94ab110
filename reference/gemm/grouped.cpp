#include "reference/gemm/grouped.hpp"

#include "reference/formats/name_table.hpp"

namespace ulpgate::gemm {
namespace {

constexpr NameTable<Op, 2> kGroupedOps{{{{Op::block, "moe.gemm"}, {Op::mx, "moe.gemm-mx"}}}};

}  // namespace

std::string_view grouped_op_name(Op expert_op) { return kGroupedOps.name(expert_op); }
Op parse_grouped_op(std::string_view name) { return kGroupedOps.parse(name, "grouped op"); }

std::string GroupedSpec::problem() const {
  Spec b = base;
  b.m = 0;
  if (std::string p = b.problem(); !p.empty()) return p;
  if (base.op != Op::block && base.op != Op::mx) return "a grouped GEMM's experts are gemm.block or gemm.mx";
  return rows_problem();
}

}  // namespace ulpgate::gemm
