// The device quantization reference (kernels/quant/reference_kernels.hpp) against the host
// reference, bit for bit: every case of the quantization catalog it computes (all but silu-mul), on
// the host-SIMT emulator at warp 32 and 64, and with CUDA where a GPU is present (the same cases,
// then production shapes). Codes, scales, scale storage and ideal codes must all be the host's.
#include <gtest/gtest.h>

#include <cstring>

#include "harness/quant/catalog.hpp"
#include "kernels/quant/reference_host.hpp"
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
                         "quant.group/vllm/e4m3fn/bf16/3x4802/gs98/row/normal_sigma=2/s5"}) {
    const Case c = Case::parse(id);
    const Inputs in = c.inputs();
    const Expected host = expected(c, in);
    for (const Arch* arch : {&kHostW32, &kHostW64})
      EXPECT_EQ(difference(host, quant_kernels::reference_host(*arch, c.spec, c.input, in.raw)), "") << id << " " << arch->name;
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
