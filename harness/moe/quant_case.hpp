// A grouped quantization case (reference/quant/grouped.hpp) over a routing histogram. Its id is
// readable and round-trips (parse(id()).id() == id()):
//
//   moe.quant/deepgemm/e4m3fn/bf16/contiguous/8x300x512/gs128/col-tma/normal/s1
//   moe.quant-mx/ocp-mx/e4m3fn/bf16/masked.a64/8x300x512/gs32/mx-swizzle-128x4/normal/s1
//   op       /profile/format/input/layout[.aN]/GxTxK  /group/scales   /distribution/seed
//
// Everything but the layout and GxTxK is a quant.group (moe.quant) or quant.mx (moe.quant-mx)
// case's; the histogram is moe.gemm's (route()). Expert e's tokens are the dense case of its M
// with seed s * 1000003 + e; rows that are not tokens hold NaN, so a kernel that reads one into a
// token's group, or quantizes it, shows it.
#pragma once

#include <string>
#include <vector>

#include "harness/quant/quant_case.hpp"
#include "reference/quant/grouped.hpp"

namespace ulpgate::moe {

struct QuantInputs {
  std::vector<std::byte> raw;    // [rows, K] in the input dtype, what the kernel reads
  std::vector<int32_t> row_map;  // m_indices (contiguous) or masked_m (masked)
};

struct QuantCase {
  quant::GroupedSpec spec;
  Format input = Format::bf16;
  Distribution dist;
  uint64_t seed = 1;
  int64_t tokens = 0;  // T

  std::string id() const;
  static QuantCase parse(std::string_view id);  // throws UsageError naming the bad segment
  quant::Case expert_case(int64_t e) const;     // expert e as a dense case (its tokens as M)
  // Bit-reproducible from the id alone: each expert's rows made as its dense case's input.
  QuantInputs inputs() const;
  // Expert e's tokens as its dense case's inputs: its rows of in.raw, with their fp32 values where
  // asked (a device reference reads the raw bytes; the comparator widens what it needs).
  quant::Inputs expert_inputs(const QuantInputs& in, int64_t e, bool values = true) const;
};

}  // namespace ulpgate::moe
