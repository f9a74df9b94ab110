// Where the oracles disagree by design, each difference is pinned here on a concrete input,
// with every oracle's byte. The sweeps compare NaNs by class; these tests record the bytes.
#include <gtest/gtest.h>

#include "reference/formats/oracles/sweep.hpp"

using namespace ulpgate;
using namespace ulpgate::oracles;

namespace {

struct Case {
  const char* conversion;
  Source source;
  uint64_t bits;
};

uint32_t core(const Case& k) { return core_convert(k.source, k.bits, Conversion::parse(k.conversion)); }
uint32_t ask(const Oracle& o, const Case& k) {
  const Conversion c = Conversion::parse(k.conversion);
  EXPECT_TRUE(o.defines(c)) << o.name << " " << k.conversion;
  return o.convert(k.source, k.bits, c);
}

#define REQUIRE_CUDA() \
  if (!have_cuda_oracle()) GTEST_SKIP() << cuda_oracle_absent_reason()
#define REQUIRE_LLVM() \
  if (!have_llvm_oracle()) GTEST_SKIP() << llvm_oracle_absent_reason()

// The reference emits one canonical NaN per format (0x7F for e4m3fn and e5m2).
TEST(OracleDifferences, CanonicalNaNFromTheCoreAndTheValueOracle) {
  for (const Case k : {Case{"e4m3fn:satfinite", Source::fp32, 0xffc00000}, Case{"e5m2:nosat", Source::fp64, 0xfff8000000000000},
                       Case{"e4m3fnuz:nosat", Source::bf16, 0xffc0}, Case{"ue8m0:nosat:rp", Source::fp16, 0xfe00}}) {
    const uint32_t nan = info(Conversion::parse(k.conversion).format).canonical_nan;
    EXPECT_EQ(core(k), nan) << k.conversion;
    EXPECT_EQ(ask(value_oracle(), k), nan) << k.conversion;
  }
}

// CUDA's float path first replaces any NaN by 0x7FFFFFFF: the sign is dropped and e4m3 gives
// 0x7F. LLVM keeps the sign: 0xFF. Same NaN class.
TEST(OracleDifferences, E4m3fnNegativeNaNSign) {
  const Case k{"e4m3fn:satfinite", Source::fp32, 0xffc00000};  // -qNaN
  EXPECT_EQ(core(k), 0x7Fu);
  if (have_cuda_oracle()) {
    EXPECT_EQ(ask(cuda_oracle(), k), 0x7Fu);
  }
  REQUIRE_LLVM();
  EXPECT_EQ(ask(llvm_oracle(), k), 0xFFu);
}

// CUDA's double path keeps the sign of a NaN (0xFF for -NaN in e4m3).
TEST(OracleDifferences, E4m3fnNegativeNaNFromDoubleKeepsSignInCuda) {
  REQUIRE_CUDA();
  const Case k{"e4m3fn:nosat", Source::fp64, 0xfff8000000000000};
  EXPECT_EQ(core(k), 0x7Fu);
  EXPECT_EQ(ask(cuda_oracle(), k), 0xFFu);
}

// A negative overflow (or -Inf) under nosat: CUDA and LLVM give the NaN with the sign, 0xFF.
TEST(OracleDifferences, E4m3fnNosatNegativeOverflowNaNSign) {
  const Case overflow{"e4m3fn:nosat", Source::fp32, 0xc3e90000};  // -466, above the 464 tie
  const Case inf{"e4m3fn:nosat", Source::fp32, 0xff800000};
  EXPECT_EQ(core(overflow), 0x7Fu);
  EXPECT_EQ(core(inf), 0x7Fu);
  REQUIRE_CUDA();
  EXPECT_EQ(ask(cuda_oracle(), overflow), 0xFFu);
  EXPECT_EQ(ask(cuda_oracle(), inf), 0xFFu);
  REQUIRE_LLVM();
  EXPECT_EQ(ask(llvm_oracle(), overflow), 0xFFu);
  EXPECT_EQ(ask(llvm_oracle(), inf), 0xFFu);
}

// e5m2 NaN: LLVM gives the quiet NaN 0x7E (0xFE negative); CUDA from fp32 gives 0x7F (it
// canonicalises to 0x7FFFFFFF first); CUDA from fp64 copies the top payload bits: 0x7E/0xFE.
TEST(OracleDifferences, E5m2NaNBytes) {
  const Case f32{"e5m2:nosat", Source::fp32, 0x7fc00000};
  const Case neg_f32{"e5m2:nosat", Source::fp32, 0xffc00000};
  const Case f64{"e5m2:satfinite", Source::fp64, 0x7ff8000000000000};
  const Case neg_f64{"e5m2:satfinite", Source::fp64, 0xfff8000000000000};
  for (const Case& k : {f32, neg_f32, f64, neg_f64}) EXPECT_EQ(core(k), 0x7Fu);
  if (have_cuda_oracle()) {
    EXPECT_EQ(ask(cuda_oracle(), f32), 0x7Fu);
    EXPECT_EQ(ask(cuda_oracle(), neg_f32), 0x7Fu);
    EXPECT_EQ(ask(cuda_oracle(), f64), 0x7Eu);
    EXPECT_EQ(ask(cuda_oracle(), neg_f64), 0xFEu);
  }
  REQUIRE_LLVM();
  EXPECT_EQ(ask(llvm_oracle(), f32), 0x7Eu);
  EXPECT_EQ(ask(llvm_oracle(), neg_f32), 0xFEu);
}

// CUDA's __nv_cvt_double_to_e8m0 narrows to fp32 with a sticky bit first, so 2^128 becomes
// FLT_MAX and rz gives 0xFE even under __NV_NOSAT. The spec's rule (round on the grid extended
// past max, then the policy) gives NaN, as does the value oracle. No fp32/bf16/fp16 input can
// reach this (the largest fp32 rounds toward zero to 2^127).
TEST(OracleDifferences, CudaDoubleToUe8m0RzNosatDoesNotOverflow) {
  const Case k{"ue8m0:nosat:rz", Source::fp64, 0x47f0000000000000};  // 2^128
  EXPECT_EQ(core(k), 0xFFu);
  EXPECT_EQ(ask(value_oracle(), k), 0xFFu);
  REQUIRE_CUDA();
  EXPECT_EQ(ask(cuda_oracle(), k), 0xFEu);
  EXPECT_STREQ(pinned_difference("cuda", k.source, k.bits, Conversion::parse(k.conversion), 0xFF, 0xFE),
               "OracleDifferences.CudaDoubleToUe8m0RzNosatDoesNotOverflow");
  // Under satfinite both agree, and fp32's largest value is in range for rz everywhere.
  EXPECT_EQ(ask(cuda_oracle(), {"ue8m0:satfinite:rz", Source::fp64, 0x47f0000000000000}), 0xFEu);
  EXPECT_EQ(ask(cuda_oracle(), {"ue8m0:nosat:rz", Source::fp32, 0x7f7fffff}), 0xFEu);
  EXPECT_EQ(core({"ue8m0:nosat:rz", Source::fp32, 0x7f7fffff}), 0xFEu);
}

// ue8m0 of zero: CUDA (and the core's default) give 0x00 = 2^-127; ml_dtypes gives NaN, which
// the core offers as the zero-nan flag (no ml_dtypes oracle here: the value oracle covers it).
TEST(OracleDifferences, Ue8m0OfZero) {
  const Case zero{"ue8m0:satfinite:rp", Source::fp32, 0};
  const Case zero_nan{"ue8m0:satfinite:rp:zero-nan", Source::fp32, 0};
  EXPECT_EQ(core(zero), 0x00u);
  EXPECT_EQ(core(zero_nan), 0xFFu);
  EXPECT_EQ(ask(value_oracle(), zero_nan), 0xFFu);
  REQUIRE_CUDA();
  EXPECT_EQ(ask(cuda_oracle(), zero), 0x00u);
}

// Inf under saturation: CUDA's satfinite gives ±max; LLVM has no saturating mode (Inf -> NaN in
// e4m3fn), so its satfinite column is "clamp, then convert"; HIP's host code gives NaN.
TEST(OracleDifferences, InfUnderSaturation) {
  const Case sat{"e4m3fn:satfinite", Source::fp32, 0xff800000};
  const Case hip{"e4m3fn:hip-host", Source::fp32, 0xff800000};
  EXPECT_EQ(core(sat), 0xFEu);
  EXPECT_EQ(core(hip), 0x7Fu);
  EXPECT_EQ(ask(value_oracle(), hip), 0x7Fu);
  REQUIRE_CUDA();
  EXPECT_EQ(ask(cuda_oracle(), sat), 0xFEu);
  REQUIRE_LLVM();
  EXPECT_EQ(ask(llvm_oracle(), {"e4m3fn:nosat", Source::fp32, 0xff800000}), 0xFFu);  // its native answer
  EXPECT_EQ(ask(llvm_oracle(), sat), 0xFEu);
}

}  // namespace
