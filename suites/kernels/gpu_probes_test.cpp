// The host emulator at sm90 semantics against the GPU: the same probe kernels must give the same
// bits. Skips where no GPU is present; the GPU machine runs it (ctest -L kernels).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/portable/host_simt.hpp"
#include "kernels/portable/probes.hpp"
#include "kernels/portable/probes_gpu.hpp"

namespace ulpgate {
namespace {

class GpuProbes : public testing::Test {
 protected:
  void SetUp() override {
    if (probes::gpu_device_count() == 0) GTEST_SKIP() << "no GPU";
  }
};

TEST_F(GpuProbes, BlockAmaxMatchesTheEmulator) {
  const int n = 3000, rows = 50;
  std::vector<float> x(size_t(n) * rows);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 2654435761u % 20001) - 10000) / 7.f;
  for (int threads : {64, 256, 1024}) {
    std::vector<float> host(rows);
    host_simt::launch(kSm90, {{unsigned(rows)}, {unsigned(threads)}},
                      examples::BlockAmax<32>{x.data(), host.data(), n});
    EXPECT_EQ(probes::gpu_block_amax(x, n, threads), host) << threads << " threads";
  }
}

TEST_F(GpuProbes, VectorCopyThroughDynamicSharedMemoryMatchesTheEmulator) {
  const int packs = 128, blocks = 9;
  std::vector<float> x(size_t(packs) * 4 * blocks), host(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.25f;
  host_simt::launch(kSm90, {{unsigned(blocks)}, {unsigned(packs)}, size_t(packs) * 16},
                    probes::VectorCopyProbe{x.data(), host.data()});
  EXPECT_EQ(probes::gpu_vector_copy(x, packs), host);
}

TEST_F(GpuProbes, WarpOperationsMatchTheEmulator) {
  const int block = 256, blocks = 4;
  std::vector<int> in(block * blocks);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i * 40503u % 997) - (i % 13 == 0);
  for (int width = 1; width <= 32; width *= 2) {
    std::vector<int> host(in.size() * probes::kWarpProbeOutputs);
    host_simt::launch(kSm90, {{unsigned(blocks)}, {unsigned(block)}},
                      probes::WarpOpsProbe{in.data(), host.data(), width});
    EXPECT_EQ(probes::gpu_warp_ops(in, block, width), host) << "width " << width;
  }
}

// Every float whose bits step through the whole range (plus the specials) converts to the same
// byte on the GPU as in the emulator at sm90 semantics.
TEST_F(GpuProbes, ConversionsMatchTheEmulator) {
  std::vector<float> x;
  for (uint64_t u = 0; u <= 0xffffffffu; u += 4099) x.push_back(std::bit_cast<float>(uint32_t(u)));
  for (float s : {0.f, -0.f, 448.f, 464.f, 465.f, 57344.f, 61440.f, INFINITY, -INFINITY, NAN})
    x.push_back(s);
  const int n = int(x.size());
  std::vector<uint8_t> e4m3(n), e5m2(n), rp(n), rz(n);
  host_simt::launch(kSm90, {{64}, {256}},
                    probes::ConvertProbe{x.data(), e4m3.data(), e5m2.data(), rp.data(), rz.data(), n});
  const probes::Conversions gpu = probes::gpu_convert(x);
  auto same = [&](Format f, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                  const char* what) {
    int bad = 0;
    for (int i = 0; i < n && bad < 10; ++i)
      if (a[i] != b[i] && !(is_nan(f, a[i]) && is_nan(f, b[i])))  // NaN bytes compare by class
        ADD_FAILURE() << what << " of " << x[i] << ": gpu " << int(a[i]) << " host " << int(b[i]), ++bad;
  };
  same(Format::e4m3fn, gpu.e4m3, e4m3, "e4m3");
  same(Format::e5m2, gpu.e5m2, e5m2, "e5m2");
  same(Format::ue8m0, gpu.ue8m0_rp, rp, "ue8m0 rp");
  same(Format::ue8m0, gpu.ue8m0_rz, rz, "ue8m0 rz");
}

// The device guard regions see a stray byte on either side and nothing for a write inside.
TEST_F(GpuProbes, GuardRegionsAroundDeviceOutputsSeeStrayWrites) {
  EXPECT_EQ(probes::gpu_stray_write(64, 63), "");
  EXPECT_EQ(probes::gpu_stray_write(64, 64), "the kernel wrote 1 byte past the end of 'out' (bytes +0..+0 after its 64 bytes)");
  EXPECT_EQ(probes::gpu_stray_write(64, -3), "the kernel wrote 1 byte before the start of 'out' (bytes -3..-3 from its first byte)");
  EXPECT_EQ(probes::gpu_stray_write(0, 0), "the kernel wrote 1 byte past the end of 'out' (bytes +0..+0 after its 0 bytes)");
}

}  // namespace
}  // namespace ulpgate
