// Which oracles this build has, and the shared helpers.
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "reference/formats/oracles/oracle.hpp"

namespace ulpgate::oracles {

std::string_view source_name(Source s) {
  constexpr std::string_view names[] = {"bf16", "fp16", "fp32", "fp64"};
  return names[int(s)];
}

bool have_cuda_oracle() { return ULPGATE_HAVE_CUDA_ORACLE; }
bool have_llvm_oracle() { return ULPGATE_HAVE_LLVM_ORACLE; }
const char* cuda_oracle_absent_reason() {
  return "oracle (a) not built: /usr/local/cuda/include/cuda_fp8.h was not found at configure time";
}
const char* llvm_oracle_absent_reason() {
  return "oracle (b) not built: LLVM 19 (llvm-19-dev, APFloat) was not found at configure time";
}

// Absent oracles still link; asking for one is a programming error (check have_*_oracle()).
#if !ULPGATE_HAVE_CUDA_ORACLE
Oracle cuda_oracle() { throw std::logic_error(cuda_oracle_absent_reason()); }
#endif
#if !ULPGATE_HAVE_LLVM_ORACLE
Oracle llvm_oracle() { throw std::logic_error(llvm_oracle_absent_reason()); }
#endif

const std::vector<Oracle>& available_oracles() {
  static const std::vector<Oracle> all = [] {
    std::vector<Oracle> v;
#if ULPGATE_HAVE_CUDA_ORACLE
    v.push_back(cuda_oracle());
#endif
#if ULPGATE_HAVE_LLVM_ORACLE
    v.push_back(llvm_oracle());
#endif
    v.push_back(value_oracle());
    return v;
  }();
  return all;
}

double source_value(Source s, uint64_t bits) {
  float f;
  double d;
  switch (s) {
    case Source::bf16: return bf16_to_float(uint16_t(bits));
    case Source::fp16: return fp16_to_float(uint16_t(bits));
    case Source::fp32: {
      const uint32_t u = uint32_t(bits);
      std::memcpy(&f, &u, sizeof f);
      return f;
    }
    case Source::fp64: break;
  }
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

uint32_t core_convert(Source s, uint64_t bits, const Conversion& c) {
  if (s == Source::fp64) return encode(source_value(s, bits), c);
  return encode(float(source_value(s, bits)), c);
}

}  // namespace ulpgate::oracles
