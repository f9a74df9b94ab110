// The sm90 FP8 MMA step (spec/gemm.md "Hardware accumulation" steps 1-5) on examples worked out by
// hand. e4m3fn codes used: 0x60 = 32, 0x67 = 60, 0xE7 = -60, 0x38 = 1, 0x39 = 1.125,
// 0xB9 = -1.125, 0x34 = 0.75, 0x30 = 0.5, 0x28 = 0.25, 0x18 = 2^-4, 0x1F = 1.875 * 2^-4,
// 0x7E = 448, 0x01 = 2^-9 (the smallest subnormal), 0x00 = 0.
#include <gtest/gtest.h>

#include <vector>

#include "gemm_test_util.hpp"

using namespace gemm_test;

namespace {

const MmaStep& sm90() { return model("sm90").step; }

float step(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, float c = 0, int scale_exp = 0,
           double* bound = nullptr) {
  return mma_step(sm90(), Format::e4m3fn, Format::e4m3fn, a, b, c, scale_exp, bound);
}

}  // namespace

TEST(Sm90Step, ATermBelowUIsTruncated) {
  // 32 * 32 = 1024 (pe = 10), 1 * 2^-4 = 0.0625 (pe = -4), 1.125 * 0.25 = 0.28125 (pe = -2).
  // E = 10, u = 2^(10 - 13) = 0.125. In units of u: 8192, 0.5 -> 0, 2.25 -> 2. Sum 8194 u =
  // 1024.25, which has 14 significant bits (8194 < 2^14). The exact sum is 1024.34375.
  double bound = 0;
  EXPECT_EQ(step({0x60, 0x38, 0x39}, {0x60, 0x18, 0x28}, 0, 0, &bound), 1024.25f);
  // Bound: 3 nonzero terms * u + the sum's quantum 2^(10 - 13) = 0.375 + 0.125.
  EXPECT_EQ(bound, 0.5);
}

TEST(Sm90Step, TheSumIsTruncatedTo14Bits) {
  // 60 * 32 = 1920 twice (pe = 10), 0.75 * 0.5 = 0.375 (pe = -2). E = 10, u = 0.125:
  // 15360 + 15360 + 3 = 30723 u = 3840.375: 15 significant bits; floor(log2) = 11, so the quantum
  // is 2^(11 - 13) = 0.25 and 3840.375 truncates to 3840.25.
  EXPECT_EQ(step({0x67, 0x67, 0x34}, {0x60, 0x60, 0x30}), 3840.25f);
  // Negated: the sum -3840.375 truncates toward zero, to -3840.25 (not -3840.5).
  EXPECT_EQ(step({0xE7, 0xE7, 0xB4}, {0x60, 0x60, 0x30}), -3840.25f);
}

TEST(Sm90Step, ANegativeTermIsTruncatedTowardZero) {
  // 1024 and -1.125 * 0.25 = -0.28125: E = 10, u = 0.125, -2.25 u -> -2 u (floor would give -3).
  // 8192 - 2 = 8190 u = 1023.75 (quantum 2^(9 - 13) = 2^-4: exact).
  EXPECT_EQ(step({0x60, 0xB9}, {0x60, 0x28}), 1023.75f);
}

TEST(Sm90Step, AZeroOperandIsDropped) {
  // (1.875 * 2^-4)^2 = 0.01373291015625 (pe = -8) and 0 * 448. Dropped, the zero sets no exponent:
  // E = -8, u = 2^-21, the product is 28800 u, exact, and fits 14 bits (2^-20 quantum).
  // Had the zero counted with emin = -6 (pe = -6 + 8 = 2), u = 2^-11 would give 0.013671875.
  EXPECT_EQ(step({0x1F, 0x00}, {0x1F, 0x7E}), 0.01373291015625f);
  EXPECT_EQ(step({0x1F, 0x80}, {0x1F, 0x7E}), 0.01373291015625f);  // -0 as well
}

TEST(Sm90Step, SubnormalsCountAtEmin) {
  // 2^-9 * 448 = 0.875: the subnormal's exponent is emin = -6 (not -9), so pe = -6 + 8 = 2 although
  // the product is below 1. 1.125 * 2^-9 = 0.002197265625, pe = 0 - 6 = -6. E = 2, u = 2^-11:
  // 1792 u and 4.5 u -> 4 u: 1796 u = 0.876953125. (With the true exponent -9, E = -1 and the
  // sum would be exact: 0.877197265625.)
  EXPECT_EQ(step({0x01, 0x39}, {0x7E, 0x01}), 0.876953125f);
}

TEST(Sm90Step, TinySumsKeepTheQuantumOfE8M13Subnormals) {
  // (1.875 * 2^-4)^2 scaled by 2^-134 inside the MMA: 3.515625 * 2^-142, pe = -142. E = max(-142,
  // -133) = -133, u = 2^-146: 56.25 u -> 56 u = 3.5 * 2^-142. Below 2^-126 the 14-bit sum keeps the
  // quantum 2^(-126 - 13) (MMA-Sim's RZ-E8M13: an 8-bit exponent with subnormals), so it
  // truncates to 0 (the floor's u is finer than that quantum: unobservable here).
  EXPECT_EQ(step({0x1F}, {0x1F}, 0, -134), 0.0f);
  // Scaled by 2^-120 instead: 3.515625 * 2^-128 = 7200 * 2^-139, kept exactly.
  EXPECT_EQ(step({0x1F}, {0x1F}, 0, -120), 0x1.c2p-127f);
  // Scaled by 2^-125: 3.515625 * 2^-133 = 225 * 2^-139, exact; 2^-127 more would lose bits.
  EXPECT_EQ(step({0x1F}, {0x1F}, 0, -125), 0x1.c2p-132f);
}

