// The device quantization reference (kernels/quant/reference_kernels.hpp) against the host
// reference, bit for bit: every case of the quantization catalog it computes (all but silu-mul), on
// the host-SIMT emulator at warp 32 and 64, and with CUDA where a GPU is present (the same cases,
// then production shapes). Codes, scales, scale storage and ideal codes must all be the host's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "harness/quant/catalog.hpp"
#include "kernels/quant/reference_host.hpp"
#include "kernels/quant/reference_kernels.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/quant/quant_gpu.hpp"
#include "kernels/quant/reference_gpu.hpp"
#endif

namespace ulpgate::quant {
namespace {

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The first difference between the device's result and the host's, or "".
std::string difference(const Expected& host, const quant_kernels::ReferenceResult& dev) {
  const auto first = [](const auto& a, const auto& b) {
    const auto at = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    return std::to_string(at.first - a.begin());
  };
  if (host.profile.codes != dev.profile.codes) return "profile codes differ at " + first(host.profile.codes, dev.profile.codes);
  if (!same_bits(host.profile.scales, dev.profile.scales)) return "scales differ";
  if (host.profile.storage != dev.profile.storage) return "scale storage differs at " + first(host.profile.storage, dev.profile.storage);
  if (host.ideal != dev.ideal) return "ideal codes differ at " + first(host.ideal, dev.ideal);
  return "";
}

// fn(case, its inputs, the host's result) for every catalog case the device reference computes:
// all but quant.silu-mul's and those with scales rounded by libm's log2.
template <class Fn>
void for_each_computed_case(Tier tier, Fn&& fn) {
  for (const Case& c : catalog(tier)) {
    const bool declined = !quant_kernels::reference_declines(c.spec, c.input).empty();
    const bool log2 = c.spec.pow2_scales() && c.spec.profile->pow2 == Pow2Rule::exp2_ceil_log2;
    EXPECT_EQ(declined, c.spec.op == Op::silu_mul || log2) << c.id();
    if (declined) continue;
    const Inputs in = c.inputs();
    fn(c, in, expected(c, in));
  }
}

TEST(QuantReferenceKernels, TheEmulatedDeviceComputesTheHostReference) {
  for (const Arch* arch : {&kHostW32, &kHostW64}) {
    for_each_computed_case(Tier::ci, [&](const Case& c, const Inputs& in, const Expected& host) {
      EXPECT_EQ(difference(host, quant_kernels::reference_host(*arch, c.spec, c.input, in.raw)), "") << c.id() << " " << arch->name;
    });
  }
}

// The emulated device's result for case `id` at warp 32 and 64 is the host's.
void expect_host_result(const char* id) {
  const Case c = Case::parse(id);
  const Inputs in = c.inputs();
  const Expected host = expected(c, in);
  for (const Arch* arch : {&kHostW32, &kHostW64})
    EXPECT_EQ(difference(host, quant_kernels::reference_host(*arch, c.spec, c.input, in.raw)), "") << id << " " << arch->name;
}

// Token rows longer than one warp's tile (kRowTileCols) and tiles narrower than a warp take the
// three-kernel path and the one-pass kernel's edges; tiles whose width is no power of two (96, 98)
// take the division in RefGeometry::tile_col, packed and element by element; the ci catalog has
// none of these.
TEST(QuantReferenceKernels, TheEmulatedDeviceComputesLongRowsAndNarrowTiles) {
  static_assert(quant_kernels::kRowTileCols < 2000);
  for (const char* id : {"quant.token/vllm/e4m3fn/bf16/5x2000/gs2000/token/normal_nan=97_inf=131/s1",
                         "quant.token/sglang/e4m3fnuz/fp32/3x1500/gs1500/token/normal_sigma=2/s2",
                         "quant.group/aiter/e4m3fn/fp16/9x96/gs16/row/normal_sigma=2/s3",
                         "quant.group/vllm/e4m3fn/bf16/3x4800/gs96/row/normal_sigma=2/s4",
                         "quant.group/vllm/e4m3fn/bf16/3x4802/gs98/row/normal_sigma=2/s5"})
    expect_host_result(id);
}

// Tiles whose scale lies outside quick division's range [2^-50, 2^50] (amax near 2^70 or
// 2^-110) divide by IEEE division, their quotients in the fp8 range: the common path of a pack
// (CodeSteps::common_pack) must leave them to it. The ci catalog's scales are all inside.
TEST(QuantReferenceKernels, TheEmulatedDeviceComputesScalesOutsideQuickDivision) {
  for (const char* id : {"quant.group/vllm/e4m3fn/bf16/4x512/gs128/row/pow2-boundary_scale=1_emin=60_emax=70/s1",
                         "quant.group/aiter/e4m3fn/bf16/4x512/gs128/row/pow2-boundary_scale=1_emin=-120_emax=-110/s2",
                         "quant.tensor/vllm/e4m3fn/bf16/4x512/dynamic/row/pow2-boundary_scale=1_emin=60_emax=70/s3"})
    expect_host_result(id);
}

// A pack of values for scale s: quotients x / s across the fp8 range, at the profile's and the
// format's max and beyond (up to 4 times the format's, the midpoint to the overflow point among
// them), on grid midpoints (exact ties where s is a power of two), specials (0, +-Inf, NaN,
// 2^+-100), both signs.
template <Format F>
void random_pack(std::mt19937_64& rng, float s, float max, float (&v)[quant_kernels::kPack]) {
  constexpr float top = element::grid_max<F>();
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (float& x : v) {
    const float u = unit(rng), sign = rng() & 1 ? -1.0f : 1.0f;
    float q;
    if (u < 0.4f) q = std::ldexp(1.0f + unit(rng), int(rng() % 22) - 13);                       // across the range
    else if (u < 0.6f) q = top * (1.0f + 3.0f * unit(rng));                                      // beyond max
    else if (u < 0.75f) q = float(element::grid_value<F>(uint32_t(rng() % 126)) + element::grid_value<F>(uint32_t(rng() % 126) + 1)) / 2;
    else if (u < 0.8f) q = top * (1.0f + std::ldexp(unit(rng) - 0.5f, -18));                     // at max
    else if (u < 0.85f) {  // max, the format's max, up to and at the midpoint past it
      const float past = float((top + element::grid_value<F>(info_of<F>().max_mag + 1)) / 2);
      const float at[] = {max, top, std::nextafter(top, past), std::nextafter(past, top), past};
      q = at[rng() % 5];
    }
    else {
      constexpr float special[] = {0.0f, INFINITY, NAN, 0x1p100f, 0x1p-100f};
      x = sign * special[rng() % 5];
      continue;
    }
    x = sign * q * s;
  }
}

// CodeSteps::common_pack against codes(), the general steps it stands in for: wherever it takes a
// pack, both codes of every element are codes()'. Every clamp rule and cast, both factors, the
// format's max and a smaller one, scales inside and outside quick division's [2^-50, 2^50], values
// outside its [2^-74, 2^76).
template <Format F>
void expect_common_path_agrees() {
  using quant_kernels::CodeSteps, quant_kernels::TileValues, quant_kernels::kPack, element::ClampRule;
  std::mt19937_64 rng{static_cast<uint64_t>(F) + 1};
  int64_t packs = 0, taken = 0;
  for (ClampRule rule : {ClampRule::none, ClampRule::nan_to_min, ClampRule::finite_only, ClampRule::nan_to_max})
    for (Overflow o : {Overflow::satfinite, Overflow::nosat})
      for (bool divide : {true, false})
        for (float max : {element::grid_max<F>(), element::grid_max<F>() * 0.875f})
          for (int trial = 0; trial < 2000; ++trial, ++packs) {
            const auto steps = CodeSteps<F>::of(rule, max, rule != ClampRule::none, o, divide);
            const int e = int(rng() % 141) - 70;
            const float s = trial % 3 ? std::ldexp(1.0f + float(rng() % 1024) / 1024.0f, e) : std::ldexp(1.0f, e);
            // A multiplying factor near 1 / s, or 6 % off it either way (the profile's value and the
            // quotient apart).
            const float factor = (trial % 4 == 3 ? 1.0625f : trial % 4 == 2 ? 0.9375f : 1.0f) / s;
            const TileValues t{s, divide ? s : factor, quant_kernels::quick_division_holds(s) ? 1.0f / s : 0.0f};
            float v[kPack];
            random_pack<F>(rng, s, max, v);
            uint64_t profile = 0, ideal = 0;
            if (!(divide ? steps.template common_pack<true>(v, t, profile, ideal)
                         : steps.template common_pack<false>(v, t, profile, ideal)))
              continue;
            ++taken;
            for (int j = 0; j < kPack; ++j) {
              uint8_t p = 0, d = 0;
              if (divide) steps.template codes<Format::fp32, true>(v[j], t, p, d);
              else steps.template codes<Format::fp32, false>(v[j], t, p, d);
              ASSERT_EQ(uint8_t(profile >> (8 * j)), p) << "profile code: x " << v[j] << " s " << s << " rule " << int(rule);
              ASSERT_EQ(uint8_t(ideal >> (8 * j)), d) << "ideal code: x " << v[j] << " s " << s << " rule " << int(rule);
            }
          }
  EXPECT_GT(taken, packs / 20) << "the common path took too few packs to say anything";
}

TEST(QuantReferenceKernels, TheCommonPathGivesTheGeneralStepsCodes) {
  expect_common_path_agrees<Format::e4m3fn>();
  expect_common_path_agrees<Format::e4m3fnuz>();
}

// RefGeometry::tile_col, a multiply and a shift, against the division for tiles of one column to
// 2^31: every column next to the first and the last multiples below 2^31, the last columns before
// it, and random ones.
TEST(QuantReferenceKernels, TileColumnsByMultiplicationAreTheQuotients) {
  constexpr uint64_t kEnd = uint64_t(1) << 31;  // columns of a row lie below it
  std::mt19937_64 rng{31};
  for (uint64_t cols : std::initializer_list<uint64_t>{1, 2, 3, 7, 98, 128, 1000, 7168, 300000007, (uint64_t(1) << 30) + 1,
                        kEnd - 1, kEnd}) {
    const auto g = quant_kernels::RefGeometry::of(1, int64_t(kEnd - 1), 1, int64_t(cols), 1);
    const auto expect = [&](uint64_t col) {
      if (col < kEnd) {
        ASSERT_EQ(g.tile_col(uint32_t(col)), uint32_t(col / cols)) << "column " << col << ", tiles of " << cols;
      }
    };
    const uint64_t last = (kEnd - 1) / cols;
    for (uint64_t q = 0; q < 2048; ++q)
      for (uint64_t multiple : {q * cols, (last >= q ? last - q : 0) * cols})
        for (uint64_t col : {multiple, multiple + 1, multiple + cols - 1}) expect(col);
    for (uint64_t col = kEnd - 2048; col < kEnd; ++col) expect(col);
    for (int i = 0; i < 100000; ++i) expect(rng() % kEnd);
  }
}

TEST(QuantReferenceKernels, DeclinesWhatItDoesNotCompute) {
  for (const char* id : {"quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1",
                         "quant.group/vllm-triton/e4m3fn/bf16/7x1024/gs128/ue8m0-packed/normal/s1"}) {
    const Case c = Case::parse(id);
    EXPECT_NE(quant_kernels::reference_declines(c.spec, c.input), "") << id;
    const Inputs in = c.inputs();
    EXPECT_THROW(quant_kernels::reference_host(kHostW32, c.spec, c.input, in.raw), UsageError) << id;
  }
}

#if defined(ULPGATE_HAVE_CUDA)
TEST(QuantReferenceKernelsCuda, TheGpuComputesTheHostReference) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (Tier tier : {Tier::ci, Tier::full}) {
    for_each_computed_case(tier, [&](const Case& c, const Inputs& in, const Expected& host) {
      if (tier == Tier::full && c.spec.m * c.spec.k > (int64_t(1) << 30)) return;  // the 2^31 cases: the sign-off's
      EXPECT_EQ(difference(host, quant_kernels::reference_gpu(c.spec, c.input, in.raw)), "") << c.id();
    });
  }
}
#endif

}  // namespace
}  // namespace ulpgate::quant
