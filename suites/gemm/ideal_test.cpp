// The ideal against an independent slow oracle: every product summed as an exact rational
// (Boost.Multiprecision cpp_rational), rounded by walking the output format's codes and comparing
// with the exact midpoints. Random shapes for every op, both outputs and every format pair a
// profile takes, then the edge inputs of the brief with the expected bits derived by hand.
#include <gtest/gtest.h>

#include <boost/multiprecision/cpp_int.hpp>
#include <cfloat>

#include "gemm_test_util.hpp"

using namespace gemm_test;

namespace {

namespace mp = boost::multiprecision;
using Rational = mp::cpp_rational;

Rational exact(double x) {
  if (x == 0) return 0;
  int e;
  const double f = std::frexp(x, &e);
  const mp::cpp_int mant = int64_t(std::ldexp(f, 53));
  e -= 53;
  return e >= 0 ? Rational(mant << e) : Rational(mant, mp::cpp_int(1) << -e);
}

Rational oracle_value(const Spec& s, const Operands& in, int64_t m, int64_t n) {
  const Geometry g = geometry(s);
  Rational d = 0;
  for (int64_t kb = 0; kb < g.kblocks; ++kb) {
    Rational block = 0;
    for (int64_t k = g.block_begin(kb); k < g.block_end(kb); ++k)
      block += exact(decode(s.a_format, in.a[size_t(m * s.k + k)])) * exact(decode(s.b_format, in.b[size_t(n * s.k + k)]));
    d += exact(in.sa[size_t(g.sa_index(m, kb))]) * exact(in.sb[size_t(g.sb_index(n, kb))]) * block;
  }
  return d;
}

// x rounded to nearest, ties to even, on `out`'s codes, found by walking to the codes around x.
uint32_t oracle_round(Format out, const Rational& x) {
  if (x == 0) return 0;
  const FormatInfo fi = info(out);
  const uint32_t inf = fi.max_mag + 1, sign = x < 0 ? 1u << (fi.bits - 1) : 0u;
  const Rational ax = abs(x);
  const auto value = [&](uint32_t c) {  // the Inf code stands for 2^(emax + 1), where RN overflows
    return c == inf ? exact(std::ldexp(1.0, fi.emin + int(fi.max_mag >> fi.mbits))) : exact(decode(out, c));
  };
  uint32_t c = encode(ax.convert_to<double>(), Conversion{out, Overflow::satfinite, Rounding::rz});
  while (c > 0 && value(c) > ax) --c;
  while (c < inf && value(c + 1) <= ax) ++c;
  if (c == inf) return inf | sign;
  const Rational mid = (value(c) + value(c + 1)) / 2;
  if (ax > mid || (ax == mid && (c & 1))) ++c;
  return c | sign;
}

// The ideal's bits equal the oracle's, and its exact value is the oracle's within 2^-53.
void expect_matches_oracle(const Spec& s, const Operands& in, const std::string& what) {
  const Ideal ideal = gemm_ideal(s, in);
  ASSERT_EQ(ideal.out.bits.size(), size_t(s.m * s.n));
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t n = 0; n < s.n; ++n) {
      const size_t at = size_t(m * s.n + n);
      const Rational x = oracle_value(s, in, m, n);
      ASSERT_EQ(ideal.out.bits[at], oracle_round(s.out, x)) << what << " at (" << m << ", " << n << ")";
      ASSERT_LE(abs(exact(ideal.exact[at]) - x), abs(x) / (mp::cpp_int(1) << 53)) << what;
    }
}

const Profile* profile_for(Op op, Format a, Format b) {
  for (const Profile& p : profiles())
    if (p.supports(op) && p.takes(a, b)) return &p;
  return nullptr;
}

constexpr Format e4m3 = Format::e4m3fn, e5m2 = Format::e5m2, fnuz = Format::e4m3fnuz;

}  // namespace

TEST(GemmIdeal, MatchesTheOracleOnRandomShapes) {
  int cases = 0;
  for (Op op : {Op::tensor, Op::rowwise, Op::block, Op::mx})
    for (auto [a, b] : {std::pair{e4m3, e4m3}, {e4m3, e5m2}, {e5m2, e5m2}, {fnuz, fnuz}})
      for (Format out : {Format::bf16, Format::fp32}) {
        const Profile* p = profile_for(op, a, b);
        if (!p) continue;
        for (uint64_t seed = 1; seed <= 3; ++seed) {
          Rng g(seed * 131 + uint64_t(op));
          const int64_t k = op == Op::mx ? 32 * (1 + g.below(6)) : 1 + g.below(300);
          const Spec s = make_spec(op, p->name, 1 + g.below(5), 1 + g.below(6), k, a, b, out);
          for (Data data : {Data::codes, Data::normal})
            expect_matches_oracle(s, random_operands(s, seed, data), std::string(op_name(op)) + " " + std::string(p->name));
          ++cases;
        }
      }
  EXPECT_GE(cases, 30);  // every op, with every pair some profile takes
}

