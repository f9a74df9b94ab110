// A GEMM case: op + profile + operand formats (+ ue8m0 block scales) + output + shape + input +
// seed. Its id is readable and round-trips (parse(id()).id() == id()):
//
//   gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/128x7168x2048/normal/s1
//   gemm.block/deepgemm/e4m3fn.e4m3fn.ue8m0/bf16/128x7168x2048/normal/s1   power-of-two block scales
//   gemm.tensor/cublaslt/e4m3fn.e5m2/fp32/7x256x4096/near-overflow_spread=0/s1
//   op        /profile /A.B[.ue8m0]  /out /MxNxK        /input  /sN
//
// The input is a distribution of generators.hpp (the real values, quantized as producers do:
// inputs.hpp) or a structure over standard normal values: `cancel` (the second half of K cancels
// the first exactly: D = 0), `zero-blocks` (some scale blocks of A and of B all zero) or
// `scale-edges` (scales at the edges of their encoding, inputs.cpp: ue8m0 0x00 = 2^-127, 0xFE =
// 2^127 and 0xFF = NaN; fp32 subnormals, 2^127 and NaN).
// Inputs depend on the shape, input and seed only, so every op, profile, format and output of a
// shape quantizes the same real values.
#pragma once

#include <string>

#include "harness/core/generators.hpp"
#include "reference/gemm/gemm.hpp"
#include "reference/gemm/layout.hpp"

namespace ulpgate::gemm {

enum class Structure : uint8_t { none, cancel, zero_blocks, scale_edges };

struct Input {
  Structure structure = Structure::none;
  Distribution dist;  // standard normal under a structure

  std::string str() const;
  static Input parse(std::string_view text);  // throws UsageError
};

// The K-blocks the harness looks at (zero-blocks inputs, the K-block error map): the op's scale
// blocks, or 128-K blocks where the scales apply in the epilogue (gemm.tensor, gemm.rowwise).
inline int64_t harness_kblock(const Geometry& g) { return g.epilogue_scales() ? 128 : g.kblock; }

// One operand as a producer hands it over: its codes and its logical scales.
struct Quantized {
  std::vector<uint8_t> codes;
  std::vector<float> scales;
};

struct Case {
  Spec spec;
  Input input;
  uint64_t seed = 1;

  std::string id() const;
  static Case parse(std::string_view id);  // throws UsageError naming the bad segment
  Operands operands() const;               // bit-reproducible from the id alone
  // One of operands()' two alone, the same bits (a grouped case makes its experts' weights again
  // where it needs them instead of holding every expert's).
  Quantized operand(Which which) const;
};

}  // namespace ulpgate::gemm
