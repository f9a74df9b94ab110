#include <gtest/gtest.h>
#include "reference/formats/formats.hpp"
using namespace ulpgate;
TEST(Formats, Smoke) {
  const Conversion sat = Conversion::parse("e4m3fn:satfinite");
  EXPECT_EQ(encode(448.0f, sat), 0x7Eu);
  EXPECT_EQ(encode(464.0f, sat), 0x7Eu);
  EXPECT_EQ(encode(464.0f, Conversion::parse("e4m3fn:nosat")), 0x7Eu);
  EXPECT_EQ(encode(465.0f, Conversion::parse("e4m3fn:nosat")), 0x7Fu);
  EXPECT_EQ(encode(1.064453125f, sat), 0x39u);
  EXPECT_EQ(encode(61440.0f, Conversion::parse("e5m2:nosat")), 0x7Cu);
  EXPECT_EQ(encode(61439.0f, Conversion::parse("e5m2:nosat")), 0x7Bu);
  EXPECT_EQ(encode(248.0f, Conversion::parse("e4m3fnuz:nosat")), 0x80u);
  EXPECT_EQ(encode(247.0f, Conversion::parse("e4m3fnuz:nosat")), 0x7Fu);
  EXPECT_EQ(encode(-0.0f, sat), 0x80u);
  EXPECT_EQ(encode(-0.0f, Conversion::parse("e4m3fnuz")), 0x00u);
  EXPECT_EQ(encode(1.5f, Conversion::parse("ue8m0:satfinite:rp")), 128u);
  EXPECT_EQ(encode(1.5f, Conversion::parse("ue8m0:satfinite:rz")), 127u);
  EXPECT_EQ(encode(1.5f, Conversion::parse("ue8m0:satfinite:rn")), 128u);
  EXPECT_EQ(encode(1.4f, Conversion::parse("ue8m0:satfinite:rn")), 127u);
  EXPECT_EQ(decode(Format::ue8m0, 0), std::ldexp(1.0, -127));
  EXPECT_EQ(decode(Format::e4m3fnuz, 0x7F), 240.0);
  EXPECT_EQ(decode(Format::e4m3fn, 0x01), std::ldexp(1.0, -9));
  EXPECT_EQ(decode(Format::e5m2fnuz, 0x01), std::ldexp(1.0, -17));
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
}

TEST(Formats, ExplainSaysWhy) {
  auto why = [](double x, const char* conv) { return explain(x, Conversion::parse(conv)).why; };
  EXPECT_NE(why(464, "e4m3fn:satfinite").find("tie"), std::string::npos);
  EXPECT_NE(why(466, "e4m3fn:satfinite").find("saturated"), std::string::npos);
  EXPECT_NE(why(449, "e4m3fn:hip-host-nosat").find("before rounding"), std::string::npos);
  EXPECT_NE(why(1.0625, "e4m3fn:satfinite").find("tie, to the even code"), std::string::npos);
  EXPECT_NE(why(3.0, "ue8m0:satfinite:rne").find("tie"), std::string::npos);
  EXPECT_NE(why(12, "e4m3fn").find("exact"), std::string::npos);
  EXPECT_EQ(explain(1.0625, Conversion::parse("e4m3fn:satfinite")).code, 0x38u);  // tie down to even
}

// ties-to-even on ue8m0 means the even *code* (exponent + 127 even); rn ties up.
TEST(Formats, Ue8m0TiesToEvenCode) {
  EXPECT_EQ(encode(3.0f, Conversion::parse("ue8m0:satfinite:rne")), 128u);   // 2 (code 128) vs 4 (129)
  EXPECT_EQ(encode(1.5f, Conversion::parse("ue8m0:satfinite:rne")), 128u);   // 1 (127) vs 2 (128)
  EXPECT_EQ(encode(3.0f, Conversion::parse("ue8m0:satfinite:rn")), 129u);
  EXPECT_EQ(encode(NAN, Conversion::parse("ue8m0:clamp-first:rp")), 254u);   // NaN -> -max -> |.|
  EXPECT_EQ(encode(NAN, Conversion::parse("ue8m0:clamp-first:rp:neg-nan")), 255u);
}

// The NaN codes a judge looks up, per 8-bit format: e4m3fn's two (S.1111.111), e4m3fnuz's one
// (0x80, the negative zero's place), e5m2's six (exponent all ones, mantissa not zero), and none
// for ue8m0 but 0xFF.
TEST(Formats, NanCodesOfEachEightBitFormat) {
  const auto listed = [](Format f) {
    std::vector<uint32_t> out;
    const std::array<uint8_t, 256> nan = nan_codes(f);
    for (uint32_t code = 0; code < 256; ++code)
      if (nan[code]) out.push_back(code);
    return out;
  };
  EXPECT_EQ(listed(Format::e4m3fn), (std::vector<uint32_t>{0x7F, 0xFF}));
  EXPECT_EQ(listed(Format::e4m3fnuz), (std::vector<uint32_t>{0x80}));
  EXPECT_EQ(listed(Format::e5m2), (std::vector<uint32_t>{0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}));
  EXPECT_EQ(listed(Format::ue8m0), (std::vector<uint32_t>{0xFF}));
}