TEST(GemmIdeal, ManyBlocksAndPartialBlocks) {
  for (int64_t k : {640, 700, 129})
    for (auto [a, b] : {std::pair{e4m3, e4m3}, {e5m2, e5m2}}) {
      const Spec s = make_spec(Op::block, "cutlass-blockwise", 3, 130, k, a, b, Format::bf16);
      expect_matches_oracle(s, random_operands(s, uint64_t(k)), "block K = " + std::to_string(k));
    }
}

TEST(GemmIdeal, MaxMagnitude) {
  // 448 * 448 * 256 = 51380224 = 1.10001b * 2^25: exact in fp32 and bf16.
  for (Format out : {Format::fp32, Format::bf16}) {
    Spec s = make_spec(Op::block, "cublaslt", 2, 2, 256, e4m3, e4m3, out);
    Operands in = unit_scales(s, {std::vector<uint8_t>(512, 0x7E), std::vector<uint8_t>(512, 0x7E), {}, {}});
    in.a[256] = 0xFE;  // row 1: one -448 product
    const Ideal ideal = gemm_ideal(s, in);
    EXPECT_EQ(ideal.exact[0], 51380224.0);
    EXPECT_EQ(ideal.exact[2], 51380224.0 - 2 * 200704);
    expect_matches_oracle(s, in, "448");
  }
  // e5m2: 57344^2 * 128 needs more than fp64 per sum once mixed with small values.
  Spec s = make_spec(Op::block, "cutlass-blockwise", 1, 1, 128, e5m2, e5m2, Format::fp32);
  Operands in = unit_scales(s, {std::vector<uint8_t>(128, 0x7B), std::vector<uint8_t>(128, 0x7B), {}, {}});
  in.a[5] = 0x01, in.b[5] = 0x01;  // 2^-16 * 2^-16 = 2^-32 beside 57344^2 * 127
  EXPECT_EQ(gemm_ideal(s, in).exact[0], 57344.0 * 57344.0 * 127 + 0x1p-32);  // 2^38.6 + 2^-32: 71 bits, RNE
  expect_matches_oracle(s, in, "57344");
}

TEST(GemmIdeal, Fp8Subnormals) {
  const Spec s = make_spec(Op::block, "cutlass-blockwise", 3, 4, 256, e4m3, e5m2, Format::fp32);
  Rng g(7);
  Operands in = random_operands(s, 7);
  for (auto& c : in.a) c = uint8_t(g.below(8) | (g.below(2) << 7));  // e4m3 subnormals and zeros
  for (auto& c : in.b) c = uint8_t(g.below(4) | (g.below(2) << 7));  // e5m2 subnormals and zeros
  expect_matches_oracle(s, in, "subnormals");
}

TEST(GemmIdeal, ExactCancellationIsPositiveZero) {
  // A row and its negation along K: the second half of A negates the first, B repeats.
  Spec s = make_spec(Op::tensor, "cublaslt", 2, 3, 64, e4m3, e4m3, Format::fp32);
  Operands in = random_operands(s, 11);
  for (int64_t m = 0; m < 2; ++m)
    for (int64_t k = 0; k < 32; ++k) in.a[size_t(m * 64 + 32 + k)] = in.a[size_t(m * 64 + k)] ^ 0x80;
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t k = 0; k < 32; ++k) in.b[size_t(n * 64 + 32 + k)] = in.b[size_t(n * 64 + k)];
  const Ideal ideal = gemm_ideal(s, in);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(ideal.out.bits[i], 0u);  // +0
    EXPECT_EQ(ideal.exact[i], 0.0);
  }
  // Row 1 of A = -row 0: D[1] = -D[0] exactly.
  s = make_spec(Op::block, "cublaslt", 2, 3, 256, e4m3, e4m3, Format::bf16);
  in = random_operands(s, 12);
  for (int64_t k = 0; k < 256; ++k) in.a[size_t(256 + k)] = in.a[size_t(k)] ^ 0x80;
  for (int64_t kb = 0; kb < 2; ++kb) in.sa[size_t(2 + kb)] = in.sa[size_t(kb)];
  const Ideal neg = gemm_ideal(s, in);
  for (size_t n = 0; n < 3; ++n) EXPECT_EQ(neg.exact[3 + n], -neg.exact[n]);
  expect_matches_oracle(s, in, "negated row");
}

