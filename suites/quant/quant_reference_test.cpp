// The quantization reference against the facts of spec/quant.md and spec/formats.md.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "reference/quant/element.hpp"
#include "reference/quant/quant.hpp"

using namespace ulpgate;
using namespace ulpgate::quant;

namespace {

Spec group_spec(std::string_view prof, Format f = Format::e4m3fn, bool ue8m0 = false, int64_t m = 1,
                int64_t k = 128, Layout l = Layout::row) {
  Spec s;
  s.op = Op::group;
  s.profile = &profile(prof);
  s.format = f;
  s.gs = 128;
  s.layout = l;
  s.ue8m0 = ue8m0;
  s.m = m;
  s.k = k;
  return s;
}

uint8_t ue8m0_byte(float s) {
  return uint8_t(encode(s, Conversion{Format::ue8m0, Overflow::nosat, Rounding::rne}));
}

}  // namespace

TEST(QuantReference, AllZeroGroupScalesPerProfile) {
  const std::vector<float> zeros(128, 0.0f);
  auto scale = [&](std::string_view p, bool ue8m0) {
    return quantize_profile(group_spec(p, Format::e4m3fn, ue8m0), zeros).scales[0];
  };
  EXPECT_EQ(scale("vllm", false), 1e-10f / 448.0f);
  EXPECT_NEAR(scale("vllm", false), 2.232e-13, 1e-16);
  EXPECT_EQ(ue8m0_byte(scale("vllm", true)), 0x5E);         // 2^-33
  EXPECT_EQ(ue8m0_byte(scale("vllm-triton", true)), 0x55);  // 2^-42
  EXPECT_EQ(ue8m0_byte(scale("sglang", true)), 0x55);       // 2^-42
  EXPECT_EQ(ue8m0_byte(scale("deepgemm", true)), 0x69);     // 2^-22
  for (auto p : {"vllm", "vllm-triton", "deepgemm", "aiter", "sglang"}) {
    const auto r = quantize_profile(group_spec(p, Format::e4m3fn, true), zeros);
    for (uint8_t c : r.codes) EXPECT_EQ(c, 0) << p;
  }
}

TEST(QuantReference, NanIsIgnoredByAmaxAndBecomesMinusMax) {
  std::vector<float> x(128, 1.0f);
  x[5] = NAN;
  x[7] = 448.0f;
  const auto r = quantize_profile(group_spec("vllm"), x);
  EXPECT_EQ(r.scales[0], 1.0f);
  EXPECT_EQ(r.codes[5], 0xFE);  // -448
  EXPECT_EQ(r.codes[7], 0x7E);
  EXPECT_EQ(r.codes[0], encode(1.0f, Conversion{Format::e4m3fn}));
}

TEST(QuantReference, InfInputMakesAnInfScale) {
  std::vector<float> x(128, 3.0f);
  x[9] = INFINITY;
  const auto r = quantize_profile(group_spec("vllm", Format::e4m3fn, true, 1, 128, Layout::ue8m0_packed), x);
  EXPECT_TRUE(std::isinf(r.scales[0]));
  EXPECT_EQ(r.storage[0], 0xFF);
  EXPECT_EQ(r.codes[0], 0x00);  // finite elements -> 0
  EXPECT_EQ(r.codes[9], 0xFE);  // Inf / Inf = NaN -> -max
}

TEST(QuantReference, FnuzUses224UnderVllmAnd240UnderAiter) {
  std::vector<float> x(128, 0.5f);
  x[0] = 240.0f;
  const auto v = quantize_profile(group_spec("vllm", Format::e4m3fnuz), x);
  const auto a = quantize_profile(group_spec("aiter", Format::e4m3fnuz), x);
  EXPECT_EQ(v.codes[0], 0x7E);  // 224
  EXPECT_EQ(a.codes[0], 0x7F);  // 240
  EXPECT_EQ(v.scales[0], 240.0f / 224.0f);
}

TEST(QuantReference, ZeroRowsAreANoOp) {
  const auto r = quantize_profile(group_spec("vllm", Format::e4m3fn, true, 0, 640, Layout::ue8m0_packed), {});
  EXPECT_TRUE(r.codes.empty());
  EXPECT_TRUE(r.scales.empty());
  EXPECT_TRUE(r.storage.empty());
}

TEST(QuantReference, ShapeProblemsAreNamed) {
  Spec s = group_spec("vllm", Format::e4m3fn, false, 4, 100);
  EXPECT_NE(s.problem().find("not a multiple"), std::string::npos);
  Spec d = group_spec("deepgemm", Format::e4m3fnuz);
  EXPECT_NE(d.problem().find("does not support"), std::string::npos);
}

TEST(QuantReference, MxFloorAndRceilDifferAt500) {
  Spec s;
  s.op = Op::mx;
  s.gs = 32;
  s.layout = Layout::mx_row;
  s.m = 1;
  s.k = 32;
  std::vector<float> x(32, 1.0f);
  x[3] = 500.0f;
  s.profile = &profile("ocp-mx");
  const auto floor_r = quantize_profile(s, x);
  EXPECT_EQ(floor_r.scales[0], 1.0f);
  EXPECT_EQ(floor_r.codes[3], 0x7E);  // 500 clamped to 448
  s.profile = &profile("te");
  const auto rceil_r = quantize_profile(s, x);
  EXPECT_EQ(rceil_r.scales[0], 2.0f);
  EXPECT_EQ(rceil_r.codes[3], encode(256.0f, Conversion{Format::e4m3fn}));  // 250 rounds to 256
  // amax = 0 gives the smallest scale; a NaN makes the whole block NaN.
  std::vector<float> z(32, 0.0f);
  EXPECT_EQ(quantize_profile(s, z).storage[0], 0x00);
  z[1] = NAN;
  s.profile = &profile("ocp-mx");
  const auto n = quantize_profile(s, z);
  EXPECT_EQ(n.storage[0], 0xFF);
  for (uint8_t c : n.codes) EXPECT_TRUE(is_nan(Format::e4m3fn, c));
}

