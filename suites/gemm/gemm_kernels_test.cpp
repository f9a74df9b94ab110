// The GEMM kernel on the host-SIMT backend: every ci catalog case bit-exact to the fp32-fma replay
// it claims, at warp 32 and 64 and at sm90 and gfx942 semantics (the kernel uses no warp operation
// and converts nothing to fp8, so every arch gives the same bits); zero sizes; bad input rejected
// before launch, naming what was expected, with D untouched.
#include <gtest/gtest.h>

#include <cstring>

#include "harness/backends/kernel_backends.hpp"
#include "harness/gemm/catalog.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "reference/gemm/layout.hpp"
#include "suites/kernels/host_archs.hpp"
#include "suites/sample.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/quant/quant_gpu.hpp"
#endif

using namespace ulpgate;
using namespace ulpgate::gemm;

namespace {

std::unique_ptr<Backend> backend(std::string_view name, std::string_view arch) {
  static const bool registered = (register_kernel_backends(), true);
  (void)registered;
  return make_backend(name, arch);
}

size_t out_bytes(const Spec& s) { return size_t(s.m * s.n) * (s.out == Format::bf16 ? 2 : 4); }

// Runs a case on b, poisoned D; the number of outputs that differ from the claimed model's replay
// (NaN as a class), with the first one described in `first`.
size_t mismatches(const Case& c, const Operands& in, const Output& want, Backend& b, std::string& first) {
  std::vector<std::byte> d(out_bytes(c.spec), std::byte{0xA5});
  const GemmClaim claim = b.gemm(c.spec, stored(c.spec, in).buffers(d));
  EXPECT_EQ(claim.model, gemm_kernels::kClaimedModel);
  EXPECT_FALSE(claim.budget_only);
  size_t bad = 0;
  const size_t width = c.spec.out == Format::bf16 ? 2 : 4;
  for (size_t i = 0; i < want.bits.size(); ++i) {
    uint32_t got = 0;
    std::memcpy(&got, d.data() + i * width, width);
    if (got == want.bits[i] || (is_nan(c.spec.out, got) && is_nan(c.spec.out, want.bits[i]))) continue;
    if (bad++ == 0) first = "d[" + std::to_string(i) + "] = " + std::to_string(got) + ", want " + std::to_string(want.bits[i]);
  }
  return bad;
}

void expect_catalog_bit_exact(std::span<const std::unique_ptr<Backend>> backends, Tier tier) {
  int failures = 0, item = 0;
  for (const Case& c : catalog(tier)) {
    if (!test_support::sampled(item++)) continue;
    const Operands in = c.operands();
    const Output want = gemm_model(c.spec, model(gemm_kernels::kClaimedModel), in);
    for (const auto& b : backends) {
      std::string first;
      if (const size_t bad = mismatches(c, in, want, *b, first); bad && ++failures <= 10)
        ADD_FAILURE() << c.id() << " [" << b->name() << "]: " << bad << " outputs differ, first " << first;
    }
  }
  EXPECT_EQ(failures, 0);
}

// An error before launch: BackendError naming what was expected, D still poison.
void expect_rejected(const Spec& s, const Stored& st, size_t d_bytes, const std::string& want) {
  std::vector<std::byte> d(d_bytes, std::byte{0xA5});
  try {
    backend("host", "host-w32")->gemm(s, st.buffers(d));
    ADD_FAILURE() << "accepted; expected: " << want;
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::ranges::all_of(d, [](std::byte b) { return b == std::byte{0xA5}; }));
}

}  // namespace

TEST(GemmKernelsHost, TheCatalogIsBitExactToItsClaimAtEveryHostArch) {
  std::vector<std::unique_ptr<Backend>> backends;
  for (const char* arch : {"host-w32", "host-w64", "sm90", "gfx942"}) backends.push_back(backend("host", arch));
  expect_catalog_bit_exact(backends, Tier::ci);
}

TEST(GemmKernelsHost, ZeroSizesAreCleanNoOps) {
  for (std::string_view id : {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/0x256x512/normal/s1",
                              "gemm.rowwise/cublaslt/e4m3fn.e4m3fn/fp32/8x0x512/normal/s1"}) {
    const Case c = Case::parse(id);
    const Stored st = stored(c.spec, c.operands());
    std::vector<std::byte> d;
    EXPECT_NO_THROW(backend("host", "host-w64")->gemm(c.spec, st.buffers(d))) << id;
  }
  // K = 0: D = 0 everywhere, written.
  const Case c = Case::parse("gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/4x64x0/normal/s1");
  std::vector<std::byte> d(out_bytes(c.spec), std::byte{0xA5});
  backend("host", "host-w32")->gemm(c.spec, stored(c.spec, c.operands()).buffers(d));
  EXPECT_TRUE(std::ranges::all_of(d, [](std::byte b) { return b == std::byte{0}; }));
}

TEST(GemmKernelsHost, BadInputFailsBeforeLaunchNamingWhatWasExpected) {
  const Case c = Case::parse("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/5x256x256/normal/s1");
  const Stored st = stored(c.spec, c.operands());
  const std::string where = " [gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/5x256x256]";
  Stored short_scales = st;
  short_scales.sa.resize(st.sa.size() - 4);  // the last padding row
  expect_rejected(c.spec, short_scales, out_bytes(c.spec),
                  "A scale storage (col-tma over [5, 2]) has 60 bytes, the case needs 64" + where);
  Stored short_b = st;
  short_b.b.pop_back();
  expect_rejected(c.spec, short_b, out_bytes(c.spec), "B has 65535 bytes, the case needs 65536");
  expect_rejected(c.spec, st, out_bytes(c.spec) + 2, "D has 2562 bytes, the case needs 2560");
  Spec e5m2 = c.spec;
  e5m2.b_format = Format::e5m2;
  expect_rejected(e5m2, st, out_bytes(c.spec), "profile 'deepgemm' does not take e4m3fn x e5m2");
  Spec mx = c.spec;
  mx.op = Op::mx, mx.profile = &profile("ocp-mx"), mx.k = 48;
  expect_rejected(mx, st, out_bytes(c.spec), "K = 48 is not a multiple of the MX block (32)");
  Spec shuffled = c.spec;
  shuffled.profile = &profile("aiter-bpreshuffle"), shuffled.n = 200;
  expect_rejected(shuffled, st, out_bytes(c.spec), "N = 200 and K = 256 must be multiples of 16 and 32");
}

#if defined(ULPGATE_HAVE_CUDA)
// The same catalog on the GPU, where one is present (the golden sm90 run covers the full tier).
TEST(GemmKernelsCuda, TheCatalogIsBitExactToItsClaim) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(backend("cuda", "sm90"));
  expect_catalog_bit_exact(backends, Tier::ci);
}
#endif
