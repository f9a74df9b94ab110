// Grouped quantization (mixture-of-experts): the activations of G experts, their rows grouped by
// expert (reference/moe/expert_rows.hpp), each expert's tokens quantized as its own dense case of
// the per-expert op (quant.group: 1 x gs groups, quant.mx: MXFP8), into the layout the grouped
// GEMM reads: codes [rows(), K] row-major, the scales part by part (contiguous: one [rows(), G]
// storage over every row; masked: one [slot_rows(), G] storage per expert, back to back). Rows
// that are not tokens are neither read nor written. A composition of the dense reference.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reference/moe/expert_rows.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::quant {

// "moe.quant" (quant.group), "moe.quant-mx" (quant.mx); parse_grouped_op throws UsageError.
std::string_view grouped_op_name(Op expert_op);
Op parse_grouped_op(std::string_view name);

struct GroupedSpec : moe::ExpertRows {
  Spec base;  // op, profile, format, K, gs, scale layout of every expert (base.m is not used)

  Spec expert_spec(int64_t expert) const { return moe::with_m(base, tokens[size_t(expert)]); }
  Spec part_spec() const { return moe::with_m(base, part_rows()); }  // one part of the scale storage
  int64_t groups() const { return base.k / base.gs; }
  int64_t part_bytes() const { return part_spec().scale_bytes(); }
  int64_t scale_bytes() const { return parts() * part_bytes(); }
  // Bytes one scale occupies: an fp32 word, or a ue8m0 byte (also inside a packed word).
  int64_t scale_size() const { return is_ue8m0_layout(base.layout) ? 1 : 4; }
  // Byte offset of scale (row, g) of physical row `row` in the grouped storage.
  int64_t scale_offset(int64_t row, int64_t g) const;
  // "" when valid, else what is wrong (the base's problem, the rows' problem, another op).
  std::string problem() const;
  std::string_view op_name() const { return grouped_op_name(base.op); }
};

// What a grouped kernel's buffers hold after it ran when they held `fill` before: expert e's
// rows its result (experts[e]: the dense op's over its tokens), every byte off the tokens
// `fill`, the layout's padding bytes where the layout has them.
struct GroupedResult {
  std::vector<uint8_t> codes, storage;
};
GroupedResult assemble_grouped(const GroupedSpec& s, std::span<const Result> experts, uint8_t fill);
// Its scale storage before any expert's scales are placed: every part's padding bytes as the
// layout defines them, `fill` over the scales of rows that are not tokens (placeholders in the
// tokens' scales). Judges that take the experts one at a time check the padding against it.
std::vector<uint8_t> grouped_storage_frame(const GroupedSpec& s, uint8_t fill);

// The profile's arithmetic per expert on x [rows(), K] (fp32 values), assembled.
GroupedResult quantize_grouped(const GroupedSpec& s, std::span<const float> x, uint8_t fill);

}  // namespace ulpgate::quant