TEST(QuantReference, IdealCodeRoundsTheExactQuotient) {
  const Conversion c{Format::e4m3fn};
  // 464 = tie between 448 and 480: even code 448.
  EXPECT_EQ(ideal_code(464.0, 1.0, 0, c), 0x7Eu);
  EXPECT_EQ(ideal_code(-464.0, 1.0, 0, Conversion{Format::e4m3fn, Overflow::nosat}), 0xFEu);
  EXPECT_EQ(ideal_code(465.0, 1.0, 0, Conversion{Format::e4m3fn, Overflow::nosat}), 0x7Fu);
  EXPECT_EQ(ideal_code(1000.0, 1.0, 448, c), 0x7Eu);
  // A quotient the fp32 division rounds across a boundary: x / s just below the 1.0625 tie.
  const float s = 3.0f;
  const double x = 3.0 * 1.0625 - std::ldexp(1.0, -40);  // not an fp32 value, but exact in double
  EXPECT_EQ(ideal_code(x, s, 448, c), 0x38u);  // 1.0: below the tie
}

namespace ulpgate::quant {
namespace {

// The ideal code by a linear walk up the format's grid with exact midpoint comparisons: the
// oracle for element::ideal_code's one-step correction of the fp32 quotient's code.
template <Format F>
uint32_t ideal_by_walk(double x, double s, double clamp_max, Overflow overflow) {
  const double ax = std::fabs(x);
  const uint32_t last = info_of<F>().max_mag + 1;
  double v = clamp_max;
  if (!(clamp_max > 0 && ax >= s * clamp_max)) {
    uint32_t i = 0;
    while (i < last) {
      const double mid = s * ((element::grid_value<F>(i) + element::grid_value<F>(i + 1)) / 2);
      if (ax > mid || (ax == mid && (i & 1))) ++i;
      else break;
    }
    v = element::grid_value<F>(i);
  }
  return encode(std::signbit(x) ? -v : v, Conversion{F, overflow});
}

template <Format F>
void expect_ideal_codes_as_the_walk() {
  std::mt19937_64 rng{static_cast<uint64_t>(F)};
  const auto below = [&](uint64_t n) { return rng() % n; };
  for (uint64_t t = 0; t < 200000; ++t) {
    // Every fourth scale from 2^-120 to 2^120: quotients that overflow or underflow fp32 too.
    const int e = t % 4 == 3 ? int(below(240)) - 120 : int(below(40)) - 30;
    // Scales of 24 significant bits: s times a midpoint is then rarely an fp32 value, and its
    // rounding can land the fp32 quotient on the midpoint itself.
    const float s = std::ldexp(1.0f + float(below(1 << 23)) / float(1 << 23), e);
    const auto code = uint32_t(below(info_of<F>().max_mag + 1));
    // Around a grid point or a midpoint, at most a few fp64 ulps away, or exactly on it.
    const double point = element::grid_value<F>(code), next = element::grid_value<F>(code + 1);
    const double target = t % 2 ? point : (point + next) / 2;
    const int nudge = int(below(7)) - 3;
    double x = double(s) * target;
    for (int k = 0; k < std::abs(nudge); ++k) x = std::nextafter(x, nudge > 0 ? INFINITY : -INFINITY);
    // The same in fp32 ulps, for the fp32 quotient the device reference estimates from.
    float xf = float(double(s) * target);
    for (int k = 0; k < std::abs(nudge); ++k) xf = std::nextafter(xf, nudge > 0 ? INFINITY : -INFINITY);
    if (t % 3 == 0) x = -x, xf = -xf;
    // The fast casts, and one without the fast path (the generic encode after the same rounding).
    for (Overflow o : {Overflow::satfinite, Overflow::nosat, Overflow::hip_host})
      // No clamp, one at max, one a step below it (vLLM's 224 on e4m3fnuz, whose max is 240).
      for (double clamp : {0.0, element::grid_value<F>(info_of<F>().max_mag), element::grid_value<F>(info_of<F>().max_mag - 1)}) {
        const uint32_t want = ideal_by_walk<F>(x, s, clamp, o);
        if (o != Overflow::hip_host) {
          ASSERT_EQ(element::ideal_code<F>(x, double(s), clamp, FastRneCast<F>(o)), want) << x << " / " << s;
          if (std::isfinite(xf)) {
            ASSERT_EQ(element::ideal_code<F>(xf, s, clamp, FastRneCast<F>(o)), ideal_by_walk<F>(double(xf), s, clamp, o))
                << xf << " / " << s;
          }
        }
        ASSERT_EQ(ideal_code(x, s, clamp, Conversion{F, o}), want) << x << " / " << s;
      }
  }
}

TEST(QuantReference, IdealCodesAreTheExactQuotientsRoundedOnTheGrid) {
  expect_ideal_codes_as_the_walk<Format::e4m3fn>();
  expect_ideal_codes_as_the_walk<Format::e4m3fnuz>();
  expect_ideal_codes_as_the_walk<Format::e5m2>();
}

}  // namespace
}  // namespace ulpgate::quant
