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
// all but quant.silu-mul's.
template <class Fn>
void for_each_computed_case(Tier tier, Fn&& fn) {
  for (const Case& c : catalog(tier)) {
    const bool declined = !quant_kernels::reference_declines(c.spec, c.input).empty();
    EXPECT_EQ(declined, c.spec.op == Op::silu_mul) << c.id();
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

TEST(QuantReferenceKernels, DeclinesWhatItDoesNotCompute) {
  Case c = Case::parse("quant.silu-mul/vllm/e4m3fn/bf16/7x1024/gs128/row/normal_sigma=2/s1");
  EXPECT_NE(quant_kernels::reference_declines(c.spec, c.input), "");
  const Inputs in = c.inputs();
  EXPECT_THROW(quant_kernels::reference_host(kHostW32, c.spec, c.input, in.raw), UsageError);
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
