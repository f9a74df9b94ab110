// Independent oracles for the formats core (tests and `ulpgate formats verify` only; never
// linked into the core). Each answers "what does this conversion give?" for the modes it
// defines, from its own code: (a) CUDA's host conversion functions, (b) LLVM APFloat, (c) a
// value-space rounding written from spec/formats.md.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "reference/formats/formats.hpp"

namespace ulpgate::oracles {

// The source format of an input given as raw bits (bf16/fp16 are converted natively where the
// oracle can, not widened by the caller).
enum class Source : uint8_t { bf16, fp16, fp32, fp64 };
std::string_view source_name(Source s);

struct Oracle {
  std::string_view name;
  bool (*defines)(const Conversion&);                         // does this oracle cover the mode?
  uint32_t (*convert)(Source, uint64_t bits, const Conversion&);  // only where defines() holds
};

// The oracles built into this binary, in the order (a), (b), (c); (a) and (b) are absent when
// their headers/libraries were not found at configure time.
const std::vector<Oracle>& available_oracles();
bool have_cuda_oracle();
bool have_llvm_oracle();
const char* cuda_oracle_absent_reason();  // why (a) is missing, for skip messages
const char* llvm_oracle_absent_reason();

Oracle cuda_oracle();   // only when have_cuda_oracle()
Oracle llvm_oracle();   // only when have_llvm_oracle()
Oracle value_oracle();  // (c), double instantiation (exact for all four sources, see value_oracle.hpp)
Oracle exact_value_oracle();  // (c), Boost.Multiprecision instantiation (proof level, slower)

// The input as a double (exact for every source).
double source_value(Source s, uint64_t bits);
// The core's answer for the same input, through the core's own entry points.
uint32_t core_convert(Source s, uint64_t bits, const Conversion& c);

}  // namespace ulpgate::oracles
