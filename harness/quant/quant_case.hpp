// A quantization case: op + profile + format + input dtype + shape + group size + scale layout
// + distribution + seed. Its id is readable and round-trips (parse(id()).id() == id()):
//
//   quant.group/vllm/e4m3fn/bf16/31x640/gs128/row.ue8m0/normal_sigma=2/s1
//   op         /profile/format/input/MxK/group/scales   /distribution  /seed
//   quant.tensor/vllm/e4m3fn/bf16/31x640/static=0.015625/row/normal/s1   (or .../dynamic/...)
//   quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/col-tma/normal/s1        (input [7, 2048])
//
// The scales segment is a layout name, with ".ue8m0" when fp32 scales are rounded to powers of
// two (ue8m0 layouts and MX always are). Distributions use the grammar of generators.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "harness/core/generators.hpp"
#include "kernels/portable/input_rows.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::quant {

struct Inputs {
  std::vector<std::byte> raw;  // in the input dtype (what a kernel reads)
  std::vector<float> values;   // the same values widened exactly to fp32
};

struct Case {
  Spec spec;
  Format input = Format::bf16;  // bf16, fp16 or fp32
  Distribution dist;
  uint64_t seed = 1;

  std::string id() const;
  static Case parse(std::string_view id);  // throws UsageError naming the bad segment
  Inputs inputs() const;                   // bit-reproducible from the id alone
  Inputs raw_inputs() const;               // the same without the fp32 values (a device reference's)
  InputRows input_rows() const;  // raw_inputs' bytes made a range of rows at a time
};

// Reference results of a case: the profile's own arithmetic and the exact-quotient ideal.
struct Expected {
  Result profile;
  std::vector<uint8_t> ideal;
  std::vector<float> y;  // quant.silu-mul: the values quantized ([M * K], the profile's fp32 y)
};
Expected expected(const Case& c, const Inputs& in);

}  // namespace ulpgate::quant
