// The fast fp32 -> fp8 RNE path against the generic core on every bf16 and every fp16 input
// (exactly widened to fp32), for every conversion that has the fast path.
#include <cmath>
#include <random>

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

namespace {

template <Format F>
void expect_fast16_matches_core() {
  const Conversion c{F, Overflow::nosat, Rounding::rne};
  std::mt19937_64 rng{static_cast<uint64_t>(F) + 7};
  const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 1e300, -1e-300, 5e-324, 65504.0, 65520.0,
                             65519.99, 3.3895313892515355e38, 3.3961775292304601e38, 5.960464477539063e-08,
                             2.9802322387695312e-08, 2.98023223876953125e-08 * 1.0000001};
  for (double x : specials) ASSERT_EQ(fast_rne_nosat16<F>(x), encode<F>(x, c)) << x;
  constexpr int drop = 52 - info_of<F>().mbits;
  for (int i = 0; i < 4'000'000; ++i) {
    // Doubles of every exponent the format meets (and beyond), random fractions, and exact ties of
    // the format's normal range and their neighbours.
    const int e = int(rng() % 300) - 170;
    uint64_t frac = rng() >> 12;
    if (i % 4 < 2) frac = (frac & ~((uint64_t(1) << drop) - 1)) | (uint64_t(1) << (drop - 1));
    if (i % 4 == 1) frac += rng() % 2 ? 1 : -1;
    const double x = std::ldexp(1.0 + double(frac) * 0x1p-52, e) * (i % 8 < 4 ? -1 : 1);
    ASSERT_EQ(fast_rne_nosat16<F>(x), encode<F>(x, c)) << x;
    const float f = float(x);
    ASSERT_EQ(fast_rne_nosat16<F>(double(f)), encode<F>(f, c)) << f;
  }
}

TEST(FastRne16, Bf16AndFp16FromDoublesAndFloatsAsTheCore) {
  expect_fast16_matches_core<Format::bf16>();
  expect_fast16_matches_core<Format::fp16>();
}

}  // namespace
