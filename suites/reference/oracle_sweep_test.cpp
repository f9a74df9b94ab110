// Tests 2 and 3: the core against every oracle wherever the oracle defines the mode.
//  - all 65,536 bf16 and all 65,536 fp16 inputs, every format x policy x rounding (x ue8m0 edges);
//  - fp32: every exponent x structured significands, every input within ±4 ulps of each
//    rounding boundary / tie / overflow threshold, and random bit patterns (2^24 by default;
//    ULPGATE_RANDOM_INPUTS overrides the count, e.g. for the sanitizer job);
//  - fp64: the same boundaries in double steps and fp32 steps.
// NaNs compare by class. Where the oracles differ by design, oracle_differences_test.cpp pins it.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "reference/formats/oracles/sweep.hpp"

using namespace ulpgate;
using namespace ulpgate::oracles;

namespace {

uint64_t random_input_count() {
  const char* env = std::getenv("ULPGATE_RANDOM_INPUTS");
  return env && *env ? std::strtoull(env, nullptr, 0) : uint64_t(1) << 24;
}

// Sweeps every mode of one format over the inputs and fails with replayable lines.
void expect_core_matches_oracles(Format f, const std::vector<Conversion>& all, const Inputs& in) {
  const std::vector<Conversion> modes = select(all, f, std::nullopt);
  ASSERT_FALSE(modes.empty());
  ASSERT_FALSE(in.bits.empty());
  uint64_t checks = 0;
  for (const Conversion& c : modes) {
    const SweepResult r = sweep(c, in, available_oracles());
    ASSERT_FALSE(r.tallies.empty()) << c.str() << ": no oracle defines this mode";
    for (const OracleTally& t : r.tallies) {
      checks += t.checked;
      EXPECT_EQ(t.mismatches, 0u) << c.str() << " on " << in.name << " vs " << t.oracle;
      for (const Mismatch& m : t.first) ADD_FAILURE() << describe(c, t.oracle, m);
    }
  }
  ::testing::Test::RecordProperty("checks", std::to_string(checks));
}

class Sweep : public ::testing::TestWithParam<Format> {};

TEST_P(Sweep, AllBf16EveryMode) { expect_core_matches_oracles(GetParam(), all_conversions(), all_bf16()); }
TEST_P(Sweep, AllFp16EveryMode) { expect_core_matches_oracles(GetParam(), all_conversions(), all_fp16()); }
TEST_P(Sweep, Fp32StructuredEveryMode) {
  expect_core_matches_oracles(GetParam(), all_conversions(), fp32_structured());
}
TEST_P(Sweep, Fp32BoundariesEveryMode) {
  expect_core_matches_oracles(GetParam(), all_conversions(), fp32_boundaries(4));
}
TEST_P(Sweep, Fp64BoundariesProductionModes) {
  expect_core_matches_oracles(GetParam(), production_conversions(), fp64_boundaries(4));
}
TEST_P(Sweep, Fp32RandomProductionModes) {
  expect_core_matches_oracles(GetParam(), production_conversions(), fp32_random(random_input_count()));
}

INSTANTIATE_TEST_SUITE_P(Formats, Sweep, ::testing::ValuesIn(kEightBitFormats),
                         [](const auto& p) { return std::string(format_name(p.param)); });

// The oracles must actually cover what they claim, or the sweeps above would pass on (c) alone.
TEST(OracleCoverage, CudaDefinesItsModes) {
  if (!have_cuda_oracle()) GTEST_SKIP() << cuda_oracle_absent_reason();
  const Oracle o = cuda_oracle();
  for (const char* m : {"e4m3fn:satfinite", "e4m3fn:nosat", "e5m2:satfinite", "e5m2:nosat", "ue8m0:satfinite:rz",
                        "ue8m0:nosat:rp", "e4m3fn:clamp-first"})
    EXPECT_TRUE(o.defines(Conversion::parse(m))) << m;
  EXPECT_FALSE(o.defines(Conversion::parse("e4m3fnuz:satfinite")));
  EXPECT_FALSE(o.defines(Conversion::parse("ue8m0:satfinite:rn")));
  EXPECT_FALSE(o.defines(Conversion::parse("e4m3fn:hip-host")));
}

TEST(OracleCoverage, LlvmDefinesItsModes) {
  if (!have_llvm_oracle()) GTEST_SKIP() << llvm_oracle_absent_reason();
  const Oracle o = llvm_oracle();
  for (const char* m : {"e4m3fn:nosat", "e4m3fnuz:nosat", "e5m2:nosat", "e5m2fnuz:nosat", "e4m3fnuz:satfinite",
                        "e5m2fnuz:nosat:rn"})
    EXPECT_TRUE(o.defines(Conversion::parse(m))) << m;
  EXPECT_FALSE(o.defines(Conversion::parse("ue8m0:nosat:rn")));
  EXPECT_FALSE(o.defines(Conversion::parse("e4m3fn:nosat:rz")));
}

TEST(OracleCoverage, ValueOracleDefinesEveryEightBitMode) {
  for (const Conversion& c : all_conversions()) EXPECT_TRUE(value_oracle().defines(c)) << c.str();
  EXPECT_FALSE(value_oracle().defines(Conversion::parse("bf16")));
}

TEST(OracleCoverage, InputSetsHaveTheirSizes) {
  EXPECT_EQ(all_bf16().bits.size(), 65536u);
  EXPECT_EQ(all_fp16().bits.size(), 65536u);
  EXPECT_EQ(fp32_structured().bits.size(), 2u * 256 * 48);
  EXPECT_GT(fp32_boundaries(4).bits.size(), 10000u);
  EXPECT_EQ(fp32_random(1000).bits.size(), 1000u);
}

}  // namespace
