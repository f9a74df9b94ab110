// quant.silu-mul: the activation's reference against hand values and vLLM's source facts
// (reference/quant/profile.cpp), the admissible y of a 2-ulp exp, and the comparator on faulty
// outputs (halves swapped, a y off by more than the exp allows, a scale stride bug).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "harness/quant/run_case.hpp"
#include "reference/quant/silu.hpp"

using namespace ulpgate;
using namespace ulpgate::quant;

namespace {

Spec silu_spec(int64_t m, int64_t k, int gs = 128, Layout l = Layout::row) {
  Spec s;
  s.op = Op::silu_mul;
  s.profile = &profile_for(Op::silu_mul, "vllm");
  s.format = Format::e4m3fn;
  s.gs = gs;
  s.layout = l;
  s.m = m;
  s.k = k;
  return s;
}

}  // namespace

TEST(SiluReference, ExpIsCorrectlyRounded) {
  EXPECT_EQ(exp_correctly_rounded(0.0f), 1.0f);
  EXPECT_EQ(exp_correctly_rounded(1.0f), 2.71828174591064453125f);  // e rounded to fp32
  EXPECT_EQ(exp_correctly_rounded(-104.0f), 0.0f);                   // below half the least subnormal
  EXPECT_TRUE(std::isinf(exp_correctly_rounded(89.0f)));
  EXPECT_GT(exp_correctly_rounded(-100.0f), 0.0f);  // subnormal: 3.7e-44
  for (float x : {-10.5f, -0.3f, 0.7f, 3.25f, 20.0f}) {
    const double exact = std::exp(static_cast<long double>(x));
    const float f = exp_correctly_rounded(x);
    EXPECT_LE(std::fabs(double(f) - exact), std::fabs(double(std::nextafter(f, INFINITY)) - exact)) << x;
    EXPECT_LE(std::fabs(double(f) - exact), std::fabs(double(std::nextafter(f, 0.0f)) - exact)) << x;
  }
}

TEST(SiluReference, ProfileStepsAndTheIdeal) {
  // y = (g * fl(1 / fl(1 + e))) * u, each step in fp32.
  const float g = 1.5f, u = -2.0f, e = exp_correctly_rounded(-1.5f);
  const float d = 1.0f + e, s = 1.0f / d;
  EXPECT_EQ(silu_mul_at(g, u, e), (g * s) * u);
  EXPECT_NEAR(silu_mul_exact(g, u), -3.0 / (1.0 + std::exp(-1.5)), 1e-15);
  // Large negative gates: e overflows, 1 / Inf = 0, y = -0 (for u > 0).
  EXPECT_EQ(silu_mul_at(-120.0f, 3.0f, exp_correctly_rounded(120.0f)), 0.0f);
  EXPECT_TRUE(std::signbit(silu_mul_at(-120.0f, 3.0f, exp_correctly_rounded(120.0f))));
}

TEST(SiluReference, AdmissibleYCoversTwoUlpsOfExpEachSide) {
  const Spec s = silu_spec(1, 128);
  const float g = 0.37f, u = 1.75f;
  const std::vector<float> ys = admissible_y(s, g, u);
  EXPECT_GE(ys.size(), 2u);
  EXPECT_LE(ys.size(), 5u);
  float e = exp_correctly_rounded(-g);
  for (int i = 0; i < 2; ++i) e = std::nextafter(e, 0.0f);
  for (int i = 0; i <= 4; ++i, e = std::nextafter(e, INFINITY))
    EXPECT_NE(std::ranges::find(ys, silu_mul_at(g, u, e)), ys.end()) << i;
  EXPECT_TRUE(std::is_sorted(ys.begin(), ys.end()));
}