TEST(Sm90Step, TheAccumulatorIsATerm) {
  // c = 3840.25 (ec = 11) and 1.125 * 0.25 = 0.28125: E = 11, u = 0.25: 15361 u + 1.125 u -> 1 u,
  // 15362 u = 3840.5.
  EXPECT_EQ(step({0x39}, {0x28}, 3840.25f), 3840.5f);
  // c alone passes through unchanged when every product is dropped.
  EXPECT_EQ(step({0x00, 0x39}, {0x7E, 0x00}, 3840.25f), 3840.25f);
}

// The steps above as a GEMM (1x1x256, unit scales, fp32 out): K 0-31 hold 60*32 twice and
// 0.75*0.5 (3840.25), K 32 holds 1.125*0.25 (3840.5 with c); K 128-255 repeat K 0-127.
TEST(Sm90Step, FastAccumulationAgainstPromotionByHand) {
  Spec s = make_spec(Op::tensor, "cublaslt", 1, 1, 256);
  Operands in = unit_scales(s, {std::vector<uint8_t>(256), std::vector<uint8_t>(256), {}, {}});
  for (int half : {0, 128}) {
    in.a[half + 0] = in.a[half + 1] = 0x67, in.b[half + 0] = in.b[half + 1] = 0x60;
    in.a[half + 2] = 0x34, in.b[half + 2] = 0x30;
    in.a[half + 32] = 0x39, in.b[half + 32] = 0x28;
  }
  // Promotion: each 128-K chain gives 3840.5 (steps 3 and 4 see only dropped zeros), and
  // fl(3840.5 + 3840.5) = 7681.
  EXPECT_EQ(gemm_model(s, model("sm90"), in).value(0), 7681.0);
  // Fast accumulation continues the chain: at K = 128, c = 3840.5 (ec = 11) with 1920, 1920 and
  // 0.375: E = 11, u = 0.25: 15362 + 7680 + 7680 + 1.5 -> 1 = 30723 u = 7680.75, truncated to 14
  // bits (quantum 0.5): 7680.5. At K = 160, 0.28125 is 0.5625 u (u = 0.5) -> 0: 7680.5.
  EXPECT_EQ(gemm_model(s, model("sm90-fast-accum"), in).value(0), 7680.5);
  // The exact value: 2 * (1920 + 1920 + 0.375 + 0.28125) = 7681.3125.
  EXPECT_EQ(gemm_ideal(s, in).exact[0], 7681.3125);
}

// The CDNA3 FP8 MFMA step (model.cpp kCdna3, MMA-Sim's GTR_FDPA: a late join), worked by hand and
// checked against MMA-Sim 2.1.1. e4m3fnuz codes: 0x60 = 16, 0x09 = 1.125 * 2^-7, 0x89 = its negative.
namespace {

float cdna3(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, float c = 0) {
  return mma_step(model("gfx942").step, Format::e4m3fnuz, Format::e4m3fnuz, a, b, c);
}

}  // namespace

TEST(Cdna3Step, EvenAndOddProductsAreAlignedApart) {
  // 16 * 16 = 256 (pe = 8) and -1.125^2 * 2^-14 = -81 * 2^-20 (pe = -14). At an odd index the small
  // product is its group's own maximum and stays exact; the groups then meet on 2^(8 - 24) by
  // floor: -5.0625 * 2^-16 -> -6 * 2^-16, and 256 - 6 * 2^-16 is an fp32 value.
  EXPECT_EQ(cdna3({0x60, 0x89}, {0x60, 0x09}), 256.0f - 6 * 0x1p-16f);
  // At an even index it shares 256's group and is truncated toward zero there: -5 * 2^-16.
  EXPECT_EQ(cdna3({0x60, 0x00, 0x89}, {0x60, 0x00, 0x09}), 256.0f - 5 * 0x1p-16f);
}

TEST(Cdna3Step, TheAccumulatorMeetsTheDotLateAndFarBelowIsDropped) {
  // c = 1.5 * 2^-15 (ec = -15) is floored onto 2^(8 - 24): 3 * 2^-16; 256 + 3 * 2^-16 lies halfway
  // between fp32 neighbours (quantum 2^-15) and RNE goes to the even one, 256 + 2^-14.
  EXPECT_EQ(cdna3({0x60}, {0x60}, 1.5f * 0x1p-15f), 256.0f + 0x1p-14f);
  // c = 1.5 * 2^-18: ec = -18 < 8 - 24 - 1, dropped.
  EXPECT_EQ(cdna3({0x60}, {0x60}, 1.5f * 0x1p-18f), 256.0f);
}
