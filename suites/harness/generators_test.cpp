// Counter-based RNG and input distributions: purity, the text grammar, distribution sanity, and
// the pinned digests that keep goldens valid across compilers and machines.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "harness/core/generators.hpp"
#include "harness/core/rng.hpp"

namespace ulpgate {
namespace {

TEST(Rng, IsSplitmix64SeededWithTheKey) {
  // First outputs of the reference splitmix64 with seed 0.
  const Rng rng(uint64_t(0));
  EXPECT_EQ(rng.at(0), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(rng.at(1), 0x6E789E6AA1B965F4ull);
}

TEST(Rng, KeyIsXxh64OfCaseIdAndSeed) {
  const std::string id = "quant.group/e4m3fn/vllm";
  EXPECT_EQ(Rng(id, 7).key(), XXH64(id.data(), id.size(), 7));
  EXPECT_NE(Rng(id, 7).key(), Rng(id, 8).key());
  EXPECT_NE(Rng(id, 7).key(), Rng(id + "x", 7).key());
}

TEST(Rng, DrawsArePureFunctionsOfTheCounter) {
  const Rng a("case", 1), b("case", 1);
  const uint64_t late = a.at(1'000'000);
  for (uint64_t c = 0; c < 100; ++c) EXPECT_EQ(a.at(c), b.at(c));
  EXPECT_EQ(a.at(1'000'000), late);
  EXPECT_NE(a.stream(1).at(0), a.stream(2).at(0));
  EXPECT_EQ(a.stream(1), b.stream(1));
}

TEST(Rng, BelowAndDyadicStayInRange) {
  const Rng rng("range", 3);
  std::vector<int> hits(7, 0);
  for (uint64_t c = 0; c < 7000; ++c) {
    const uint64_t k = rng.below(c, 7);
    ASSERT_LT(k, 7u);
    ++hits[k];
    const double u = rng.dyadic(c, 10);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_EQ(u * 1024, std::floor(u * 1024)) << "not a multiple of 2^-10";
  }
  for (int h : hits) EXPECT_GT(h, 800);  // each of 7 values near 1000
  EXPECT_EQ(rng.below(5, 0), 0u);
}

// ---- the text form --------------------------------------------------------------------------

TEST(Distribution, TextFormRoundTrips) {
  for (const char* text :
       {"normal", "normal_sigma=2", "normal_sigma=0.5_mean=-3", "uniform_lo=0_hi=8",
        "outliers_every=256_mag=1000", "zeros", "zeros_nan=64", "near-overflow_max=240",
        "near-overflow_max=57344_spread=0.25", "pow2-boundary_scale=448_emin=-4_emax=4",
        "uniform_lo=1e-05_hi=1e+30_nan=64_inf=100_den=7"}) {
    const Distribution d = Distribution::parse(text);
    EXPECT_EQ(d.str(), text);
    EXPECT_EQ(Distribution::parse(d.str()), d);
  }
}

TEST(Distribution, ParseIsCanonicalisedByPrint) {
  EXPECT_EQ(Distribution::parse("normal_mean=1_sigma=2").str(), "normal_sigma=2_mean=1");
  EXPECT_EQ(Distribution::parse("normal_sigma=1").str(), "normal");  // default omitted
  EXPECT_EQ(Distribution::parse("outliers").every, 1000);
}

TEST(Distribution, BadTextIsAUsageError) {
  for (const char* text : {"", "gauss", "normal_", "normal_sigma", "normal_sigma=", "normal_sigma=x",
                           "normal_sigma=2x", "normal_sigma=2_sigma=3", "normal_max=3",
                           "normal_sigma=-1", "uniform_lo=2_hi=1", "outliers_every=0",
                           "outliers_every=2.5", "pow2-boundary_emin=3_emax=2", "zeros_nan=-1",
                           "zeros_nan=inf", "normal_sigma=nan", "near-overflow_spread=2"}) {
    EXPECT_THROW(Distribution::parse(text), UsageError) << text;
  }
  try {
    Distribution::parse("normal_max=3");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "distribution 'normal_max=3': 'max' is not a parameter of normal (valid: sigma, "
                 "mean, nan, inf, den)");
  }
}

// ---- sanity of each distribution ------------------------------------------------------------

std::vector<float> generate(const char* dist, size_t n, Format target = Format::fp32,
                            uint64_t offset = 0) {
  std::vector<float> v(n);
  fill(v, Distribution::parse(dist), Rng("sanity", 42), offset, target);
  return v;
}

TEST(Generators, AnySliceRegeneratesAlone) {
  const auto whole = generate("outliers_every=10_nan=7_inf=11_den=13", 1000);
  std::vector<float> tail(300);
  fill(tail, Distribution::parse("outliers_every=10_nan=7_inf=11_den=13"), Rng("sanity", 42), 700);
  EXPECT_EQ(std::memcmp(tail.data(), whole.data() + 700, tail.size() * sizeof(float)), 0);
  for (uint64_t i : {0, 6, 77, 999}) {
    const float one = sample(Distribution::parse("outliers_every=10_nan=7_inf=11_den=13"), Rng("sanity", 42), i);
    EXPECT_EQ(std::bit_cast<uint32_t>(one), std::bit_cast<uint32_t>(whole[i])) << i;
  }
}

// fill on every core and fill_here on this thread give each element's sample(): plain normal
// samples take a loop of their own, the rest the generic one.
TEST(Generators, FillsAreTheSamplesOfTheirElements) {
  for (const char* text : {"normal", "normal_sigma=2_mean=1", "normal_nan=97", "uniform_lo=-3_hi=5", "outliers_every=64"}) {
    const Distribution d = Distribution::parse(text);
    const Rng rng("sanity", 7);
    std::vector<float> all(70000), here(1000);  // above fill's 2^16 serial limit
    fill(all, d, rng);
    fill_here(here, d, rng, 69000);
    for (uint64_t i = 0; i < all.size(); i += i < 69000 ? 97 : 1) {
      const uint32_t want = std::bit_cast<uint32_t>(sample(d, rng, i));
      ASSERT_EQ(std::bit_cast<uint32_t>(all[i]), want) << text << " element " << i;
      if (i >= 69000) ASSERT_EQ(std::bit_cast<uint32_t>(here[i - 69000]), want) << text << " element " << i;
    }
  }
}

TEST(Generators, NormalHasItsMeanAndVariance) {
  const auto v = generate("normal_sigma=2_mean=1", 200000);
  double sum = 0, sq = 0;
  for (float x : v) {
    ASSERT_LE(std::fabs(x - 1), 12.0f);  // Irwin-Hall: |z| < 6
    sum += x;
  }
  const double mean = sum / double(v.size());
  for (float x : v) sq += (x - mean) * (x - mean);
  EXPECT_NEAR(mean, 1.0, 0.02);
  EXPECT_NEAR(sq / double(v.size()), 4.0, 0.06);
}

TEST(Generators, UniformCoversItsRange) {
  const auto v = generate("uniform_lo=2_hi=6", 100000);
  double sum = 0;
  for (float x : v) {
    ASSERT_GE(x, 2.0f);
    ASSERT_LE(x, 6.0f);
    sum += x;
  }
  EXPECT_NEAR(sum / double(v.size()), 4.0, 0.02);
}

TEST(Generators, OutliersAreExactlyOnePerBlock) {
  const auto v = generate("outliers_every=100_mag=1000", 100 * 500);
  size_t huge = 0;
  for (size_t b = 0; b < 500; ++b) {
    size_t in_block = 0;
    for (size_t i = 0; i < 100; ++i) {
      const float x = std::fabs(v[b * 100 + i]);
      ASSERT_TRUE(x <= 6.0f || (x >= 1000.0f && x < 2000.0f)) << x;
      in_block += x >= 1000.0f;
    }
    ASSERT_EQ(in_block, 1u) << "block " << b;
    huge += in_block;
  }
  EXPECT_EQ(huge, 500u);
}

TEST(Generators, ZerosAreAllPositiveZero) {
  for (float x : generate("zeros", 1000)) ASSERT_EQ(std::bit_cast<uint32_t>(x), 0u);
}

TEST(Generators, NearOverflowSurroundsTheMax) {
  const auto v = generate("near-overflow_max=448", 10000);
  size_t at_max = 0, above = 0, below = 0;
  for (float x : v) {
    const float m = std::fabs(x);
    ASSERT_GE(m, 448.0f * (1 - 0.0625f));
    ASSERT_LE(m, 448.0f * (1 + 0.0625f));
    at_max += m == 448.0f;
    above += m > 448.0f;
    below += m < 448.0f;
  }
  EXPECT_GT(at_max, 200u);  // k = 0 has probability 1/33
  EXPECT_GT(above, 4000u);
  EXPECT_GT(below, 4000u);
}

TEST(Generators, Pow2BoundaryGivesTheBoundaryAndItsNeighbours) {
  for (Format target : {Format::fp32, Format::bf16, Format::fp16}) {
    const auto v = generate("pow2-boundary_scale=1.75_emin=-3_emax=3", 3000, target);
    size_t exact = 0, up = 0, down = 0;
    for (float x : v) {
      const float m = std::fabs(x);
      // m is on the target's grid ...
      const Conversion c{target, Overflow::nosat};
      ASSERT_EQ(decode_f32(target, encode(m, c)), m);
      // ... and at most one code away from 1.75 * 2^e.
      const int e = std::ilogb(m / 1.75f * 1.25f);  // m / 1.75 is within 1% of 2^e
      const float boundary = std::ldexp(1.75f, e);
      const auto dist = ulp_distance(target, encode(m, c), encode(boundary, c));
      ASSERT_TRUE(dist && *dist <= 1) << m;
      exact += m == boundary;
      up += m > boundary;
      down += m < boundary;
    }
    EXPECT_GT(exact, 800u);
    EXPECT_GT(up, 800u);
    EXPECT_GT(down, 800u);
  }
}

TEST(Generators, NanCountIsExact) {
  const auto v = generate("normal_nan=64_inf=10", 64 * 100);
  size_t nans = 0, infs = 0;
  for (float x : v) nans += std::isnan(x), infs += std::isinf(x);
  EXPECT_EQ(nans, 100u);      // NaN wins every collision, so its count is exact
  EXPECT_GE(infs, 640u - 100u);  // an Inf loses only where a NaN took its slot
  EXPECT_LE(infs, 640u);
}

TEST(Generators, SubnormalsBelongToTheTarget) {
  const Distribution d = Distribution::parse("uniform_lo=1_hi=2_den=50");
  std::vector<uint16_t> h(5000), b(5000);
  fill_fp16(h, d, Rng("den", 1));
  fill_bf16(b, d, Rng("den", 1));
  size_t fp16_sub = 0, bf16_sub = 0;
  for (uint16_t x : h) fp16_sub += classify(Format::fp16, x) == CodeClass::subnormal;
  for (uint16_t x : b) bf16_sub += classify(Format::bf16, x) == CodeClass::subnormal;
  EXPECT_EQ(fp16_sub, 100u);
  EXPECT_EQ(bf16_sub, 100u);
  std::vector<float> f(5000);
  fill(f, d, Rng("den", 1));
  size_t fp32_sub = 0;
  for (float x : f) fp32_sub += std::fpclassify(x) == FP_SUBNORMAL;
  EXPECT_EQ(fp32_sub, 100u);
}

TEST(Generators, Bf16OutputIsTheRoundedSample) {
  const Distribution d = Distribution::parse("normal_sigma=3");
  std::vector<float> f(1000);
  std::vector<uint16_t> b(1000);
  fill(f, d, Rng("b", 2), 0, Format::bf16);
  fill_bf16(b, d, Rng("b", 2));
  for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(b[i], float_to_bf16(f[i]));
}

TEST(Generators, OnlyWideTargets) {
  std::vector<float> v(4);
  EXPECT_THROW(fill(v, Distribution{}, Rng("x", 1), 0, Format::e4m3fn), std::invalid_argument);
}

// ---- pinned digests -------------------------------------------------------------------------

// PURPOSE: these literals pin the exact bytes the generators produce. Golden files record output
// digests of cases whose inputs come from here, so any change to a generated bit (a new mixing
// constant, a reordered draw, a compiler that contracts a multiply-add) must fail this test
// rather than silently invalidate every golden. Change a literal only together with every golden.
uint64_t digest_of(std::string_view case_id, uint64_t seed, const char* dist, size_t n,
                   Format target) {
  const Distribution d = Distribution::parse(dist);
  const Rng rng(case_id, seed);
  std::vector<unsigned char> bytes;
  auto put = [&](uint32_t v, int width) {
    for (int i = 0; i < width; ++i) bytes.push_back(static_cast<unsigned char>(v >> (8 * i)));
  };
  if (target == Format::fp32) {
    std::vector<float> v(n);
    fill(v, d, rng);
    for (float x : v) put(std::bit_cast<uint32_t>(x), 4);  // little-endian on every host
  } else {
    std::vector<uint16_t> v(n);
    target == Format::bf16 ? fill_bf16(v, d, rng) : fill_fp16(v, d, rng);
    for (uint16_t x : v) put(x, 2);
  }
  return XXH64(bytes.data(), bytes.size(), 0);
}

struct Pinned {
  const char* case_id;
  uint64_t seed;
  const char* dist;
  size_t n;
  Format target;
  uint64_t digest;
};

TEST(Generators, PinnedDigests) {
  const Pinned pinned[] = {
      {"quant.group/e4m3fn/vllm", 1, "normal", 4096, Format::fp32, 0x9F2A9606FFA6E6E5ull},
      {"quant.group/e4m3fn/vllm", 2, "normal_sigma=2_mean=1", 4096, Format::bf16, 0x427EB467029F5B3Aull},
      {"quant.group/e4m3fnuz/aiter", 1, "uniform_lo=-8_hi=8", 4096, Format::fp16, 0x89DA471E1C3E2F22ull},
      {"quant.group/e4m3fn/deepgemm", 3, "outliers_every=128", 4096, Format::bf16, 0x5C49391750A6FCFAull},
      {"quant.block/e4m3fn/vllm", 1, "zeros_nan=100_inf=33", 4096, Format::fp32, 0x119297301656ECDDull},
      {"quant.mx/e4m3fn/ocp-mx", 9, "near-overflow_max=448", 4096, Format::fp32, 0x7D2C2309E4FF7BA9ull},
      {"quant.mx/e5m2/te", 9, "pow2-boundary_scale=1.75_emin=-20_emax=20", 4096, Format::bf16, 0x8EB2B7FF1814169Bull},
      {"quant.token/e4m3fn/sglang", 5, "normal_den=17", 4096, Format::fp16, 0x27123850AD3901D7ull},
  };
  for (const Pinned& p : pinned)
    EXPECT_EQ(digest_of(p.case_id, p.seed, p.dist, p.n, p.target), p.digest)
        << p.case_id << " seed " << p.seed << " " << p.dist << std::hex << " got 0x"
        << digest_of(p.case_id, p.seed, p.dist, p.n, p.target);
}

}  // namespace
}  // namespace ulpgate
