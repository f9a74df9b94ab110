// The quantization kernels on the host-SIMT backend: bit-exact to the profile-exact reference on
// every catalog case at warp size 32 and 64, and the emulator catching the known reduction bugs
// (spec/known-bugs.md R12, R17) through test-only faulty amax reductions.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "harness/backends/kernel_backends.hpp"
#include "harness/quant/catalog.hpp"
#include "harness/quant/run_case.hpp"
#include "kernels/portable/arch.hpp"
#include "suites/kernels/host_archs.hpp"
#include "suites/sample.hpp"
#include "kernels/quant/quant_host.hpp"
#include "reference/quant/silu.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/quant/quant_gpu.hpp"
#endif

using namespace ulpgate;
using namespace ulpgate::quant;

namespace {

std::unique_ptr<Backend> host_backend(std::string_view arch) {
  static const bool registered = (register_kernel_backends(), true);
  (void)registered;
  return make_backend("host", arch);
}

// Runs a case and states why it is not bit-exact to the profile-exact result ("" when it is).
// A bit-exact result is what the kernels owe; the comparator's verdict on it is the harness's
// business (it judges ue8m0 storage of an Inf scale, byte 0xFF, as NaN vs Inf: see the report).
std::string mismatch(const Case& c, Backend& b) {
  const CaseRun run = run_case(c, b);
  const bool same_codes = std::ranges::equal(run.codes, run.expected.profile.codes);
  if (same_codes && std::ranges::equal(run.storage, run.expected.profile.storage)) return {};
  if (!passes(run.result.verdict))
    return std::string(verdict_name(run.result.verdict)) + ": " + run.result.message +
           (run.result.first_bad.empty() ? "" : " first bad: " + run.result.first_bad[0]);
  if (!same_codes) return "codes differ from the profile-exact result";
  return "scale storage differs from the profile-exact result";
}

class CatalogOnHost : public ::testing::TestWithParam<std::string> {};

TEST_P(CatalogOnHost, EveryCaseIsBitExactToTheProfile) {
  const auto backend = host_backend(GetParam());
  EXPECT_EQ(backend->name(), "host@" + GetParam());
  int failures = 0, item = 0;
  for (const Case& c : catalog()) {
    if (!test_support::sampled(item++)) continue;
    const std::string why = mismatch(c, *backend);
    if (!why.empty() && ++failures <= 10) ADD_FAILURE() << c.id() << ": " << why;
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Archs, CatalogOnHost, test::host_archs(), test::ArchTestName{});

TEST(QuantKernelsHost, UnalignedInputTakesTheScalarPathWithTheSameResult) {
  const Case c = Case::parse("quant.group/sglang/e4m3fn/bf16/5x256/gs64/row/normal_sigma=4/s1");
  const Inputs in = c.inputs();
  const Expected want = expected(c, in);
  std::vector<std::byte> shifted(in.raw.size() + 2);
  std::memcpy(shifted.data() + 2, in.raw.data(), in.raw.size());  // 2-byte aligned only
  std::vector<uint8_t> codes(want.profile.codes.size(), 0xA5), scales(want.profile.storage.size(), 0xA5);
  host_backend("host-w32")->quant(c.spec, c.input, std::span(shifted).subspan(2), codes, scales);
  EXPECT_EQ(codes, want.profile.codes);
  EXPECT_EQ(scales, want.profile.storage);
}

TEST(QuantKernelsHost, ZeroRowsWriteNothing) {
  const Case c = Case::parse("quant.group/vllm/e4m3fn/bf16/0x640/gs32/ue8m0-packed/normal/s672");
  EXPECT_EQ(mismatch(c, *host_backend("host-w64")), "");
}

TEST(QuantKernelsHost, UnsupportedShapesFailBeforeLaunch) {
  Case c = Case::parse("quant.group/vllm/e4m3fn/bf16/3x512/gs128/row/normal/s1");
  c.spec.k = 500;  // not a multiple of the group size
  std::vector<std::byte> x(size_t(3 * 500 * 2));
  std::vector<uint8_t> codes(3 * 500), scales(size_t(storage_bytes(c.spec.layout, c.spec.scale_shape())));
  try {
    host_backend("host-w32")->quant(c.spec, c.input, x, codes, scales);
    FAIL() << "expected a BackendError";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("not a multiple of the group size"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> short_codes(10);
  c.spec.k = 512;
  EXPECT_THROW(host_backend("host-w32")->quant(c.spec, Format::bf16, std::vector<std::byte>(3 * 512 * 2),
                                               short_codes, scales),
               BackendError);
}

// The plan a case gets on sm90 (its e4m3 cast is the satfinite instruction).
quant_kernels::QuantPlan plan_on_sm90(std::string_view id) {
  const Case c = Case::parse(id);
  const int64_t elem = c.input == Format::fp32 ? 4 : 2;
  return quant_kernels::plan_quant(c.spec, c.input, arch_by_name("sm90"), size_t(c.spec.m * c.spec.input_cols() * elem),
                                   size_t(c.spec.m * c.spec.k), size_t(c.spec.scale_bytes()));
}

// quant.silu-mul's element paths on one emulated sm90 thread (its cast instruction): the codes of
// four chunks of y by the nosat dividing NativeCodes and by ProfileCodes (the profile as data,
// IEEE divisions), for a group of amax `amax`.
using SiluNative = quant_kernels::NativeCodes<true, quant_kernels::Clamp::none, false, true>;
std::pair<std::array<uint64_t, 4>, std::array<uint64_t, 4>> silu_value_codes_on_sm90(const quant_kernels::QuantMath& math,
                                                                                      float amax, const float (&v)[4][8]) {
  using Profile = quant_kernels::ProfileCodes;
  struct Codes {
    quant_kernels::QuantMath math;
    float v[4][8];
    float amax;
    std::array<uint64_t, 4>*native, *profile;
    void operator()() const {
      uint64_t n[4], p[4];
      SiluNative::value_codes(math, SiluNative::group(math, amax), v, n);
      Profile::value_codes(math, Profile::group(math, amax), v, p);
      std::copy_n(n, 4, native->begin());
      std::copy_n(p, 4, profile->begin());
    }
  };
  std::array<uint64_t, 4> native{}, profile{};
  Codes codes{math, {}, amax, &native, &profile};
  std::memcpy(codes.v, v, sizeof(v));
  host_simt::launch(arch_by_name("sm90"), {{1}, {1}, 0}, codes);
  return {native, profile};
}

// quant.silu-mul's staged loop (bf16, vLLM's form) walks a lane's groups a grid stride apart: on
// one block, 61 rows of 7 groups (4 lanes each) take 14 strides with the column wrapping, and the
// last leaves most lanes of the warp without a group (they compute and store nothing).
TEST(QuantKernelsHost, TheStagedSiluLoopOnOneBlockGivesTheProfilesResult) {
  const Case c = Case::parse("quant.silu-mul/vllm/e4m3fn/bf16/61x896/gs128/col-tma/normal_sigma=2/s1");
  const Inputs in = c.inputs();
  const Expected want = expected(c, in);
  const Arch arch = arch_by_name("sm90");
  quant_kernels::QuantPlan plan = plan_on_sm90(c.id());
  ASSERT_EQ(plan.lanes, 4);
  plan.main.grid.x = 1;
  std::vector<uint8_t> codes(want.profile.codes.size(), 0xA5), scales(want.profile.storage.size(), 0xA5);
  quant_kernels::launch_quant(plan, in.raw.data(), codes.data(), scales.data(),
                              [&](const LaunchConfig& cfg, const auto& kernel) { host_simt::launch(arch, cfg, kernel); });
  EXPECT_EQ(codes, want.profile.codes);
  EXPECT_EQ(scales, want.profile.storage);
}

TEST(QuantKernelsHost, NosatProfilesTakeTheNativeCastWithItsOverflowCheckOnSm90) {
  using quant_kernels::ElementPath;
  EXPECT_EQ(plan_on_sm90("quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/col-tma/normal_sigma=2/s1").path,
            ElementPath::divide_nosat);
  EXPECT_EQ(plan_on_sm90("quant.silu-mul/vllm/e4m3fn/bf16/9x7168/gs128/ue8m0-packed/normal/s1").path,
            ElementPath::multiply_nosat);
  EXPECT_EQ(plan_on_sm90("quant.group/deepgemm/e4m3fn/bf16/3x512/gs128/ue8m0-packed/normal/s1").path,
            ElementPath::multiply_nosat);
}

// The nosat native path against the profile as data, on the values where a satfinite instruction
// and a nosat cast part: the overflow threshold's neighbours, Inf, NaN, both signs.
TEST(QuantKernelsHost, NosatNativeCodesEqualTheProfileAroundTheOverflow) {
  const quant_kernels::QuantMath math =
      plan_on_sm90("quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1").math;
  ASSERT_GT(math.cast.overflow_at, 448.0f);
  const float at = math.cast.overflow_at, inf = std::numeric_limits<float>::infinity();
  const float probes[] = {447.0f, 448.0f, 455.0f, std::nextafter(at, 0.0f), at, std::nextafter(at, inf), 480.0f,
                          1e6f, inf, std::numeric_limits<float>::quiet_NaN(), 1.5f, 0.0f, -0.0f, 3e-3f, 1e-9f};
  for (float scale : {1.0f, 0.5f, 3.0f}) {
    float v[4][8] = {};  // 30 probes, two zeros
    int n = 0;
    for (float p : probes)
      for (float sign : {1.0f, -1.0f}) (&v[0][0])[n++] = sign * p * scale;
    const auto [native, profile] = silu_value_codes_on_sm90(math, 448.0f * scale, v);
    for (int c = 0; c < 4; ++c) EXPECT_EQ(native[c], profile[c]) << "scale " << scale << " chunk " << c;
  }
}

// The dividing path's codes of fp32 y without a division per element (quick_div) against the
// profile's IEEE quotients, on dividends at and next to every e4m3fn rounding boundary times the
// group's scale (the subnormal steps and half the smallest subnormal among them), both signs, 16
// group amaxes. Some of those products x * fl(1/s) round to another code than the quotient: there
// the correction step is what keeps the codes right.
TEST(QuantKernelsHost, QuickQuotientsGiveTheProfilesCodesAtEveryBoundary) {
  const quant_kernels::QuantMath math =
      plan_on_sm90("quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1").math;
  const Conversion nosat{Format::e4m3fn, Overflow::nosat};
  uint64_t state = 0x2545f4914f6cdd1dull;
  int product_differs = 0, chunks = 0;
  for (int a = 0; a < 16; ++a) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const float amax = std::ldexp(1.0f + float(state >> 41) / float(1 << 23), int(state >> 35 & 31) - 16);
    const auto g = SiluNative::group(math, amax);
    ASSERT_TRUE(g.quick) << amax;
    std::vector<float> xs;
    for (uint32_t c = 0; c < 0x7e; ++c) {  // the midpoint of codes c and c + 1
      const float b = (decode_f32(Format::e4m3fn, c) + decode_f32(Format::e4m3fn, c + 1)) / 2;
      float x = b * g.f;
      for (int k = 0; k < 6; ++k) x = std::nextafter(x, 0.0f);
      for (int k = 0; k < 13; ++k, x = std::nextafter(x, INFINITY))
        for (float sign : {1.0f, -1.0f}) {
          xs.push_back(sign * x);
          product_differs += encode(sign * x * g.y, nosat) != encode(sign * x / g.f, nosat);
        }
    }
    for (size_t i = 0; i + 32 <= xs.size(); i += 32, ++chunks) {
      float v[4][8];
      std::memcpy(v, xs.data() + i, sizeof(v));
      const auto [native, profile] = silu_value_codes_on_sm90(math, amax, v);
      for (int c = 0; c < 4; ++c) ASSERT_EQ(native[c], profile[c]) << "amax " << amax << " values from " << xs[i];
    }
  }
  EXPECT_GT(product_differs, 100) << chunks;
}

// The kernels' bf16 store of y (stored_in: RNE on the bits) is the reference's (quant::rounded_to,
// encode<bf16>) for every bf16 value's neighbourhood: the patterns just below, at and just above
// each tie, and the two ends of each bf16 step, both signs, Inf and NaN among them.
TEST(QuantKernelsHost, TheBf16StoreOfYIsTheReferenceRounding) {
  int ties = 0;
  for (uint32_t hi = 0; hi < 0x10000u; ++hi)
    for (uint32_t lo : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu}) {
      const float y = std::bit_cast<float>(hi << 16 | lo);
      const uint32_t got = std::bit_cast<uint32_t>(quant_kernels::stored_in(Format::bf16, y));
      ASSERT_EQ(got, std::bit_cast<uint32_t>(quant::rounded_to(Format::bf16, y))) << std::hex << (hi << 16 | lo);
      ties += lo == 0x8000u && (got >> 16) == (hi & ~1u) + ((hi & 1u) ? 2u : 0u);
    }
  EXPECT_GT(ties, 60000);  // ties went to even (an odd upper half up, an even one stays), not all one way
}

// The SiLU table (silu_kernels.hpp) holds its 24 binades of both signs, each gate's y bit for bit
// silu_mul's steps (here with the host's correctly rounded exp; QuantKernelsCuda with CUDA's expf).
TEST(QuantKernelsHost, TheSiluTableGivesSiluMulsStepsForEveryGateItHolds) {
  constexpr unsigned kThreads = 128;
  std::vector<uint32_t> held(kThreads), differ(kThreads, 1);
  host_simt::launch(arch_by_name("sm90"), {{1}, {kThreads}, 0}, quant_kernels::SiluTableProbe{held.data(), differ.data()});
  EXPECT_EQ(std::accumulate(held.begin(), held.end(), 0u), unsigned(quant_kernels::SiluTable::kEntries));
  EXPECT_EQ(std::accumulate(differ.begin(), differ.end(), 0u), 0u);
}

#if defined(ULPGATE_HAVE_CUDA)
TEST(QuantKernelsCuda, TheSiluTableGivesSiluMulsStepsForEveryGateItHolds) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const quant_kernels::SiluTableCheck c = quant_kernels::check_silu_table_gpu();
  EXPECT_EQ(c.held, uint64_t(quant_kernels::SiluTable::kEntries));
  EXPECT_EQ(c.differ, 0u);
}

// silu_mul_chunk's reciprocal is __frcp_rn's for every d = 1 + e it takes (1 <= d < 2^126).
TEST(QuantKernelsCuda, ReciprocalInRangeIsRcpRn) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const quant_kernels::ExhaustiveCheck c = quant_kernels::check_rcp_in_range_gpu();
  EXPECT_EQ(c.mismatches, 0u) << "first d bits " << std::hex << c.first;
}

