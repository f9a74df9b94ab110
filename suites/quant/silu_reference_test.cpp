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

const Profile& vllm() { return profile_for(Op::silu_mul, "vllm"); }
const Profile& sglang() { return profile_for(Op::silu_mul, "sglang"); }
const Profile& te() { return profile_for(Op::silu_mul, "te"); }

Spec silu_spec(int64_t m, int64_t k, int gs = 128, Layout l = Layout::row, const Profile& p = vllm()) {
  Spec s;
  s.op = Op::silu_mul;
  s.profile = &p;
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
  EXPECT_EQ(silu_mul_at(vllm(), g, u, e), (g * s) * u);
  EXPECT_NEAR(silu_mul_exact(g, u), -3.0 / (1.0 + std::exp(-1.5)), 1e-15);
  // Large negative gates: e overflows, 1 / Inf = 0, y = -0 (for u > 0).
  EXPECT_EQ(silu_mul_at(vllm(), -120.0f, 3.0f, exp_correctly_rounded(120.0f)), 0.0f);
  EXPECT_TRUE(std::signbit(silu_mul_at(vllm(), -120.0f, 3.0f, exp_correctly_rounded(120.0f))));
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
    EXPECT_NE(std::ranges::find(ys, silu_mul_at(vllm(), g, u, e)), ys.end()) << i;
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

TEST(SiluReference, SglangFollowsItsFastMathBuild) {
  EXPECT_EQ(exp_ulps_at(vllm(), -10.0f), 2);       // expf: 2 ulp over the full range
  EXPECT_EQ(exp_ulps_at(sglang(), -10.0f), 2 + 11);  // __expf: 2 + floor(|1.173 x|)
  // y = fl(fl(g / fl(1 + e)) * u), not vLLM's g * fl(1 / d).
  const float g = 0.7f, u = 1.3f, e = exp_correctly_rounded(-g);
  EXPECT_EQ(silu_mul_at(sglang(), g, u, e), (g / (1.0f + e)) * u);
  // FTZ: a subnormal gate is a zero of its sign, and so is a subnormal product.
  EXPECT_EQ(silu_mul_at(sglang(), -1e-39f, 2.0f, 1.0f), 0.0f);
  EXPECT_TRUE(std::signbit(silu_mul_at(sglang(), -1e-39f, 2.0f, 1.0f)));
  EXPECT_NE(silu_mul_at(vllm(), -1e-39f, 2.0f, 1.0f), 0.0f);
  EXPECT_EQ(flushed(sglang(), 1e-39f), 0.0f);
  // __fdividef: 2 steps each side of fl(x / d) in [2^-126, 2^126]; 0 past 2^126.
  const std::vector<float> q = admissible_quotients(sglang(), 1.0f, 3.0f);
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[2], 1.0f / 3.0f);
  EXPECT_EQ(q[0], std::nextafter(std::nextafter(1.0f / 3.0f, 0.0f), 0.0f));
  EXPECT_EQ(admissible_quotients(sglang(), -5.0f, 0x1p127f), std::vector<float>{-0.0f});
  EXPECT_TRUE(std::signbit(admissible_quotients(sglang(), -5.0f, 0x1p127f)[0]));
  EXPECT_EQ(admissible_quotients(vllm(), 1.0f, 3.0f).size(), 1u);
  // The sm100 build of the same source: expf, IEEE division, subnormals kept.
  const Profile& precise = profile_for(Op::silu_mul, "sglang-precise");
  EXPECT_EQ(exp_ulps_at(precise, -10.0f), 2);
  EXPECT_EQ(admissible_quotients(precise, 1.0f, 3.0f).size(), 1u);
  EXPECT_EQ(silu_mul_at(precise, -1e-39f, 2.0f, 1.0f), -1e-39f);
  EXPECT_EQ(silu_mul_at(precise, g, u, e), silu_mul_at(sglang(), g, u, e));
}

