// The fast fp32 -> fp8 RNE path against the generic core on every bf16 and every fp16 input
// (exactly widened to fp32), for every conversion that has the fast path.
#include "suites/reference/fast_rne_check.hpp"

using namespace ulpgate;
using namespace ulpgate::fast_rne_check;

namespace {

class FastRne : public ::testing::TestWithParam<Conversion> {};

TEST_P(FastRne, AllBf16Inputs) {
  EXPECT_EQ(expect_fast_matches_core(GetParam(), 1u << 16, [](uint64_t i) { return uint32_t(i) << 16; }),
            1u << 16);
}

TEST_P(FastRne, AllFp16Inputs) {
  const auto fp16_bits = [](uint64_t i) { return std::bit_cast<uint32_t>(fp16_to_float(uint16_t(i))); };
  EXPECT_EQ(expect_fast_matches_core(GetParam(), 1u << 16, fp16_bits), 1u << 16);
}

TEST(FastRne, CoversTheQuantizationCasts) {
  for (Format f : {Format::e4m3fn, Format::e4m3fnuz, Format::e5m2, Format::e5m2fnuz})
    for (Overflow o : {Overflow::satfinite, Overflow::nosat})
      EXPECT_TRUE(has_fast_rne(Conversion{f, o, Rounding::rne})) << Conversion{f, o}.str();
  EXPECT_FALSE(has_fast_rne(Conversion{Format::e4m3fn, Overflow::satfinite, Rounding::rz}));
  EXPECT_FALSE(has_fast_rne(Conversion{Format::e4m3fn, Overflow::hip_host, Rounding::rne}));
  EXPECT_FALSE(has_fast_rne(Conversion{Format::ue8m0, Overflow::satfinite, Rounding::rne}));
  EXPECT_FALSE(has_fast_rne(Conversion{Format::bf16, Overflow::nosat, Rounding::rne}));
  EXPECT_THROW(FastRneCast<Format::e4m3fn>(Overflow::clamp_first), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Conversions, FastRne, ::testing::ValuesIn(fast_conversions()), conversion_test_name);

}  // namespace
