// The RMSNorm kernels' element arithmetic against exact results, over whole input spaces: the
// host rsqrt correctly rounded on two binades, narrowing to bf16/fp16 as the reference's RNE, the
// pair products T(a * b) rounded once (portable, through fp32 for bf16, and on the device).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/norm/norm_math.hpp"
#include "reference/formats/formats.hpp"

#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/norm/norm_gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"
#endif

using namespace ulpgate;

namespace {

TEST(NormMath, HostRsqrtIsCorrectlyRoundedOnTwoBinades) {
  // Every float v in [1, 4) (v * 4^k scales r by exactly 2^-k): r is correctly rounded iff the
  // exact 1/sqrt(v) lies strictly between the midpoints around r, i.e. lo^2 v < 1 < hi^2 v,
  // decided in integers: v = V 2^ev, r = R 2^er (24-bit V, R), midpoints (2R -+ 1) 2^(er-1).
  using u128 = unsigned __int128;
  int64_t wrong = 0;
  for (uint32_t u = std::bit_cast<uint32_t>(1.0f); u < std::bit_cast<uint32_t>(4.0f); ++u) {
    const float v = std::bit_cast<float>(u), r = dev::rsqrt(v);
    int ev, er;
    const uint64_t V = uint64_t(std::ldexp(std::frexp(v, &ev), 24)), R = uint64_t(std::ldexp(std::frexp(r, &er), 24));
    const int shift = -(2 * (er - 24) - 2 + (ev - 24));
    const u128 one = u128(1) << shift;
    wrong += !(u128(2 * R - 1) * (2 * R - 1) * V < one && one < u128(2 * R + 1) * (2 * R + 1) * V);
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(dev::rsqrt(0.0f), INFINITY);
  EXPECT_EQ(dev::rsqrt(INFINITY), 0.0f);
  EXPECT_TRUE(std::isnan(dev::rsqrt(-1.0f)));
}

// Floats whose low 8 bits are one of a few patterns, over every value of the upper 24: every
// exponent, sign and rounding position of bf16 and fp16, with tie, sticky and carry cases.
template <class Check>
void for_rounding_cases(Check&& check) {
  for (uint32_t hi = 0; hi < (1u << 24); ++hi)
    for (uint32_t lo : {0x00u, 0x01u, 0x80u, 0xffu}) check(std::bit_cast<float>(hi << 8 | lo));
}

TEST(NormMath, NarrowingIsTheReferenceRoundToNearestEven) {
  int64_t bf16_wrong = 0, fp16_wrong = 0;
  for_rounding_cases([&](float x) {
    bf16_wrong += norm_kernels::narrow_bf16(x) != round_nosat(Format::bf16, double(x));
    fp16_wrong += norm_kernels::narrow_fp16(x) != round_nosat(Format::fp16, double(x));
  });
  EXPECT_EQ(bf16_wrong, 0);
  EXPECT_EQ(fp16_wrong, 0);
}

// T(a * b) of two T values, rounded once: the reference rounds the exact (double) product. Every
// a against every 127th b (the specials, subnormals, both signs among them); each product's
// bf16 rounding of a subnormal result is the branch fp32 could not do.
TEST(NormMath, PairProductsAreTheExactProductRoundedOnce) {
  int64_t wrong[2] = {0, 0};
  for (uint32_t a = 0; a < 0x10000u; ++a)
    for (uint32_t b = 0; b < 0x10000u; b += 127) {
      const uint16_t x = uint16_t(a), y = uint16_t(b);
      for (Format f : {Format::bf16, Format::fp16}) {
        const double p = double(decode_f32(f, x)) * double(decode_f32(f, y));
        const uint16_t want = uint16_t(encode(p, Conversion{f, Overflow::nosat, Rounding::rne}));
        const uint16_t got = f == Format::bf16 ? norm_kernels::Elem<Format::bf16>::mul_round(x, y)
                                               : norm_kernels::Elem<Format::fp16>::mul_round(x, y);
        wrong[f == Format::fp16] += got != want && !(is_nan(f, got) && is_nan(f, want));
      }
    }
  EXPECT_EQ(wrong[0], 0) << "bf16";
  EXPECT_EQ(wrong[1], 0) << "fp16";
}

// rms and rms-add compute the round-twice output T(T(z r) w) as the fp32 product of the two bf16
// values rounded to bf16. That is the exact product rounded once for every pair: fp32 rounds a
// product of two bf16 values (16 significant bits) only below 2^-133, and there never onto the
// only bf16 rounding boundary in reach (2^-134) nor across it. Complete: a product is
// sa * sb * 2^e for significands sa, sb < 2^8, and both roundings depend on sa * sb and e alone;
// e covers every product from far below bf16's smallest subnormal to the fp32 normal range.
// (Checked once for all 2^32 pairs too, 0 differences.)
TEST(NormMath, Bf16ProductsRoundedThroughFp32AreRoundedOnce) {
  int64_t wrong = 0, subnormal = 0;
  for (int sa = 1; sa < 256; ++sa)
    for (int sb = 1; sb < 256; ++sb)
      for (int e = -175; e <= -110; ++e) {
        const float a = std::ldexp(float(sa), e + 133), b = std::ldexp(float(sb), -133);  // both bf16 values
        const double exact = double(a) * double(b);
        const uint16_t want = uint16_t(encode(exact, Conversion{Format::bf16, Overflow::nosat, Rounding::rne}));
        wrong += norm_kernels::narrow_bf16(a * b) != want;
        subnormal += std::fabs(exact) < 0x1p-126 && want != 0;
      }
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(subnormal, 500000);  // the range where fp32 could round first is covered (520136)
}

#if defined(ULPGATE_HAVE_CUDA)
// The device's pair multiply (bf16: mul.rn.bf16x2) is the same rounding for all 2^32 pairs, so the
// fused quantizer may use it (kernels/norm/PERF.md).
TEST(NormKernelsCuda, PairProductsOnTheDeviceAreTheExactProductRoundedOnce) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (Format f : {Format::bf16, Format::fp16}) {
    const norm_kernels::PairProductCheck c = norm_kernels::check_pair_products_gpu(f);
    EXPECT_EQ(c.mismatches, 0u) << format_name(f) << ", first (a << 16 | b): "
                                << (c.first.empty() ? 0u : c.first[0]);
  }
}
#endif

}  // namespace