TEST(GemmIdeal, AllZeroBlocks) {
  const Spec s = make_spec(Op::block, "cublaslt", 3, 5, 384, e4m3, e4m3, Format::fp32);
  Operands in = random_operands(s, 13);
  for (int64_t m = 0; m < 3; ++m)
    for (int64_t k = 128; k < 256; ++k) in.a[size_t(m * 384 + k)] = 0;  // block 1 of A
  for (int64_t k = 0; k < 384; ++k) in.b[size_t(2 * 384 + k)] = 0x80;  // all of row 2 of B: -0
  const Ideal ideal = gemm_ideal(s, in);
  for (int64_t m = 0; m < 3; ++m) EXPECT_EQ(ideal.out.bits[size_t(m * 5 + 2)], 0u);
  expect_matches_oracle(s, in, "zero blocks");
}

// D built to land exactly on rounding boundaries (1-element GEMMs, expected bits by hand).
class Boundaries : public ::testing::Test {
 protected:
  // D = sum_kb sa[kb] sb[kb] sum_k a b for one output, with K = 128 per block.
  static uint32_t ideal_bits(Op op, Format out, const std::vector<std::vector<uint8_t>>& a_blocks,
                             const std::vector<float>& sa, const std::vector<float>& sb) {
    const int64_t kblock = op == Op::block ? 128 : int64_t(a_blocks[0].size());
    Spec s = make_spec(op, "cublaslt", 1, 1, kblock * int64_t(a_blocks.size()), e4m3, e4m3, out);
    Operands in{std::vector<uint8_t>(size_t(s.k)), std::vector<uint8_t>(size_t(s.k), 0x38), sa, sb};  // b = 1
    for (size_t kb = 0; kb < a_blocks.size(); ++kb)
      std::copy(a_blocks[kb].begin(), a_blocks[kb].end(), in.a.begin() + int64_t(kb) * kblock);
    expect_matches_oracle(s, in, "boundary");
    return gemm_ideal(s, in).out.bits[0];
  }
};

TEST_F(Boundaries, Bf16Ties) {
  // 1 + 2^-8 (0x02 = 2^-8): halfway between 1 (0x3F80) and 1 + 2^-7 (0x3F81): even, 0x3F80.
  EXPECT_EQ(ideal_bits(Op::tensor, Format::bf16, {{0x38, 0x02}}, {1}, {1}), 0x3F80u);
  // 1 + 2^-7 + 2^-8: halfway between 0x3F81 and 0x3F82: even, 0x3F82.
  EXPECT_EQ(ideal_bits(Op::tensor, Format::bf16, {{0x38, 0x04, 0x02}}, {1}, {1}), 0x3F82u);
  // Just above the first tie: 1 + 2^-8 + 2^-9 (0x01) rounds up.
  EXPECT_EQ(ideal_bits(Op::tensor, Format::bf16, {{0x38, 0x02, 0x01}}, {1}, {1}), 0x3F81u);
}

TEST_F(Boundaries, Fp32Ties) {
  // Block 0 sums to 1 (scale 1), block 1 to 1 or 3 with scales 2^-12 * 2^-12: D = 1 + 2^-24 is
  // halfway between 1 and 1 + 2^-23: even, 0x3F800000; 1 + 3 * 2^-24 halfway between 0x3F800001
  // and 0x3F800002: even, 0x3F800002.
  const std::vector<uint8_t> one{0x38}, three{0x38, 0x38, 0x38};
  EXPECT_EQ(ideal_bits(Op::block, Format::fp32, {one, one}, {1, 0x1p-12f}, {1, 0x1p-12f}), 0x3F800000u);
  EXPECT_EQ(ideal_bits(Op::block, Format::fp32, {one, three}, {1, 0x1p-12f}, {1, 0x1p-12f}), 0x3F800002u);
}

TEST_F(Boundaries, TiesBrokenBelowDoublePrecision) {
  // 1 + 2^-24 +- 2^-80: 57 significant bits, a hair off the fp32 tie: up (0x3F800001) or down.
  // A double rounding of D first would land on the tie and round to even (0x3F800000).
  const std::vector<uint8_t> one{0x38}, minus_one{0xB8};
  const std::vector<float> s{1, 0x1p-12f, 0x1p-40f};
  EXPECT_EQ(ideal_bits(Op::block, Format::fp32, {one, one, one}, s, s), 0x3F800001u);
  EXPECT_EQ(ideal_bits(Op::block, Format::fp32, {one, one, minus_one}, s, s), 0x3F800000u);
  // bf16: 1 + 2^-8 + 2^-80 rounds up to 0x3F81.
  EXPECT_EQ(ideal_bits(Op::block, Format::bf16, {one, one, one}, {1, 0x1p-4f, 0x1p-40f}, {1, 0x1p-4f, 0x1p-40f}),
            0x3F81u);
}

