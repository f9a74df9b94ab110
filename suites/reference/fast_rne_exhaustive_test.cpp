// Label `long`: the fast fp32 -> fp8 RNE path against the generic core on all 2^32 fp32 inputs,
// one test per conversion that has the fast path.
#include "suites/reference/fast_rne_check.hpp"

using namespace ulpgate;
using namespace ulpgate::fast_rne_check;

namespace {

class FastRneExhaustive : public ::testing::TestWithParam<Conversion> {};

TEST_P(FastRneExhaustive, AllFp32Inputs) {
  EXPECT_EQ(expect_fast_matches_core(GetParam(), uint64_t(1) << 32, [](uint64_t i) { return uint32_t(i); }),
            uint64_t(1) << 32);
}

INSTANTIATE_TEST_SUITE_P(Conversions, FastRneExhaustive, ::testing::ValuesIn(fast_conversions()),
                         conversion_test_name);

}  // namespace
