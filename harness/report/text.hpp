// How comparators print numbers and codes in their first-bad lines and diagnoses.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ulpgate::text {

// A value with 9 significant digits: enough to tell any two fp32 values apart.
inline std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

// A value as short as printf's %g makes it: 1e-10, 0.0001 (stories naming constants).
inline std::string short_num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// A code in hex with `digits` digits: 0x7E (fp8), 0x3F80 (bf16).
inline std::string hex(uint32_t v, int digits) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%0*X", digits, v);
  return b;
}

}  // namespace ulpgate::text
