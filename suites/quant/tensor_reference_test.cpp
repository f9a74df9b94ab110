// quant.tensor's reference against the per-tensor kernels' sources (reference/quant/profile.cpp):
// one scale for the whole tensor, the reciprocal multiply and +max for NaN of vLLM and SGLang,
// TransformerEngine's guarded max / amax, static scales.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "harness/quant/quant_case.hpp"
#include "reference/quant/quant.hpp"

using namespace ulpgate;
using namespace ulpgate::quant;

namespace {

Spec tensor_spec(std::string_view prof, int64_t m, int64_t k, float static_scale = 0, Format f = Format::e4m3fn) {
  Spec s;
  s.op = Op::tensor;
  s.profile = &tensor_profile(prof);
  s.format = f;
  s.layout = Layout::row;
  s.m = m;
  s.k = k;
  s.static_scale = static_scale;
  return s;
}

constexpr uint8_t kPlusMax = 0x7E, kNan = 0x7F;  // e4m3fn 448 and NaN

}  // namespace

TEST(TensorReference, OneScaleFromTheWholeTensorsAmax) {
  // Row 2 holds the largest magnitude, negative: every row is quantized with its scale.
  const std::vector<float> x = {1, -2, 0.5f, 3, -7, 2, 0.25f, 1, -1};
  const Result r = quantize_profile(tensor_spec("vllm", 3, 3), x);
  ASSERT_EQ(r.scales.size(), 1u);
  EXPECT_EQ(r.scales[0], 7.0f / 448.0f);
  EXPECT_EQ(r.storage.size(), 4u);
  const float inv = 1.0f / r.scales[0];
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(r.codes[i], encode(x[i] * inv, Conversion{Format::e4m3fn, Overflow::satfinite})) << i;
}

TEST(TensorReference, VllmAllZeroTensorGivesPlusMaxCodes) {
  // s = 0, 1/s = Inf, 0 * Inf = NaN, fmaxf(-max, fminf(NaN, max)) = +max (common.cuh's clamp).
  for (std::string_view p : {"vllm", "sglang"}) {
    const Result r = quantize_profile(tensor_spec(p, 2, 8), std::vector<float>(16, 0.0f));
    EXPECT_EQ(r.scales[0], 0.0f) << p;
    for (uint8_t c : r.codes) EXPECT_EQ(c, kPlusMax) << p;
  }
}

TEST(TensorReference, NanGoesToPlusMaxUnderVllmAndStaysNanUnderTe) {
  const std::vector<float> x = {1, std::numeric_limits<float>::quiet_NaN(), -3, 2};
  EXPECT_EQ(quantize_profile(tensor_spec("vllm", 1, 4), x).codes[1], kPlusMax);
  const Result te = quantize_profile(tensor_spec("te", 1, 4), x);
  EXPECT_EQ(te.codes[1], kNan);
  EXPECT_EQ(te.scales[0], 1.0f / (448.0f / 3.0f));  // scale_inv = 1 / fl(max / amax)
}

TEST(TensorReference, TeScaleIsOneForZeroOrInfiniteAmax) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(quantize_profile(tensor_spec("te", 1, 4), std::vector<float>(4, 0.0f)).scales[0], 1.0f);
  const Result r = quantize_profile(tensor_spec("te", 1, 4), std::vector<float>{1.5f, inf, -2, 600});
  EXPECT_EQ(r.scales[0], 1.0f);
  EXPECT_EQ(decode(Format::e4m3fn, r.codes[0]), 1.5);   // x * 1
  EXPECT_EQ(r.codes[1], kPlusMax);                      // Inf saturates
  EXPECT_EQ(decode(Format::e4m3fn, r.codes[3]), 448.0);  // satfinite, no clamp
  // A tiny amax: max / amax overflows to Inf, replaced by FLT_MAX.
  EXPECT_EQ(ratio(448.0f, 1e-38f), std::numeric_limits<float>::max());
}