TEST(SiluReference, SglangCodesAreOfTheStoredYAndItsScaleOfTheFp32Y) {
  // y just below a bf16 midpoint's upper neighbour: stored as bf16 it rounds up above the amax,
  // so the quotient passes 448 and the clamp holds it at 448 (0x7E); vLLM's fp32 y would not move.
  Spec s = silu_spec(1, 128, 128, Layout::row, sglang());
  std::vector<float> y(128, 0.5f);
  y[7] = std::nextafter(1.0f, 2.0f) * 1.00390625f;  // 1.00390637: bf16 rounds it to 1.0078125
  EXPECT_EQ(stored_y(sglang(), Format::bf16, y[7]), 1.0078125f);
  EXPECT_EQ(stored_y(sglang(), Format::fp32, y[7]), y[7]);
  EXPECT_EQ(stored_y(vllm(), Format::bf16, y[7]), y[7]);
  const Result r = silu_mul_quantized(s, Format::bf16, y);
  EXPECT_EQ(r.scales[0], y[7] / 448.0f);  // the fp32 y's amax
  EXPECT_EQ(r.codes[7], 0x7E);
  EXPECT_EQ(r.codes[0], quantize_value(s, 0.5f, y[7], r.scales[0]));
  // The amax starts at eps: an all-zero group's scale is 1e-10 / 448.
  EXPECT_EQ(silu_mul_quantized(s, Format::bf16, std::vector<float>(128, 0.0f)).scales[0], 1e-10f / 448.0f);
  // The approximate division gives the scale 2 steps either way.
  const std::vector<float> sc = admissible_scales(s, 3.0f);
  EXPECT_EQ(sc.size(), 5u);
  EXPECT_NE(std::ranges::find(sc, group_scale(s, 3.0f)), sc.end());
}

// TransformerEngine's gated MXFP8 kernel: vLLM's sigmoid form with expf, blocks of 32 sharing an
// rceil ue8m0 scale, and both the amax and the codes of y rounded to the input dtype first.
TEST(SiluReference, TeTakesItsAmaxAndCodesFromTheStoredYUnderAnMxScale) {
  EXPECT_EQ(te().mx, MxRule::rceil);
  EXPECT_FALSE(te().silu_divides || te().clamp || te().ftz || te().supports(Format::e4m3fnuz));
  EXPECT_TRUE(te().amax_from_stored_y && te().codes_from_stored_y);
  Spec s = silu_spec(1, 64, 32, Layout::mx_row, te());
  s.ue8m0 = true;
  EXPECT_TRUE(s.mx_scales() && s.pow2_scales() && s.problem().empty()) << s.problem();
  EXPECT_NE(silu_spec(1, 64, 128, Layout::mx_row, te()).problem().find("MX blocks of 32"), std::string::npos);
  // A y whose bf16 rounding moves the block's amax across an rceil step: the scale is the stored y's.
  float v = 448.0f;
  while (group_scale(s, v) == group_scale(s, rounded_to(Format::bf16, v))) v = std::nextafter(v, 0.0f);
  std::vector<float> y(64, 0.25f);
  y[3] = v, y[40] = -3.0f;
  const Result r = silu_mul_quantized(s, Format::bf16, y);
  const float stored = rounded_to(Format::bf16, v);
  EXPECT_EQ(r.scales[0], group_scale(s, stored));
  EXPECT_NE(r.scales[0], group_scale(s, v));
  EXPECT_EQ(r.codes[3], quantize_value(s, stored, stored, r.scales[0]));
  EXPECT_EQ(r.scales[1], group_scale(s, 3.0f));
  // NaN is skipped by the amax (fmaxf from 0) and stays NaN through the satfinite cast.
  y[5] = std::numeric_limits<float>::quiet_NaN();
  const Result n = silu_mul_quantized(s, Format::bf16, y);
  EXPECT_EQ(n.scales[0], r.scales[0]);
  EXPECT_EQ(n.codes[5] & 0x7F, 0x7F);
}