TEST_F(Boundaries, SubnormalOutputs) {
  // Scales 2^-75 * 2^-75 = 2^-150: D = 2^-150 is halfway between 0 and 2^-149: even, +0.
  EXPECT_EQ(ideal_bits(Op::tensor, Format::fp32, {{0x38}}, {0x1p-75f}, {0x1p-75f}), 0u);
  // 1.5 * 2^-150 rounds up to 2^-149; 3 * 2^-150 is halfway between 2^-149 and 2^-148: even, 2.
  EXPECT_EQ(ideal_bits(Op::tensor, Format::fp32, {{0x38, 0x30}}, {0x1p-75f}, {0x1p-75f}), 1u);
  EXPECT_EQ(ideal_bits(Op::tensor, Format::fp32, {{0x38, 0x38, 0x38}}, {0x1p-75f}, {0x1p-75f}), 2u);
  EXPECT_EQ(ideal_bits(Op::tensor, Format::fp32, {{0xB8, 0xB8, 0xB8}}, {0x1p-75f}, {0x1p-75f}), 0x80000002u);
  // bf16's smallest subnormal is 2^-133: 2^-134 ties to 0, 3 * 2^-134 to 2 * 2^-133.
  EXPECT_EQ(ideal_bits(Op::tensor, Format::bf16, {{0x38}}, {0x1p-67f}, {0x1p-67f}), 0u);
  EXPECT_EQ(ideal_bits(Op::tensor, Format::bf16, {{0x38, 0x38, 0x38}}, {0x1p-67f}, {0x1p-67f}), 2u);
}

TEST_F(Boundaries, Overflow) {
  // FLT_MAX = 2^128 - 2^104 from block 0, then 2^103 from block 1: exactly halfway to 2^128, and
  // FLT_MAX's significand is odd: Inf. 2^102 instead stays below the midpoint: FLT_MAX.
  const std::vector<uint8_t> one{0x38};
  EXPECT_EQ(ideal_bits(Op::block, Format::fp32, {one, one}, {FLT_MAX, 0x1p52f}, {1, 0x1p51f}), 0x7F800000u);
  EXPECT_EQ(ideal_bits(Op::block, Format::fp32, {one, one}, {FLT_MAX, 0x1p52f}, {1, 0x1p50f}), 0x7F7FFFFFu);
  // 448^2 * 2^120 is far beyond: +-Inf in both outputs.
  EXPECT_EQ(ideal_bits(Op::tensor, Format::fp32, {{0x7E}}, {0x1p60f}, {0x1p60f * 448}), 0x7F800000u);
  EXPECT_EQ(ideal_bits(Op::tensor, Format::bf16, {{0xFE}}, {0x1p60f}, {0x1p60f * 448}), 0xFF80u);
}

TEST(GemmIdeal, NonFiniteInputsAreIeee) {
  const Spec s = make_spec(Op::block, "cutlass-blockwise", 3, 2, 256, e4m3, e5m2, Format::bf16);
  Operands in = random_operands(s, 21);
  in.a[5] = 0x7F;        // NaN in row 0 of A
  in.b[256 + 7] = 0x7C;  // +Inf in row 1 of B
  const Ideal ideal = gemm_ideal(s, in);
  EXPECT_TRUE(std::isnan(ideal.out.value(0)) && std::isnan(ideal.out.value(1)));
  EXPECT_FALSE(std::isfinite(ideal.exact[3]));  // row 1 of A, column 1: an Inf product (or 0 * Inf)
  EXPECT_TRUE(std::isfinite(ideal.exact[2]));
  EXPECT_EQ(ideal.out.bits[2], oracle_round(s.out, oracle_value(s, in, 1, 0)));
}

TEST(GemmIdeal, EmptyShapes) {
  for (auto [m, n, k] : {std::tuple{0, 5, 64}, {5, 0, 64}, {0, 0, 0}}) {
    const Spec s = make_spec(Op::block, "cublaslt", m, n, k);
    ASSERT_EQ(s.problem(), "");
    EXPECT_TRUE(gemm_ideal(s, random_operands(s, 1)).out.bits.empty());
  }
  // K = 0: D = 0.
  const Spec s = make_spec(Op::tensor, "cublaslt", 2, 3, 0);
  const Ideal ideal = gemm_ideal(s, random_operands(s, 1));
  EXPECT_EQ(ideal.out.bits, std::vector<uint32_t>(6, 0u));
}
