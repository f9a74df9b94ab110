// Internals shared by the ideal and the model replay (not part of the API).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <thread>
#include <vector>

#include "reference/gemm/gemm.hpp"
#include "reference/parallel.hpp"

namespace ulpgate::gemm::detail {

// 2^e as a double, built from its exponent bits (spec/gemm.md: never pow/exp2). Normal range only.
constexpr double pow2(int e) { return std::bit_cast<double>(uint64_t(e + 1023) << 52); }

// floor(log2 |x|) of a finite nonzero double, from its exponent bits (subnormal doubles never
// occur here: every value is an fp8 product, an fp32 value or a sum of them).
inline int exponent_of(double x) { return int((std::bit_cast<uint64_t>(x) >> 52) & 0x7FF) - 1023; }

// What the arithmetic needs of each of the 256 codes of an fp8 format.
struct CodeTable {
  std::array<double, 256> value;  // exact value (NaN / Inf as such)
  std::array<int, 256> exponent;  // max(floor(log2 |v|), emin); kZero for zeros
  std::array<int, 256> fp16_exponent, bf16_exponent;  // the same value converted (exactly) to fp16 / bf16
  std::array<bool, 256> finite;
  int emin, mbits;
  static constexpr int kZero = -16000;  // far below any real exponent (never a step's maximum),
                                        // and twice it still fits int16 (step.hpp)
  const std::array<int, 256>& exponents(Exponents view) const {
    return view == Exponents::fp16 ? fp16_exponent : view == Exponents::bf16 ? bf16_exponent : exponent;
  }
};
const CodeTable& code_table(Format f);  // fp8 formats only

// An fp8 operand as integers in units of its quantum 2^unit_exp = 2^(emin - mbits), split by
// magnitude into parts whose products and block sums are exact in fp64: a part's values are
// multiples of its `quantum` below `max`; a pair of parts is exact over L terms when
// L max_a max_b <= 2^53 q_a q_b (every partial sum, in any order, is then an integer multiple of
// q_a q_b below 2^53 q_a q_b). The gemm ideal's block sums and the device ideal use it.
struct ExactPart {
  double from, to;  // |v| in [from, to) (units); NaN and Inf go to the last part
  double quantum, max;
};
struct SplitOperand {
  std::vector<ExactPart> parts;
  std::vector<std::array<double, 256>> value;  // per part, per code: its value in units, or 0
  int unit_exp;
};
SplitOperand split_operand(Format f);  // fp8 formats only
// The most terms over which every pair of parts of a and b sums exactly in fp64.
int64_t exact_sum_length(const SplitOperand& a, const SplitOperand& b);

using ulpgate::parallel_for;

// Whether output (m, n) touches a NaN/Inf code or scale, and then its IEEE double evaluation of D
// (model.hpp: the untested edge every result shares).
class NonFinite {
 public:
  NonFinite(const Spec& spec, const Operands& in);
  bool touches(int64_t m, int64_t n) const { return row_a_[size_t(m)] || row_b_[size_t(n)]; }
  double ieee_value(int64_t m, int64_t n) const;

 private:
  const Spec& spec_;
  const Operands& in_;
  Geometry g_;
  std::vector<char> row_a_, row_b_;  // a row's codes or its scale row hold a NaN/Inf
};

// Output bits of format `out` (bf16 or fp32) for a double, RNE with Inf on overflow.
uint32_t round_to(Format out, double v);

}  // namespace ulpgate::gemm::detail