// Every y a fast-math kernel can give (each exp in __expf's window, each quotient __fdividef may
// give) is admissible, and the window is no wider than those paths: brute force over the paths.
TEST(SiluReference, SglangAdmissibleYIsExactlyTheFastMathPaths) {
  const Spec s = silu_spec(1, 128, 128, Layout::row, sglang());
  const Profile& p = sglang();
  for (float g : {-87.5f, -30.25f, -3.5f, -0.3f, 0.0f, 1e-39f, 0.7f, 5.0f, 17.0f, 90.0f})
    for (float u : {-3.0f, 1e-30f, 0.5f, 1e30f}) {
      std::vector<float> paths;
      float e = exp_correctly_rounded(-g);
      const int n = exp_ulps_at(p, -g);
      for (int i = 0; i < n && e > 0 && std::isfinite(e); ++i) e = std::nextafter(e, 0.0f);
      for (int i = 0; i <= 2 * n; ++i, e = std::nextafter(e, INFINITY)) {
        for (float t : admissible_quotients(p, flushed(p, g), flushed(p, 1.0f + flushed(p, e))))
          paths.push_back(flushed(p, t * flushed(p, u)));
        if (!std::isfinite(e)) break;
      }
      const std::vector<float> ys = admissible_y(s, g, u);
      for (float y : paths) EXPECT_NE(std::ranges::find(ys, y), ys.end()) << g << " " << u << " " << y;
      for (float y : ys) EXPECT_NE(std::ranges::find(paths, y), paths.end()) << g << " " << u << " " << y;
      EXPECT_NE(std::ranges::find(ys, silu_mul_at(p, g, u, exp_correctly_rounded(-g))), ys.end()) << g << " " << u;
    }
}

namespace {

enum class Fault { swapped, exp_off, col_stride, fast_math, fast_math_exp_off, scale_of_stored_y, codes_of_stored_y };

// A deterministic pick among n choices for element i, salt s.
size_t pick(size_t i, uint64_t salt, size_t n) {
  uint64_t h = (uint64_t(i) + 1) * 0x9E3779B97F4A7C15ull ^ salt * 0xBF58476D1CE4E5B9ull;
  h ^= h >> 31;
  return size_t(h % n);
}

// SGLang's sm90 kernel as fast math runs it: each exp somewhere in __expf's window (or, the
// fault, that exp rounded to bf16: an activation computed in the input dtype), each division any
// quotient __fdividef may give, FTZ, y stored in the input dtype for the codes. Over the scale's
// amax when `scale_of_stored`: the bug of a kernel that reads y back before its amax.
Result fast_math_result(const Spec& spec, Format input, std::span<const float> x, bool exp_in_bf16, bool scale_of_stored) {
  const Profile& p = *spec.profile;
  std::vector<float> y(size_t(spec.m * spec.k)), stored(y.size());
  for (int64_t r = 0; r < spec.m; ++r)
    for (int64_t j = 0; j < spec.k; ++j) {
      const size_t i = size_t(r * spec.k + j);
      const float g = x[size_t(r * 2 * spec.k + j)], u = x[size_t(r * 2 * spec.k + spec.k + j)];
      float e = exp_correctly_rounded(-g);
      const int n = exp_ulps_at(p, -g), steps = int(pick(i, 1, size_t(2 * n + 1))) - n;
      for (int k = 0; k < std::abs(steps) && e > 0 && std::isfinite(e); ++k) e = std::nextafter(e, steps < 0 ? 0.0f : INFINITY);
      if (exp_in_bf16) e = bf16_to_float(float_to_bf16(e));
      const std::vector<float> t = admissible_quotients(p, flushed(p, g), flushed(p, 1.0f + flushed(p, e)));
      y[i] = flushed(p, t[pick(i, 2, t.size())] * flushed(p, u));
      stored[i] = stored_y(p, input, y[i]);
    }
  Result res = quantize_profile(spec, scale_of_stored ? stored : y, stored);
  const std::vector<float> amax = group_amax(spec, scale_of_stored ? stored : y);
  for (size_t gi = 0; gi < res.scales.size(); ++gi) {
    const std::vector<float> sc = admissible_scales(spec, amax[gi]);
    res.scales[gi] = sc[pick(gi, 3, sc.size())];
  }
  for (int64_t r = 0; r < spec.m; ++r)
    for (int64_t j = 0; j < spec.k; ++j) {
      const size_t i = size_t(r * spec.k + j);
      const std::vector<float> q = admissible_quotients(p, stored[i], res.scales[size_t(r * spec.k / spec.gs + j / spec.gs)]);
      res.codes[i] = code_of_quotient(spec, q[pick(i, 4, q.size())]);
    }
  res.storage = pack(spec.layout, spec.scale_shape(), res.scales);
  return res;
}

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
          y[size_t(r * spec.k + j)] = silu_mul_at(*spec.profile, g, u, e);
        }
    std::vector<float> stored(y);  // the codes_of_stored_y fault: vLLM's steps, codes of y stored as bf16
    for (float& v : stored) v = rounded_to(input, v);
    const bool fast = fault_ == Fault::fast_math || fault_ == Fault::fast_math_exp_off || fault_ == Fault::scale_of_stored_y;
    const Result r = fast ? fast_math_result(spec, input, v, fault_ == Fault::fast_math_exp_off,
                                             fault_ == Fault::scale_of_stored_y)
                          : fault_ == Fault::codes_of_stored_y ? quantize_profile(spec, y, stored)
                                                               : silu_mul_quantized(spec, input, y);
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

