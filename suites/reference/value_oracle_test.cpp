// Oracle (c) at proof level: its double instantiation (used for the fast sweeps) agrees code
// for code with its exact cpp_rational instantiation on the boundary sets, and the exact one
// agrees with the core there too. Plus hand-checked facts from spec/formats.md.
#include <thread>

#include <gtest/gtest.h>

#include "reference/formats/oracles/sweep.hpp"
#include "reference/formats/oracles/value_oracle.hpp"
#include "suites/sample.hpp"

using namespace ulpgate;
using namespace ulpgate::oracles;

namespace {

// Counts inputs where the two instantiations give different codes (exact bytes, NaN included).
uint64_t instantiation_disagreements(const std::vector<Conversion>& modes, const Inputs& in) {
  const Oracle fast = value_oracle(), exact = exact_value_oracle();
  std::vector<uint64_t> bad(2, 0);
  auto work = [&](unsigned part) {
    for (size_t m = part; m < modes.size(); m += 2)
      for (size_t i = 0; i < in.bits.size(); i += size_t(test_support::sample_stride()))
        if (const uint64_t bits = in.bits[i]; fast.convert(in.source, bits, modes[m]) != exact.convert(in.source, bits, modes[m])) {
          if (bad[part]++ < 5) ADD_FAILURE() << modes[m].str() << " " << source_name(in.source) << " 0x" << std::hex << bits;
        }
  };
  std::thread other(work, 1);
  work(0);
  other.join();
  return bad[0] + bad[1];
}

TEST(ValueOracle, DoubleAgreesWithRationalOnFp32Boundaries) {
  EXPECT_EQ(instantiation_disagreements(all_conversions(), fp32_boundaries(1)), 0u);
}

TEST(ValueOracle, DoubleAgreesWithRationalOnFp64Boundaries) {
  EXPECT_EQ(instantiation_disagreements(production_conversions(), fp64_boundaries(2)), 0u);
}

TEST(ValueOracle, DoubleAgreesWithRationalOnStructuredFp32) {
  EXPECT_EQ(instantiation_disagreements(production_conversions(), fp32_structured()), 0u);
}

TEST(ValueOracle, ExactInstantiationAgreesWithTheCoreOnBoundaries) {
  for (const Conversion& c : production_conversions()) {
    const SweepResult r = sweep(c, fp32_boundaries(1), {exact_value_oracle()});
    ASSERT_EQ(r.tallies.size(), 1u);
    EXPECT_EQ(r.tallies[0].mismatches, 0u) << c.str();
  }
}

// The grid, the step beyond max and the overflow thresholds quoted in spec/formats.md.
TEST(ValueOracle, GridsMatchTheSpec) {
  const ValueOracle<double> e4m3fn(Format::e4m3fn), e4m3fnuz(Format::e4m3fnuz), e5m2(Format::e5m2),
      ue8m0(Format::ue8m0);
  EXPECT_EQ(e4m3fn.max(), 448);
  EXPECT_EQ(e4m3fn.grid().back(), 480);  // so 464 is the overflow tie (to even: 448)
  EXPECT_EQ(e4m3fnuz.grid().back(), 256);  // overflow at >= 248
  EXPECT_EQ(e5m2.grid().back(), 65536);     // overflow at >= 61440
  EXPECT_EQ(ue8m0.grid().size(), 256u);     // 255 finite values and 2^128
  EXPECT_EQ(ue8m0.grid().front(), 0x1p-127);
}

TEST(ValueOracle, SpecExamples) {
  const Oracle v = exact_value_oracle();
  auto f32 = [&](const char* conv, float x) {
    return v.convert(Source::fp32, std::bit_cast<uint32_t>(x), Conversion::parse(conv));
  };
  EXPECT_EQ(f32("e4m3fn:nosat", 464.0f), 0x7Eu);
  EXPECT_EQ(f32("e4m3fn:nosat", 464.00003f), 0x7Fu);
  EXPECT_EQ(f32("e4m3fn:hip-host-nosat", 449.0f), 0x7Fu);  // decided before rounding
  EXPECT_EQ(f32("e4m3fn:satfinite", 1.064453125f), 0x39u);
  EXPECT_EQ(f32("e5m2:nosat", 61440.0f), 0x7Cu);
  EXPECT_EQ(f32("e4m3fnuz:nosat", 248.0f), 0x80u);
  EXPECT_EQ(f32("e4m3fnuz:satfinite", 248.0f), 0x7Fu);
  EXPECT_EQ(f32("e4m3fnuz:satfinite", -0.0f), 0x00u);
  EXPECT_EQ(f32("e4m3fn:satfinite", -0x1p-11f), 0x80u);  // rounds to -0
  EXPECT_EQ(f32("ue8m0:satfinite:rn", 1.5f), 128u);      // tie goes up
  EXPECT_EQ(f32("ue8m0:satfinite:rne", 1.5f), 128u);     // even code 128 = 2^1
  EXPECT_EQ(f32("ue8m0:satfinite:rne", 3.0f), 128u);     // tie between 129 and 128: even
  EXPECT_EQ(f32("ue8m0:satfinite:rz", 0x1p-140f), 0u);
  EXPECT_EQ(f32("ue8m0:satfinite:rp:clamp-1-254", 0x1p-140f), 1u);
  EXPECT_EQ(f32("ue8m0:satfinite:rp:neg-nan", -2.0f), 0xFFu);
  EXPECT_EQ(f32("ue8m0:satfinite:rp", -2.0f), 128u);
}

}  // namespace