TEST(SiluReference, VllmFloorsTheScaleAndDoesNotSaturate) {
  Spec s = silu_spec(1, 128);
  std::vector<float> zeros(256, 0.0f);
  const Result z = quantize_profile(s, silu_mul_values(s, zeros));
  EXPECT_EQ(z.scales[0], 1e-10f);  // fmaxf(amax / 448, 1e-10f) on the scale
  for (uint8_t c : z.codes) EXPECT_EQ(c & 0x7F, 0);
  // No clamp, non-saturating cast: a value at 464 * s or beyond is NaN (c10's e4m3fn cast).
  EXPECT_EQ(quantize_value(s, 465.0f, 465.0f, 1.0f), 0x7F);
  EXPECT_EQ(quantize_value(s, 460.0f, 460.0f, 1.0f), 0x7E);
}

namespace {

enum class Fault { swapped, exp_off, col_stride };

// The reference's output with one fault, as a backend would write it.
class SiluFaultBackend : public Backend {
 public:
  explicit SiluFaultBackend(Fault f) : fault_(f) {}
  std::string name() const override { return "silu-fault@host-w32"; }
  void quant(const Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    std::vector<float> v(x.size() / 2);
    for (size_t i = 0; i < v.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, &x[2 * i], 2);
      v[i] = input == Format::bf16 ? bf16_to_float(h) : fp16_to_float(h);
    }
    std::vector<float> y = silu_mul_values(spec, v);
    if (fault_ == Fault::swapped) {
      for (int64_t r = 0; r < spec.m; ++r)
        for (int64_t j = 0; j < spec.k; ++j)
          std::swap(v[size_t(r * 2 * spec.k + j)], v[size_t(r * 2 * spec.k + spec.k + j)]);
      y = silu_mul_values(spec, v);
    }
    if (fault_ == Fault::exp_off)  // an exp 8 ulp off: y a few ulp off everywhere
      for (int64_t r = 0; r < spec.m; ++r)
        for (int64_t j = 0; j < spec.k; ++j) {
          const float g = v[size_t(r * 2 * spec.k + j)], u = v[size_t(r * 2 * spec.k + spec.k + j)];
          float e = exp_correctly_rounded(-g);
          for (int i = 0; i < 8 && std::isfinite(e) && e > 0; ++i) e = std::nextafter(e, INFINITY);
          y[size_t(r * spec.k + j)] = silu_mul_at(g, u, e);
        }
    const Result r = quantize_profile(spec, y);
    std::memcpy(codes.data(), r.codes.data(), codes.size());
    std::memcpy(scales.data(), r.storage.data(), scales.size());
    if (fault_ == Fault::col_stride) {  // vLLM's transposed store: scale (t, g) at g * 64 + t, not g * M + t
      std::fill(scales.begin(), scales.end(), uint8_t(0));
      const ScaleShape ss = spec.scale_shape();
      for (int64_t t = 0; t < ss.m; ++t)
        for (int64_t g = 0; g < ss.g; ++g)
          if (size_t(g * 64 + t) * 4 < scales.size())
            std::memcpy(&scales[size_t(g * 64 + t) * 4], &r.scales[size_t(t * ss.g + g)], 4);
    }
  }

 private:
  Fault fault_;
};

CaseResult judged(std::string_view id, Fault f) {
  SiluFaultBackend b(f);
  return run_case(Case::parse(id), b).result;
}

}  // namespace

TEST(SiluCompare, HalvesSwappedAreNamed) {
  const CaseResult r = judged("quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1", Fault::swapped);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_NE(r.message.find("SiLU(up) * gate"), std::string::npos) << r.message;
}

TEST(SiluCompare, AnExpBeyondItsBoundIsOverBudget) {
  const CaseResult r = judged("quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1", Fault::exp_off);
  EXPECT_FALSE(passes(r.verdict)) << r.message;
  EXPECT_GT(r.n_over, 0u);
}

TEST(SiluCompare, TheColumnStrideBugIsALayoutFinding) {
  // 40 tokens, 2 groups: group 1's scales land from word 64 on, past the 80-word buffer from t = 16.
  const CaseResult r = judged("quant.silu-mul/vllm/e4m3fn/bf16/40x256/gs128/col/normal_sigma=2/s1", Fault::col_stride);
  EXPECT_EQ(r.verdict, Verdict::layout) << r.message;
  EXPECT_NE(r.message.find("stride of 64 rows instead of 40"), std::string::npos) << r.message;
}