// Markstein's correction with a correctly rounded reciprocal gives the IEEE quotient of 24-bit
// dividends too (quant_math.hpp's quick_div): every x and s in [1, 2), about a minute on an H100.
// Powers of two carry it to the guard's range (kernels/quant/PERF.md, "Quick division").
TEST(QuantKernelsCuda, QuickDivisionIsTheIeeeQuotientForEveryFp32Dividend) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const quant_kernels::QuickDivCheck c = quant_kernels::check_quick_div_gpu();
  EXPECT_EQ(c.mismatches, 0u) << "first s, x bits " << std::hex << c.first;
  EXPECT_GT(c.uncorrected, 0u) << "x * fl(1/s) alone was never wrong: the check would prove nothing";
  std::printf("quick_div: %llu of 2^46 pairs differ; x * fl(1/s) alone differs in %llu\n",
              (unsigned long long)c.mismatches, (unsigned long long)c.uncorrected);
}

// SGLang's sm90 build runs its silu and divisions with fast math (__expf, __fdividef, FTZ). The
// silu-mul comparator admits what CUDA's Math API documents for them (reference/quant/silu.hpp);
// the hardware must give nothing else: every bf16 gate against eight ups, and 2^20 random fp32
// quotients, about half of them past the documented range's ends.
TEST(QuantKernelsCuda, FastMathSiluAndDivisionStayWithinTheirDocumentedBounds) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const Profile& p = profile_for(Op::silu_mul, "sglang");
  Spec s;
  s.op = Op::silu_mul, s.profile = &p, s.m = 1, s.k = 128;
  std::vector<float> a, b;
  for (uint32_t h = 0; h < 65536; ++h)
    for (float u : {0.75f, -3.0f, 1e-3f, 1e20f, -1e-30f, 0x1p127f, 448.0f, 1e-39f}) a.push_back(bf16_to_float(uint16_t(h))), b.push_back(u);
  const size_t silu_pairs = a.size();
  uint64_t state = 0x243F6A8885A308D3ull;
  const auto bits = [&] { state = state * 6364136223846793005ull + 1442695040888963407ull; return uint32_t(state >> 32); };
  for (int i = 0; i < (1 << 20); ++i) a.push_back(std::bit_cast<float>(bits())), b.push_back(std::bit_cast<float>(bits()));
  const quant_kernels::FastMathValues v = quant_kernels::fast_math_gpu(a, b);
  const auto same = [](float x, float y) { return std::bit_cast<uint32_t>(x) == std::bit_cast<uint32_t>(y) || (std::isnan(x) && std::isnan(y)); };
  const auto has = [&](const std::vector<float>& set, float x) { return std::ranges::any_of(set, [&](float y) { return same(x, y); }); };
  uint64_t silu_bad = 0, silu_off = 0, div_bad = 0, div_off = 0;
  std::string first;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool silu = i < silu_pairs;
    if (silu && !has(admissible_y(s, a[i], b[i]), v.silu_mul[i]) && silu_bad++ == 0)
      first += "silu g=" + std::to_string(a[i]) + " u=" + std::to_string(b[i]) + " got " + std::to_string(v.silu_mul[i]) + "; ";
    silu_off += silu && !same(v.silu_mul[i], silu_mul_at(p, a[i], b[i], exp_correctly_rounded(-a[i])));
    if (!has(admissible_quotients(p, a[i], b[i]), v.quotient[i]) && div_bad++ == 0)
      first += "div " + std::to_string(a[i]) + " / " + std::to_string(b[i]) + " got " + std::to_string(v.quotient[i]) + "; ";
    div_off += !same(v.quotient[i], quotient(p, a[i], b[i]));
  }
  EXPECT_EQ(silu_bad, 0u) << first;
  EXPECT_EQ(div_bad, 0u) << first;
  EXPECT_GT(silu_off, 0u) << "fast math never left the profile-exact y: the check would prove nothing";
  EXPECT_GT(div_off, 0u);
  std::printf("fast math: %llu of %zu silu values and %llu of %zu quotients differ from the profile-exact ones, all admissible "
              "(%llu, %llu not)\n", (unsigned long long)silu_off, silu_pairs, (unsigned long long)div_off, a.size(),
              (unsigned long long)silu_bad, (unsigned long long)div_bad);
}