// SGLang's fast-math arithmetic anywhere within its documented bounds passes; an exp with bf16's
// precision, or a scale taken from the stored y, does not.
TEST(SiluCompare, SglangFastMathWithinItsBoundsPassesAndBeyondFails) {
  for (std::string_view id : {"quant.silu-mul/sglang/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1",
                              "quant.silu-mul/sglang/e4m3fn/fp16/5x256/gs128/col-tma/normal/s1",
                              "quant.silu-mul/sglang/e4m3fn/bf16/3x512/gs128/row/uniform_lo=-120_hi=120/s1",
                              "quant.silu-mul/sglang/e4m3fn/bf16/3x512/gs128/row/uniform_lo=-8_hi=8_den=64/s1",
                              "quant.silu-mul/sglang/e4m3fn/bf16/3x512/gs128/row/normal_nan=97_inf=131/s1"}) {
    const CaseResult ok = judged(id, Fault::fast_math);
    EXPECT_TRUE(passes(ok.verdict)) << id << ": " << ok.message;
    EXPECT_GT(ok.n_within, 0u) << id;
  }
  const std::string_view id = "quant.silu-mul/sglang/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1";
  const CaseResult off = judged(id, Fault::fast_math_exp_off);
  EXPECT_FALSE(passes(off.verdict)) << off.message;
  EXPECT_GT(off.n_over, 0u);
  const CaseResult stored = judged(id, Fault::scale_of_stored_y);
  EXPECT_FALSE(passes(stored.verdict)) << stored.message;
  EXPECT_EQ(stored.message,
            "the scale follows the amax of y as stored in bf16 and the codes are those of y as stored in bf16; profile "
            "sglang takes the amax of the fp32 y and the codes of y as stored in bf16");
}

// The other way round: vLLM's steps with the codes computed from y as bf16 (the store SGLang makes):
// the step is named.
TEST(SiluCompare, CodesOfTheStoredYAreNamed) {
  const CaseResult r = judged("quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1", Fault::codes_of_stored_y);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << r.message;
  EXPECT_EQ(r.message,
            "the scale follows the amax of the fp32 y and the codes are those of y as stored in bf16; profile vllm takes "
            "the amax of the fp32 y and the codes of the fp32 y");
}

// TransformerEngine's steps with the block's amax taken over the fp32 y instead of y stored as
// bf16: a scale one ue8m0 step apart wherever the rounding crosses an rceil step; the step is named.
TEST(SiluCompare, TeScaleOfTheFp32YIsNamed) {
  const CaseResult r = judged("quant.silu-mul/te/e4m3fn/bf16/64x4096/gs32/mx-row/normal_sigma=2/s1", Fault::codes_of_stored_y);
  EXPECT_FALSE(passes(r.verdict)) << r.message;
  EXPECT_EQ(r.message,
            "the scale follows the amax of the fp32 y and the codes are those of y as stored in bf16; profile te takes "
            "the amax of y as stored in bf16 and the codes of y as stored in bf16");
}
