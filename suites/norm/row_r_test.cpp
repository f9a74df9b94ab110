// A row's r and the bf16 rounding, exactly: reference/norm/row_r.hpp (the profile's rsqrt and the
// ideal's root by integer comparisons, what the host reference and the device reference both run)
// against multiprecision, and element::round_bf16 against the formats core.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <boost/multiprecision/cpp_bin_float.hpp>

#include "reference/norm/norm.hpp"

namespace ulpgate::norm {
namespace {

// The ideal r (row_r::ideal_r: integer comparisons only) is sqrt(H / D) in 50 digits rounded to
// double: 200000 rows of squares over 1 to 12 binades and H from 1
// to 2^15, with the profiles' eps, against the 50-digit root computed here.
TEST(NormRowR, IdealRIsTheExactRootRoundedOnce) {
  namespace mp = boost::multiprecision;
  std::mt19937_64 rng(7);
  int rows = 0;
  for (const Profile* p : {&profile("vllm"), &profile("aiter"), &profile("hf")}) {
    for (int t = 0; t < 200000 / 3; ++t, ++rows) {
      const int64_t h = int64_t(1) << (rng() % 16);
      const int binades = 1 + int(rng() % 12), terms = 1 + int(rng() % 64);
      ExactSum s;
      for (int i = 0; i < terms; ++i)
        s.add_square(std::ldexp(float(1 + (rng() & 0xFFFFFF)) / float(1 << 24), int(rng() % uint64_t(binades)) - 6));
      ExactSum d = s;
      d.add_scaled(p->eps_added, h);
      using R = mp::cpp_bin_float_50;
      const double want = double(sqrt(R(h) / d.value<R>()));
      ASSERT_EQ(IdealRow(s, *p, h).r(), want) << p->name << " row " << t;
    }
  }
  EXPECT_GT(rows, 199000);
}

// The profile's rsqrt (row_r::rsqrt_rn, integer comparisons only): each result's two midpoints
// bracket 1/sqrt(v), checked in 256 bits, for fp32 v over the whole range, subnormals included.
TEST(NormRowR, ProfileRsqrtIsCorrectlyRounded) {
  namespace mp = boost::multiprecision;
  using R = mp::number<mp::cpp_bin_float<256, mp::digit_base_2>>;
  std::mt19937_64 rng(11);
  for (int t = 0; t < 200000; ++t) {
    const auto v = std::bit_cast<float>(uint32_t(1 + rng() % 0x7F7FFFFFu));
    const float r = row_r::rsqrt_rn(v);
    const R up = (R(r) + R(std::nextafter(r, HUGE_VALF))) / 2, down = (R(r) + R(std::nextafter(r, 0.0f))) / 2;
    ASSERT_TRUE(up * up * R(v) > 1 && down * down * R(v) < 1) << std::hexfloat << v << " -> " << r;
  }
  EXPECT_EQ(row_r::rsqrt_rn(0.0f), HUGE_VALF);
  EXPECT_EQ(row_r::rsqrt_rn(-0.0f), -HUGE_VALF);
  EXPECT_EQ(row_r::rsqrt_rn(HUGE_VALF), 0.0f);
  EXPECT_TRUE(std::isnan(row_r::rsqrt_rn(-1.0f)));
  EXPECT_TRUE(std::isnan(row_r::rsqrt_rn(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(row_r::rsqrt_rn(0.25f), 2.0f);
}

// element::round_bf16 (through fp32) is round_nosat into bf16, bit for bit: every bf16 midpoint
// exactly and a double ulp either side, doubles that fp32 rounds onto a midpoint, random doubles
// over the whole range (subnormal, overflow), zeros, infinities and NaN, both signs.
TEST(NormRowR, Bf16RoundingThroughFp32IsRoundNosat) {
  std::mt19937_64 rng(5);
  std::vector<double> xs = {0.0, HUGE_VAL, std::numeric_limits<double>::quiet_NaN(), 0x1p-134, 0x1p-150, 0x1.fep127 + 0x1p119};
  for (uint32_t b = 0; b < 0x7F80u; ++b) {
    const double mid = (double(bf16_to_float(uint16_t(b))) + double(bf16_to_float(uint16_t(b + 1)))) / 2;
    for (double x : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, HUGE_VAL), mid + mid * 0x1p-30, mid - mid * 0x1p-30}) xs.push_back(x);
  }
  for (int t = 0; t < 1000000; ++t) xs.push_back(std::ldexp(1 + double(rng() >> 12) * 0x1p-52, int(rng() % 300) - 160));
  for (double x : xs)
    for (double v : {x, -x}) ASSERT_EQ(element::round_bf16(v), round_nosat(Format::bf16, v)) << std::hexfloat << v;
}

}  // namespace
}  // namespace ulpgate::norm
