// Test 4 (label `long`): all 2^32 fp32 inputs against the fastest oracle that defines the mode
// ((a) CUDA where it does, else (c) in double), as `ulpgate formats verify --exhaustive` does.
#include <gtest/gtest.h>

#include "reference/formats/oracles/sweep.hpp"

using namespace ulpgate;
using namespace ulpgate::oracles;

namespace {

void expect_exhaustive_agreement(const char* conversion, const char* expected_oracle) {
  const Conversion c = Conversion::parse(conversion);
  const bool cuda = have_cuda_oracle() && cuda_oracle().defines(c);
  const Oracle oracle = cuda ? cuda_oracle() : value_oracle();
  if (std::string(expected_oracle) == "cuda" && !cuda)
    std::printf("note: %s; checking %s against the value oracle instead\n", cuda_oracle_absent_reason(), conversion);
  const SweepResult r = sweep_fp32_range(c, 0, uint64_t(1) << 32, oracle);
  ASSERT_EQ(r.tallies.size(), 1u);
  EXPECT_EQ(r.tallies[0].checked, uint64_t(1) << 32);
  EXPECT_EQ(r.tallies[0].mismatches, 0u) << conversion << " vs " << oracle.name;
  for (const Mismatch& m : r.tallies[0].first) ADD_FAILURE() << describe(c, r.tallies[0].oracle, m);
  std::printf("%s vs %s: 2^32 inputs in %.1f s\n", conversion, std::string(oracle.name).c_str(), r.seconds);
}

TEST(ExhaustiveFp32, E4m3fnSatfinite) { expect_exhaustive_agreement("e4m3fn:satfinite", "cuda"); }
TEST(ExhaustiveFp32, E4m3fnuzSatfinite) { expect_exhaustive_agreement("e4m3fnuz:satfinite", "value"); }
TEST(ExhaustiveFp32, Ue8m0Rp) { expect_exhaustive_agreement("ue8m0:satfinite:rp", "cuda"); }
TEST(ExhaustiveFp32, E5m2Nosat) { expect_exhaustive_agreement("e5m2:nosat", "cuda"); }

}  // namespace
