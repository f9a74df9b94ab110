// An RMSNorm case: op + profile + dtype + shape (+ quantization format, group and scale layout for
// rms-quant) + distribution + seed. Its id is readable and round-trips (parse(id()).id() == id()):
//
//   norm.rms/vllm/bf16/4x7168/normal/s1
//   norm.rms-add/aiter/fp16/3x1025/normal_sigma=2/s1
//   norm.rms-quant/vllm/bf16/4x7168/e4m3fn/token/normal/s1                  per-token scales
//   norm.rms-quant/vllm/bf16/4x7168/e4m3fn/token.ub=2/normal/s1             per token, scale_ub
//   norm.rms-add-quant/vllm/bf16/4x7168/e4m3fn/static=0.0123/normal/s1      a static scale
//   norm.rms-quant/vllm/bf16/4x7168/e4m3fn/gs128/ue8m0-packed/normal/s1     per-group, any layout
//   op            /profile/dtype/MxH/format/group/scales[.ue8m0]/distribution/sN
//
// Inputs depend on the id without its profile segment, so every profile sees the same x, residual
// and weight for the same shape and distribution: profile divergences (R18) compare like with like.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "harness/core/generators.hpp"
#include "kernels/portable/input_rows.hpp"
#include "reference/norm/norm.hpp"

namespace ulpgate::norm {

struct Tensors {
  std::vector<std::byte> x, residual, weight;  // raw dtype elements, what a kernel reads
  Inputs values;                               // the same values widened exactly to fp32
};

// raw_inputs' x and residual made a range of rows at a time (the residual: no rows where the op
// has none), and the weight whole (small), for a kernel that copies them to its device in slabs.
struct RowInputs {
  InputRows x, residual;
  std::vector<std::byte> weight;
  std::vector<float> weight_values;
  Tensors whole() const;  // every row made here
};

struct Case {
  Spec spec;
  Distribution dist;
  uint64_t seed = 1;

  std::string id() const;
  static Case parse(std::string_view id);  // throws UsageError naming the bad segment
  Tensors inputs() const;                  // bit-reproducible from the id alone
  Tensors raw_inputs() const;              // the same without x's and the residual's fp32 values
  RowInputs input_rows() const;            // raw_inputs a range of rows at a time
};

// Weights are drawn from this distribution (gains near 1, like trained RMSNorm weights).
inline constexpr std::string_view kWeightDistribution = "uniform_lo=0.5_hi=1.5";

struct Expected {
  Result profile;
  Ideal ideal;
};
Expected expected(const Case& c, const Inputs& in);

}  // namespace ulpgate::norm
