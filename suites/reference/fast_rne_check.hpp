// FastRneCast<F> against the generic core encode<F>, input by input: the fast path must give the
// same code for every fp32 bit pattern (NaN payloads and signed zeros included).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/formats/formats.hpp"

namespace ulpgate::fast_rne_check {

// Every conversion with a fast path.
inline std::vector<Conversion> fast_conversions() {
  std::vector<Conversion> out;
  for (Format f : kEightBitFormats)
    for (Overflow o : {Overflow::satfinite, Overflow::nosat})
      if (const Conversion c{f, o, Rounding::rne}; has_fast_rne(c)) out.push_back(c);
  return out;
}

inline std::string conversion_test_name(const ::testing::TestParamInfo<Conversion>& info) {
  std::string s = info.param.str();
  for (char& ch : s)
    if (ch == ':' || ch == '-') ch = '_';
  return s;
}

// Compares fast and generic on the fp32 patterns bits_of(i), i in [0, n); fails on the first few
// mismatches with the input and both codes. Returns the number of inputs checked.
template <class BitsOf>
uint64_t expect_fast_matches_core(const Conversion& c, uint64_t n, BitsOf&& bits_of) {
  return dispatch(c.format, [&](auto f) -> uint64_t {
    constexpr Format F = decltype(f)::value;
    if constexpr (has_fast_rne<F>()) {
      const FastRneCast<F> fast(c.overflow);
      uint64_t mismatches = 0;
      for (uint64_t i = 0; i < n; ++i) {
        const float x = std::bit_cast<float>(uint32_t(bits_of(i)));
        const uint32_t want = encode<F>(x, c), got = fast(x);
        if (want != got && ++mismatches <= 8)
          ADD_FAILURE() << c.str() << ": fp32 0x" << std::hex << std::bit_cast<uint32_t>(x) << " (" << x
                        << ") core 0x" << want << " fast 0x" << got;
      }
      EXPECT_EQ(mismatches, 0u) << c.str();
      return n;
    } else {
      ADD_FAILURE() << c.str() << " has no fast path";
      return 0;
    }
  });
}

}  // namespace ulpgate::fast_rne_check
