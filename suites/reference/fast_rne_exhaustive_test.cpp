// Label `long`: the fast fp32 -> fp8 RNE path against the generic core on all 2^32 fp32 inputs,
// one test per conversion that has the fast path; and float_to_bf16 / float_to_fp16 (the fast
// 16-bit path the input generators take) against the core's encode on all of them.
#include "suites/reference/fast_rne_check.hpp"

using namespace ulpgate;
using namespace ulpgate::fast_rne_check;

namespace {

class FastRneExhaustive : public ::testing::TestWithParam<Conversion> {};

TEST_P(FastRneExhaustive, AllFp32Inputs) {
  EXPECT_EQ(expect_fast_matches_core(GetParam(), uint64_t(1) << 32, [](uint64_t i) { return uint32_t(i); }),
            uint64_t(1) << 32);
}

template <Format F>
uint64_t differences_from_core(uint16_t (*fast)(float)) {
  const Conversion c{F, Overflow::nosat, Rounding::rne};
  uint64_t differ = 0;
  for (uint64_t i = 0; i < uint64_t(1) << 32; ++i) {
    const float x = std::bit_cast<float>(uint32_t(i));
    differ += fast(x) != encode<F>(x, c);
  }
  return differ;
}

TEST(FastRne16Exhaustive, FloatToBf16AndFp16AsTheCoreOnAllFp32Inputs) {
  EXPECT_EQ(differences_from_core<Format::bf16>(float_to_bf16), 0u);
  EXPECT_EQ(differences_from_core<Format::fp16>(float_to_fp16), 0u);
}

INSTANTIATE_TEST_SUITE_P(Conversions, FastRneExhaustive, ::testing::ValuesIn(fast_conversions()),
                         conversion_test_name);

}  // namespace
