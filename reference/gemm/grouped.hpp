// Grouped GEMMs (mixture-of-experts): G experts, each a GEMM of spec/gemm.md over its own tokens,
// with its own B [N, K] and B scales; A's and D's rows grouped by expert in the contiguous or
// masked layout (reference/moe/expert_rows.hpp). A's scales are stored part by part (contiguous: a
// dense [rows(), K] operand's; masked: one slot's per expert). Rows that are not tokens are neither
// read into a token's output nor written in D.
// The reference is the dense GEMM's, per expert: a grouped op is a composition, not a copy.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "reference/gemm/gemm.hpp"
#include "reference/moe/expert_rows.hpp"

namespace ulpgate::gemm {

// The grouped op of a per-expert op: "moe.gemm" (gemm.block: 1x128 / 128x128 scales), "moe.gemm-mx"
// (gemm.mx: ue8m0 per 32 K); parse_grouped_op throws UsageError naming the choices.
std::string_view grouped_op_name(Op expert_op);
Op parse_grouped_op(std::string_view name);

struct GroupedSpec : moe::ExpertRows {
  Spec base;  // op, profile, formats, out, N and K of every expert (base.m is not used)

  Spec expert_spec(int64_t expert) const { return moe::with_m(base, tokens[size_t(expert)]); }
  // Empty when valid, else what is wrong (the base's problem, the rows' problem).
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

// The experts' weights made part by part, for a kernel whose B need not be held whole on the host
// (7.5 GB for 256 experts of 4096 x 7168): fill(first, count, b, sb) writes experts [first, first +
// count)'s B (count N K bytes, the profile's layout) and B scale storage (count sb_bytes) as
// GroupedBuffers holds them back to back; the same bytes whatever the parts.
struct ExpertWeights {
  int64_t sb_bytes = 0;  // one expert's B scale storage
  std::function<void(int64_t first, int64_t count, std::span<uint8_t> b, std::span<uint8_t> sb)> fill;
};

}  // namespace ulpgate::gemm
