// An all-reduce case: variant + dtype + world size + view + placement + input + seed. Its id is
// readable and round-trips (parse(id()).id() == id()):
//
//   allreduce/custom-1shot/bf16/w4/6152/out-of-place/normal/s1
//   allreduce/custom-auto/fp32/w8/3076@12/in-place/exact/s1        a view at element offset 12
//   allreduce/nccl/bf16/w2/4096@8+24/out-of-place/normal/s1        ... with 24 storage elements
//   op       /variant     /dtype/wN/count[@offset[+tail]]/placement/input/sN    after it
//
// The input is a distribution of generators.hpp, or `exact`: exactly summable values (every rank
// an integer below 2^p / 8 times a per-element power of two, p the dtype's significand bits, so
// every partial sum in any order is representable: the NCCL test tool's method; a bit-exact tier
// for every implementation). Inputs depend on dtype, world, count, input and seed only, so every
// variant, view and placement reduces the same values.
#pragma once

#include <string>
#include <vector>

#include "harness/core/generators.hpp"
#include "reference/allreduce/allreduce.hpp"

namespace ulpgate::allreduce {

struct Case {
  Spec spec;
  std::string input = "normal";  // "exact" or a Distribution's text
  uint64_t seed = 1;

  bool exact_inputs() const { return input == "exact"; }
  std::string id() const;
  static Case parse(std::string_view id);  // throws UsageError naming the bad segment
  Inputs inputs() const;                   // [world][count] element bits, from the id alone
};

// A generated tensor's elements as bits of dtype (bf16 / fp16 in the low 16 bits).
std::vector<uint32_t> element_bits(const RawTensor& t, Format dtype);

// "6152", "6152@12", "6152@12+24".
std::string view_text(const View& v);

}  // namespace ulpgate::allreduce