TEST(QuantKernelsCuda, WithoutADeviceTheCudaBackendCannotBeMade) {
  if (quant_kernels::gpu_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  host_backend("host-w32");  // registers the backends
  EXPECT_ANY_THROW(make_backend("cuda", "sm90"));
}
#endif

// ---- faulty reductions the emulator must catch ------------------------------------------------

// R12: the group reduction written for 32 lanes (shuffle width capped at 32), as in the wave64
// bugs: on a 64-lane wavefront the two halves of a 64-lane group never meet.
struct Wave32Amax {
  ULPGATE_DEVICE float operator()(float a, int lanes, bool propagate) const {
    const int width = std::min(lanes, 32);
    for (int offset = width / 2; offset > 0; offset /= 2)
      a = quant_kernels::amax_merge(a, dev::shfl_xor(a, offset, width), propagate);
    return a;
  }
};

// R17: a reduction covering 16 lanes (a group of 128 bf16 elements) applied to a group spread
// over more lanes than that: the lanes past the 16th never contribute to the amax.
struct SixteenLaneAmax {
  ULPGATE_DEVICE float operator()(float a, int lanes, bool propagate) const {
    const int width = std::min(lanes, 16);
    for (int offset = width / 2; offset > 0; offset /= 2)
      a = quant_kernels::amax_merge(a, dev::shfl_xor(a, offset, width), propagate);
    return a;
  }
};

// R23: a grid-wide amax without fabsf (negatives lost), and one whose blocks publish with a plain
// store instead of an atomic max (the last block to store wins).
struct SignedGridAmax : quant_kernels::GridAmax {
  ULPGATE_DEVICE static float step(const quant_kernels::QuantMath&, float a, float v) { return fmaxf(a, v); }
};
struct StoredGridAmax : quant_kernels::GridAmax {
  ULPGATE_DEVICE static void publish(uint32_t* slot, float a) { *slot = dev::as_uint(a); }
};

template <class Reduce, class Amax = quant_kernels::GridAmax>
class FaultyReductionBackend : public Backend {
 public:
  explicit FaultyReductionBackend(const Arch& arch) : arch_(arch) {}
  std::string name() const override { return "faulty@" + std::string(arch_.name); }
  void quant(const Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    quant_kernels::run_quant_host<Reduce, Amax>(arch_, spec, input, x, codes, scales);
  }

 private:
  const Arch& arch_;
};

// Cases whose groups span a whole warp: per-token rows (and 128x128 tiles, reduced per warp).
std::vector<Case> warp_wide_cases() {
  std::vector<Case> out;
  for (const Case& c : catalog())
    if (c.spec.op == Op::token || c.spec.op == Op::block) out.push_back(c);
  return out;
}

bool any_case_fails(Backend& b, const std::vector<Case>& cases) {
  return std::any_of(cases.begin(), cases.end(), [&](const Case& c) { return !mismatch(c, b).empty(); });
}

TEST(QuantKernelsFaults, R12Wave32ReductionPassesAtWarp32AndIsCaughtAtWarp64) {
  const std::vector<Case> cases = warp_wide_cases();
  ASSERT_FALSE(cases.empty());
  FaultyReductionBackend<Wave32Amax> w32(kHostW32), w64(kHostW64);
  EXPECT_FALSE(any_case_fails(w32, cases));
  EXPECT_TRUE(any_case_fails(w64, cases));  // caught: one failing case says it
}

TEST(QuantKernelsFaults, R17GroupWiderThanItsReductionIsCaught) {
  // gs 128 of fp32: 32 chunks of 4 elements, so 32 lanes per group.
  const Case c = Case::parse("quant.group/vllm/e4m3fn/fp32/8x512/gs128/row/normal_sigma=2/s1");
  for (const Arch* arch : {&kHostW32, &kHostW64}) {
    FaultyReductionBackend<SixteenLaneAmax> faulty(*arch);
    EXPECT_NE(mismatch(c, faulty), "") << arch->name;
    EXPECT_EQ(mismatch(c, *host_backend(arch->name)), "") << arch->name;
  }
}

// The verdict and story of a case on a backend.
CaseResult judged_on(std::string_view id, Backend& b) { return run_case(Case::parse(id), b).result; }

TEST(QuantKernelsFaults, R23AmaxWithoutFabsIsNamed) {
  // Values in [-8, 1]: the largest magnitude is negative.
  constexpr std::string_view id = "quant.tensor/vllm/e4m3fn/bf16/31x640/dynamic/row/uniform_lo=-8_hi=1/s1";
  FaultyReductionBackend<quant_kernels::ShuffleAmax, SignedGridAmax> faulty(kHostW32);
  const CaseResult r = judged_on(id, faulty);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_NE(r.message.find("the largest signed value"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("R23"), std::string::npos) << r.message;
  EXPECT_TRUE(passes(judged_on(id, *host_backend("host-w32")).verdict));
}

TEST(QuantKernelsFaults, R23PlainStoreInsteadOfAtomicMaxIsNamed) {
  // 20 blocks, each publishing its own share's amax; the last to store wins, which on the host's
  // workers (as on a GPU) may by chance be the block holding the true amax: a seed of three where
  // every one is missed has a chance of about 1/20^3.
  FaultyReductionBackend<quant_kernels::ShuffleAmax, StoredGridAmax> faulty(kHostW32);
  int caught = 0;
  for (int seed = 1; seed <= 3; ++seed) {
    const CaseResult r =
        judged_on("quant.tensor/sglang/e4m3fn/bf16/31x640/dynamic/row/normal_sigma=3/s" + std::to_string(seed), faulty);
    if (passes(r.verdict)) continue;
    ++caught;
    EXPECT_EQ(r.verdict, Verdict::over_budget);
    // The wrong amax is named; a first run that was right by chance is told by its repetition.
    const bool named = r.message.find("lost the contributions of the blocks") != std::string::npos;
    EXPECT_TRUE(named || r.message.starts_with("not deterministic: a repeated run gave")) << r.message;
  }
  EXPECT_GT(caught, 0);
}

}  // namespace
