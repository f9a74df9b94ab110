// Grouped GEMMs (mixture-of-experts): G experts, each a GEMM of spec/gemm.md over its own tokens,
// with its own B [N, K] and B scales. A's rows are grouped by expert in one of the two layouts
// real kernels read:
//   contiguous  (DeepGEMM m_grouped_*_contiguous): expert e's tokens at rows [first_row(e),
//               first_row(e) + tokens[e]), each expert's run padded to a multiple of `align` rows;
//               a row's expert in m_indices (-1: a padding row, not a token);
//   masked      (DeepGEMM m_grouped_*_masked): a fixed slot of slot_rows() rows per expert, the
//               first tokens[e] of them valid (masked_m), the rest not tokens.
// A's scales cover its rows as a dense [rows(), K] operand's (contiguous) or one expert slot's each
// (masked). Rows that are not tokens are neither read into a token's output nor written in D.
// The reference is the dense GEMM's, per expert: a grouped op is a composition, not a copy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reference/gemm/gemm.hpp"

namespace ulpgate::gemm {

enum class GroupLayout : uint8_t { contiguous, masked };
// The grouped op of a per-expert op: "moe.gemm" (gemm.block: 1x128 / 128x128 scales), "moe.gemm-mx"
// (gemm.mx: ue8m0 per 32 K); parse_grouped_op throws UsageError naming the choices.
std::string_view grouped_op_name(Op expert_op);
Op parse_grouped_op(std::string_view name);
std::string_view group_layout_name(GroupLayout l);
GroupLayout parse_group_layout(std::string_view name);  // throws UsageError naming the choices

struct GroupedSpec {
  Spec base;  // op, profile, formats, out, N and K of every expert (base.m is not used)
  GroupLayout layout = GroupLayout::contiguous;
  int64_t align = 128;          // contiguous: rows per run multiple; masked: slot rows multiple
  std::vector<int64_t> tokens;  // per expert

  int64_t experts() const { return int64_t(tokens.size()); }
  int64_t slot_rows() const;                 // masked: max tokens rounded up to align (at least align)
  int64_t first_row(int64_t expert) const;   // its first row of A and D
  int64_t rows() const;                      // rows of A and D, padding included
  Spec expert_spec(int64_t expert) const;    // base with M = its tokens
  std::vector<int32_t> row_experts() const;  // per row: its expert, -1 where it is not a token
  // Empty when valid, else what is wrong (the base's problem, no experts, negative tokens, align < 1).
  std::string problem() const;
  std::string_view op_name() const { return grouped_op_name(base.op); }
};

// Logical operands of every expert (gemm.hpp Operands with M = its tokens).
using ExpertOperands = std::vector<Operands>;

// The tensors a grouped kernel reads and writes. A [rows, K] codes, row-major; B the experts'
// weights back to back, each in the profile's layout; sa A's scale storage (contiguous: a dense
// [rows, K] operand's; masked: one slot's per expert, back to back); sb the experts' B scale
// storage back to back; m_indices [rows] (contiguous) or masked_m [G] (masked), int32; D [rows, N].
struct GroupedBuffers {
  std::span<const uint8_t> a, b, sa, sb;
  std::span<const int32_t> m_indices, masked_m;
  std::span<std::byte> d;
};

}  // namespace ulpgate::gemm
