// The fused RMSNorm + quantization variants against vLLM's sources (reference/norm/profile.cpp):
// norm.rms-add-quant (z kept in fp32 by the dynamic kernel, rounded by the static one, the
// residual written back rounded), the per-token scale_ub, and static per-tensor scales.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "harness/norm/norm_case.hpp"
#include "reference/norm/norm.hpp"

using namespace ulpgate;
using namespace ulpgate::norm;

namespace {

Spec fused(Op op, std::string_view prof, int64_t m, int64_t h) {
  Spec s;
  s.op = op;
  s.profile = &profile(prof);
  s.dtype = Format::bf16;
  s.m = m;
  s.h = h;
  s.format = Format::e4m3fn;
  s.gs = 0;
  s.layout = quant::Layout::token;
  return s;
}

float bf16(double v) { return decode_f32(Format::bf16, encode(v, Conversion{Format::bf16, Overflow::nosat, ulpgate::Rounding::rne})); }

// x + residual values whose fp32 sum is not a bf16 value: the rounding of z shows.
Inputs sums_between_bf16(int64_t m, int64_t h) {
  Inputs in;
  for (int64_t i = 0; i < m * h; ++i) {
    in.x.push_back(bf16(1.0 + 0.0078125 * double(i % 7)));
    in.residual.push_back(bf16(0x1p-10 * double(2 * (i % 5) + 1)));  // odd multiples of 2^-10: sums round
  }
  for (int64_t i = 0; i < h; ++i) in.weight.push_back(bf16(0.75 + 0.0625 * double(i % 9)));
  return in;
}

}  // namespace

TEST(FusedVariants, DynamicAddQuantKeepsZInFp32AndStaticRoundsIt) {
  Spec dyn = fused(Op::rms_add_quant, "vllm", 2, 64), stat = dyn;
  stat.static_scale = 0.0123f;
  EXPECT_FALSE(dyn.rounds_residual());
  EXPECT_TRUE(stat.rounds_residual());
  EXPECT_TRUE(fused(Op::rms_add, "vllm", 2, 64).rounds_residual());
  const Inputs in = sums_between_bf16(2, 64);
  const Result d = normalize_profile(dyn, in), s = normalize_profile(stat, in);
  for (size_t i = 0; i < in.x.size(); ++i) {
    const float z = in.x[i] + in.residual[i];
    ASSERT_NE(z, bf16(z)) << i;  // the case needs sums off the bf16 grid
    EXPECT_EQ(d.residual[i], encode(z, Conversion{Format::bf16, Overflow::nosat, ulpgate::Rounding::rne})) << i;
    EXPECT_EQ(d.v[i], normalized_at(dyn, z, in.weight[i % 64], d.r[i / 64])) << i;
    EXPECT_EQ(s.v[i], normalized_at(stat, bf16(z), in.weight[i % 64], s.r[i / 64])) << i;
  }
}

TEST(FusedVariants, ScaleUbCapsTheTokenAmaxBeforeTheFloor) {
  Spec s = fused(Op::rms_quant, "vllm", 1, 64);
  Inputs in = sums_between_bf16(1, 64);
  in.residual.clear();
  const Result free = normalize_profile(s, in);
  float amax = 0;
  for (float v : free.v) amax = std::fmax(amax, std::fabs(v));
  s.scale_ub = 0.5f * amax;
  const Result capped = normalize_profile(s, in);
  EXPECT_EQ(capped.quant.scales[0], s.scale_ub / 448.0f);
  EXPECT_EQ(free.quant.scales[0], amax / 448.0f);
  // Values above the cap clamp to max.
  for (size_t i = 0; i < capped.v.size(); ++i)
    if (std::fabs(capped.v[i]) > s.scale_ub * 1.01f) {
      EXPECT_EQ(capped.quant.codes[i] & 0x7F, 0x7E) << i;
    }
  // The floor still applies below it: 2^-9 / 448.
  s.scale_ub = 1e-6f;
  EXPECT_EQ(normalize_profile(s, in).quant.scales[0], 0x1p-9f / 448.0f);
}

TEST(FusedVariants, StaticScaleQuantizesWithTheReciprocalAndWritesNoScale) {
  Spec s = fused(Op::rms_quant, "vllm", 1, 4);
  s.static_scale = 0.0123f;
  Inputs in;
  in.x = {1.0f, -2.0f, std::numeric_limits<float>::quiet_NaN(), 0.5f};
  in.weight = {1.0f, 1.0f, 1.0f, 1.0f};
  Inputs finite = in;
  finite.x[2] = 3.0f;
  const Result r = normalize_profile(s, finite);
  EXPECT_TRUE(r.quant.storage.empty());
  EXPECT_EQ(r.quant.scales[0], 0.0123f);
  for (size_t i = 0; i < 4; ++i) {
    const float q = std::fmax(std::fmin(r.v[i] * (1.0f / 0.0123f), 448.0f), -448.0f);
    EXPECT_EQ(r.quant.codes[i], encode(q, Conversion{Format::e4m3fn, Overflow::satfinite})) << i;
  }
  // A NaN row: every value NaN, which vLLM's per-tensor clamp sends to +max.
  for (uint8_t c : normalize_profile(s, in).quant.codes) EXPECT_EQ(c, 0x7E);
}

TEST(FusedVariants, ProblemsAndIdsAreNamed) {
  Spec s = fused(Op::rms_quant, "aiter", 1, 64);
  s.static_scale = 0.5f;
  EXPECT_NE(s.problem().find("no static per-tensor quantization"), std::string::npos) << s.problem();
  s = fused(Op::rms_quant, "vllm", 1, 128);
  s.gs = 128;
  s.layout = quant::Layout::row;
  s.scale_ub = 2;
  EXPECT_NE(s.problem().find("needs per-token scales"), std::string::npos) << s.problem();
  for (std::string_view id : {"norm.rms-add-quant/vllm/bf16/5x1024/e4m3fn/token/normal/s1",
                              "norm.rms-quant/vllm/bf16/5x1024/e4m3fn/token.ub=1.5/normal/s1",
                              "norm.rms-add-quant/vllm-unfused/bf16/5x1024/e4m3fn/static=0.0123/normal/s1",
                              "norm.rms-add-quant/aiter/bf16/3x7168/e4m3fn/gs128/ue8m0-packed/normal/s1"})
    EXPECT_EQ(Case::parse(id).id(), id);
  EXPECT_EQ(Case::parse("norm.rms-quant/vllm/bf16/5x1024/e4m3fn/static=0.0123/normal/s1").spec.static_scale, 0.0123f);
  EXPECT_THROW(Case::parse("norm.rms-quant/vllm/bf16/5x1024/e4m3fn/static=-2/normal/s1"), UsageError);
  EXPECT_THROW(Case::parse("norm.rms-quant/vllm/bf16/5x1024/e4m3fn/token.ub=x/normal/s1"), UsageError);
}