TEST(TensorReference, StaticScaleIsAnInputAndClips) {
  const Spec s = tensor_spec("vllm", 1, 4, 0.0123f);
  const Result r = quantize_profile(s, std::vector<float>{0.01f, -1, 6, -8});
  EXPECT_EQ(r.scales[0], 0.0123f);
  EXPECT_TRUE(r.storage.empty());  // the kernel writes no scale
  EXPECT_EQ(s.scale_bytes(), 0);
  EXPECT_EQ(r.codes[0], encode(0.01f * (1.0f / 0.0123f), Conversion{Format::e4m3fn, Overflow::satfinite}));
  EXPECT_EQ(r.codes[2], kPlusMax);         // 6 / 0.0123 = 487.8: clamped
  EXPECT_EQ(r.codes[3], kPlusMax | 0x80);  // -max
}

TEST(TensorReference, TeStaticMultipliesByTheReciprocalAndWritesItsInverse) {
  // TE's delayed-scaling cast: its `scale` m = fl(1/S), q = sat(x * m) without a clamp (NaN stays
  // NaN), and the cast writes scale_inv = fl(1/m), which is not S for S = 0.0123.
  const Spec s = tensor_spec("te", 1, 4, 0.0123f);
  EXPECT_EQ(s.problem(), "");
  const float nan = std::numeric_limits<float>::quiet_NaN(), m = 1.0f / 0.0123f;
  const Result r = quantize_profile(s, std::vector<float>{0.01f, nan, 6, -8});
  EXPECT_EQ(s.scale_bytes(), 4);
  EXPECT_EQ(r.scales[0], 1.0f / m);
  EXPECT_NE(r.scales[0], 0.0123f);
  EXPECT_EQ(r.codes[0], encode(0.01f * m, Conversion{Format::e4m3fn, Overflow::satfinite}));
  EXPECT_EQ(r.codes[1], kNan);
  EXPECT_EQ(r.codes[2], kPlusMax);         // 487.8 saturates
  EXPECT_EQ(r.codes[3], kPlusMax | 0x80);
}

TEST(TensorReference, SpecProblemsAreNamed) {
  Spec s = tensor_spec("vllm", 1, 4);
  s.profile = &profile("vllm");  // the group kernel's row
  EXPECT_EQ(s.problem(), "profile vllm is not a row of quant.tensor");
  s = tensor_spec("vllm", 1, 4);
  s.layout = Layout::col;
  EXPECT_NE(s.problem().find("row layout"), std::string::npos);
  EXPECT_EQ(tensor_spec("vllm", 0, 4).problem(), "");
  EXPECT_EQ(quantize_profile(tensor_spec("vllm", 0, 4), {}).codes.size(), 0u);
  EXPECT_EQ(tensor_spec("te", 1, 4, 0, Format::e4m3fnuz).problem(), "profile te does not support e4m3fnuz");
}

TEST(TensorReference, CaseIdsRoundTripWithTheStaticScale) {
  for (std::string_view id : {"quant.tensor/vllm/e4m3fn/bf16/31x640/static=0.0123/row/normal/s1",
                              "quant.tensor/te/e4m3fn/fp16/3x5/dynamic/row/zeros/s2"}) {
    const Case c = Case::parse(id);
    EXPECT_EQ(c.id(), id);
  }
  EXPECT_EQ(Case::parse("quant.tensor/vllm/e4m3fn/bf16/1x8/static=0.0123/row/normal/s1").spec.static_scale, 0.0123f);
  EXPECT_THROW(Case::parse("quant.tensor/vllm/e4m3fn/bf16/1x8/static=-1/row/normal/s1"), UsageError);
  EXPECT_THROW(Case::parse("quant.tensor/vllm/e4m3fn/bf16/1x8/gs128/row/normal/s1"), UsageError);
  EXPECT_THROW(Case::parse("quant.tensor/deepgemm/e4m3fn/bf16/1x8/dynamic/row/normal/s1"), UsageError);
}
