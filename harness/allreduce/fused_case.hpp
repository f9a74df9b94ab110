// An allreduce.rms / allreduce.rms-quant case: variant + world + the norm stage's dtype, shape,
// weight type and quantizer + distribution + seed. Its id is readable and round-trips:
//
//   allreduce.rms/flashinfer-1shot/w2/bf16/4x2048/w.bf16/normal/s1
//   allreduce.rms-quant/flashinfer-2shot/w4/bf16/5x2048/w.fp32/e4m3fn/token/normal/s1
//   allreduce.rms-quant/flashinfer-1shot/w2/bf16/4x2048/w.bf16/e4m3fn/static=0.05/normal/s1
//   op                 /variant         /wN/dtype/MxH /weights/[format/quantizer/]distribution/sN
//
// The segments after the weights are norm.rms-add-quant's (norm_case.hpp). Every rank's x, the
// residual (one tensor, the same on every rank, as tensor parallelism has it) and the weights are
// drawn from the id without its variant, so one-shot and two-shot reduce the same values.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "harness/allreduce/allreduce_case.hpp"
#include "harness/norm/norm_case.hpp"
#include "reference/allreduce/fused.hpp"

namespace ulpgate::allreduce {

struct FusedTensors {
  std::vector<std::vector<std::byte>> x;     // [world] raw M*H elements of dtype
  std::vector<std::byte> residual, weight;   // raw dtype; weights raw dtype or fp32
  std::vector<float> residual_values, weight_values;

  RawRanks raw_x() const { return {x.begin(), x.end()}; }
  // Rank r's element i (a 16-bit dtype's bits).
  uint16_t x_bits(size_t r, size_t i) const {
    uint16_t b;
    std::memcpy(&b, x[r].data() + 2 * i, 2);
    return b;
  }
};

struct FusedCase {
  FusedSpec spec;
  Distribution dist;
  uint64_t seed = 1;

  std::string id() const;
  static FusedCase parse(std::string_view id);  // throws UsageError naming the bad segment
  FusedTensors inputs() const;
  // The norm stage as a norm case (its id is the norm op's; its x is the all-reduce's sum).
  norm::Case norm_case() const;
};

// The two ops' names.
inline constexpr std::string_view kFusedOps[] = {"allreduce.rms", "allreduce.rms-quant"};
bool is_fused_id(std::string_view id);

// The reference: the all-reduce stage's sum (bits of dtype) and the norm stage's inputs and
// expected outputs on it.
struct FusedExpected {
  std::vector<uint32_t> sum;
  norm::Inputs norm_inputs;
  norm::Expected norm;
};
FusedExpected fused_expected(const FusedCase& c, const FusedTensors& t);

}  // namespace ulpgate::allreduce
