// Test 1: all 256 codes of every 8-bit format decode to the value the encoding rules of
// spec/formats.md give. The expected table is derived here from the rules and the spec's table
// of facts, independently of the implementation under test.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "reference/formats/formats.hpp"

using namespace ulpgate;

namespace {

// One row of the table in spec/formats.md.
struct SpecRow {
  Format format;
  int ebits, mbits, bias;
  double max_finite;
  uint32_t max_code;
  double min_normal, min_subnormal;  // min_subnormal 0: none
  std::vector<uint32_t> nan_codes, inf_codes;
};

const std::vector<SpecRow>& spec_rows() {
  static const std::vector<SpecRow> rows = {
      {Format::e4m3fn, 4, 3, 7, 448, 0x7E, 0x1p-6, 0x1p-9, {0x7F, 0xFF}, {}},
      {Format::e5m2, 5, 2, 15, 57344, 0x7B, 0x1p-14, 0x1p-16, {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}, {0x7C, 0xFC}},
      {Format::e4m3fnuz, 4, 3, 8, 240, 0x7F, 0x1p-7, 0x1p-10, {0x80}, {}},
      {Format::e5m2fnuz, 5, 2, 16, 57344, 0x7F, 0x1p-15, 0x1p-17, {0x80}, {}},
      {Format::ue8m0, 8, 0, 127, 0x1p127, 0xFE, 0x1p-127, 0, {0xFF}, {}},
  };
  return rows;
}

bool contains(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The encoding rule: sign, biased exponent field, mantissa field; e = 0 is subnormal when the
// format has a mantissa; ue8m0 is 2^(code - 127).
double rule_value(const SpecRow& row, uint32_t code) {
  if (row.mbits == 0) return std::ldexp(1.0, int(code) - row.bias);
  const bool negative = code & 0x80;
  const int e = int(code >> row.mbits) & ((1 << row.ebits) - 1);
  const int m = int(code) & ((1 << row.mbits) - 1);
  const double mag = e == 0 ? std::ldexp(m, 1 - row.bias - row.mbits)
                            : std::ldexp((1 << row.mbits) + m, e - row.bias - row.mbits);
  return negative ? -mag : mag;
}

CodeClass rule_class(const SpecRow& row, uint32_t code) {
  if (contains(row.nan_codes, code)) return CodeClass::nan;
  if (contains(row.inf_codes, code)) return CodeClass::inf;
  const double v = rule_value(row, code);
  if (v == 0) return CodeClass::zero;
  return std::fabs(v) < row.min_normal ? CodeClass::subnormal : CodeClass::normal;
}

class DecodeTable : public ::testing::TestWithParam<SpecRow> {};

TEST_P(DecodeTable, EveryCodeDecodesToTheRuleValue) {
  const SpecRow& row = GetParam();
  for (uint32_t code = 0; code < 256; ++code) {
    SCOPED_TRACE("code 0x" + std::to_string(code));
    const CodeClass expected = rule_class(row, code);
    EXPECT_EQ(classify(row.format, code), expected);
    const double v = decode(row.format, code);
    if (expected == CodeClass::nan) {
      EXPECT_TRUE(std::isnan(v));
    } else if (expected == CodeClass::inf) {
      EXPECT_EQ(v, (code & 0x80) ? -INFINITY : INFINITY);
    } else {
      EXPECT_EQ(v, rule_value(row, code));
      EXPECT_EQ(std::signbit(v), row.mbits != 0 && (code & 0x80) != 0);
      EXPECT_EQ(double(decode_f32(row.format, code)), v);  // every code is exact in fp32
    }
  }
}

TEST_P(DecodeTable, SpecTableFacts) {
  const SpecRow& row = GetParam();
  EXPECT_EQ(decode(row.format, row.max_code), row.max_finite);
  double largest = 0, smallest_normal = INFINITY, smallest_positive = INFINITY;
  for (uint32_t code = 0; code < 256; ++code) {
    const double v = decode(row.format, code);
    if (!std::isfinite(v)) continue;
    largest = std::max(largest, v);
    if (v > 0) smallest_positive = std::min(smallest_positive, v);
    if (v > 0 && classify(row.format, code) == CodeClass::normal) smallest_normal = std::min(smallest_normal, v);
  }
  EXPECT_EQ(largest, row.max_finite);
  EXPECT_EQ(smallest_normal, row.min_normal);
  EXPECT_EQ(smallest_positive, row.min_subnormal ? row.min_subnormal : row.min_normal);
  const FormatInfo fi = info(row.format);
  EXPECT_TRUE(is_nan(row.format, fi.canonical_nan));
  EXPECT_TRUE(contains(row.nan_codes, fi.canonical_nan));
}

TEST(DecodeTable, FnuzIsHalfOfOcp) {  // spec: an fnuz byte other than 0x80 is half the OCP value
  for (uint32_t code = 0; code < 256; ++code) {
    if (code == 0x80) continue;
    if (!is_nan(Format::e4m3fn, code)) {
      EXPECT_EQ(decode(Format::e4m3fnuz, code), decode(Format::e4m3fn, code) / 2);
    }
    if (std::isfinite(decode(Format::e5m2, code))) {
      EXPECT_EQ(decode(Format::e5m2fnuz, code), decode(Format::e5m2, code) / 2);
    }
  }
}

TEST(DecodeTable, E5m2IsTheTopByteOfBinary16) {
  for (uint32_t code = 0; code < 256; ++code) {
    const double half = decode(Format::fp16, code << 8);
    if (std::isnan(half)) EXPECT_TRUE(is_nan(Format::e5m2, code));
    else EXPECT_EQ(decode(Format::e5m2, code), half);
  }
}

TEST(DecodeTable, Ue8m0ZeroIsTheFp32Subnormal) {
  EXPECT_EQ(std::bit_cast<uint32_t>(decode_f32(Format::ue8m0, 0)), 0x00400000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(decode_f32(Format::ue8m0, 1)), 1u << 23);
}

std::string row_name(const ::testing::TestParamInfo<SpecRow>& p) {
  return std::string(format_name(p.param.format));
}
INSTANTIATE_TEST_SUITE_P(Formats, DecodeTable, ::testing::ValuesIn(spec_rows()), row_name);

}  // namespace
