// The host-SIMT backend: the portable kernels give the right answers at warp size 32 and 64, and
// every violation of the sync contract is reported as a kernel error, never a hang.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "kernels/portable/host_simt.hpp"
#include "suites/kernels/kernel_error.hpp"
#include "kernels/portable/probes.hpp"

namespace ulpgate {
namespace {

using host_simt::KernelError;
using host_simt::launch;

const Arch& arch_for(int warp) { return warp == 32 ? kHostW32 : kHostW64; }

// Rows of n values with one large element (negative, so |x| matters) at a varying position.
std::vector<float> amax_rows(int rows, int n) {
  std::vector<float> x(size_t(rows) * n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7919 % 1000) - 500) / 64.f;
  for (int r = 0; r < rows; ++r) x[size_t(r) * n + (r * 37 + 11) % n] = -1000.f - r;
  return x;
}

std::vector<float> expected_amax(const std::vector<float>& x, int n) {
  std::vector<float> out(x.size() / n);
  for (size_t r = 0; r < out.size(); ++r)
    for (int i = 0; i < n; ++i) out[r] = std::max(out[r], std::fabs(x[r * n + i]));
  return out;
}

// ---- results at both warp sizes --------------------------------------------------------------

class AtWarpSize : public testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Warp, AtWarpSize, testing::Values(32, 64));

TEST_P(AtWarpSize, BlockAmaxOverManyBlocks) {
  const int warp = GetParam(), n = 1000, rows = 37;
  const auto x = amax_rows(rows, n);
  for (unsigned threads : {64u, 256u, 1024u}) {
    std::vector<float> out(rows, -1.f);
    if (warp == 32)
      launch(kHostW32, {{rows}, {threads}}, examples::BlockAmax<32>{x.data(), out.data(), n});
    else
      launch(kHostW64, {{rows}, {threads}}, examples::BlockAmax<64>{x.data(), out.data(), n});
    EXPECT_EQ(out, expected_amax(x, n)) << threads << " threads";
  }
}

// What each warp operation returns, computed from the CUDA/HIP definitions.
std::vector<int> expected_warp_ops(const std::vector<int>& in, int block, int warp, int width) {
  std::vector<int> out(in.size() * probes::kWarpProbeOutputs);
  for (size_t t = 0; t < in.size(); ++t) {
    const int lane = int(t % block) % warp, start = lane & ~(width - 1), end = start + width;
    auto at = [&](int src_lane) { return in[t - lane + src_lane]; };
    int* o = &out[t * probes::kWarpProbeOutputs];
    o[probes::kShfl] = at(start + (3 * lane + 1) % width);
    o[probes::kShflUp] = at(lane - 1 >= start ? lane - 1 : lane);
    o[probes::kShflDown] = at(lane + 2 < end ? lane + 2 : lane);
    o[probes::kShflXor1] = width > 1 ? at(lane ^ 1) : in[t];
    o[probes::kShflXorHalf] = width > 1 ? at(lane ^ (width / 2)) : in[t];
    uint64_t bits = 0;
    bool any5 = false, all_nonneg = true;
    for (int l = start; l < end; ++l) {
      bits |= uint64_t(at(l) % 2 != 0) << (l - start);
      any5 |= at(l) % 5 == 0;
      all_nonneg &= at(l) >= 0;
    }
    o[probes::kBallotLow] = int(uint32_t(bits));
    o[probes::kBallotHigh] = int(uint32_t(bits >> 32));
    o[probes::kAny] = any5;
    o[probes::kAll] = all_nonneg;
  }
  return out;
}

TEST_P(AtWarpSize, ShufflesAndVotesAtEveryWidth) {
  const int warp = GetParam(), block = 128, blocks = 3;
  std::vector<int> in(block * blocks);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i * 2654435761u % 1000) - (i % 17 == 0);
  for (int width = 1; width <= warp; width *= 2) {
    std::vector<int> out(in.size() * probes::kWarpProbeOutputs, -7);
    launch(arch_for(warp), {{unsigned(blocks)}, {unsigned(block)}},
           probes::WarpOpsProbe{in.data(), out.data(), width});
    EXPECT_EQ(out, expected_warp_ops(in, block, warp, width)) << "width " << width;
  }
}

// Hillis-Steele inclusive scan in shared memory: barriers inside a loop, 2D block indices.
struct SharedScan {
  const int* in;
  int* out;
  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(int, buf, 1024);
    const unsigned t = dev::thread_rank(), n = dev::block_dim().count();
    const size_t base = size_t(dev::block_idx().y * dev::grid_dim().x + dev::block_idx().x) * n;
    buf[t] = in[base + t];
    dev::block_sync();
    for (unsigned step = 1; step < n; step *= 2) {
      const int add = t >= step ? buf[t - step] : 0;
      dev::block_sync();
      buf[t] += add;
      dev::block_sync();
    }
    out[base + t] = buf[t];
  }
};

TEST_P(AtWarpSize, BarriersInLoopsAndPerBlockSharedMemory) {
  const Dim3 grid{5, 3}, block{32, 8};  // 256 threads, blocks run concurrently on the pool
  std::vector<int> in(grid.count() * block.count()), out(in.size());
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i % 13) - 6 + int(i / 256) * 1000;
  launch(arch_for(GetParam()), {grid, block}, SharedScan{in.data(), out.data()});
  std::vector<int> expected(in.size());
  for (size_t b = 0; b < grid.count(); ++b)
    std::partial_sum(in.begin() + b * 256, in.begin() + (b + 1) * 256, expected.begin() + b * 256);
  EXPECT_EQ(out, expected);
}

TEST_P(AtWarpSize, DynamicSharedMemoryAndVectorAccess) {
  const unsigned packs = 64, blocks = 6;
  std::vector<float> in(blocks * packs * 4), out(in.size());
  std::iota(in.begin(), in.end(), 0.f);
  launch(arch_for(GetParam()), {{blocks}, {packs}, packs * 16},
         probes::VectorCopyProbe{in.data(), out.data()});
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned p = 0; p < packs; ++p)
      for (unsigned k = 0; k < 4; ++k)
        ASSERT_EQ(out[(b * packs + p) * 4 + k], in[(b * packs + packs - 1 - p) * 4 + k]);
}

// Every block of a 3D grid sees its own indices; the pool runs each block exactly once.
struct RecordIndices {
  int* hits;
  ULPGATE_DEVICE void operator()() const {
    const Dim3 b = dev::block_idx(), g = dev::grid_dim(), t = dev::thread_idx();
    const unsigned block = (b.z * g.y + b.y) * g.x + b.x;
    if (t.x == 1 && t.y == 2 && t.z == 1) ++hits[block];
    if (dev::thread_rank() != t.x + dev::block_dim().x * (t.y + dev::block_dim().y * t.z))
      hits[block] = -1000;
  }
};

TEST(HostSimt, MultiBlockGridOnOneAndTwoWorkers) {
  const unsigned before = host_simt::worker_count();
  for (unsigned workers : {1u, 2u}) {
    host_simt::set_worker_count(workers);
    std::vector<int> hits(4 * 3 * 5, 0);
    launch(kHostW32, {{4, 3, 5}, {4, 3, 2}}, RecordIndices{hits.data()});
    EXPECT_EQ(hits, std::vector<int>(hits.size(), 1)) << workers << " workers";
  }
  host_simt::set_worker_count(before);
}

// ---- conversions follow the arch ------------------------------------------------------------

TEST(HostSimt, ConversionsFollowTheArch) {
  const std::vector<float> x = {0.f, -0.f, 1.f, 3.f, 1000.f, -1000.f, 250.f, 464.f, 1e-3f,
                                INFINITY, -INFINITY, NAN, 70000.f, 1.064453125f, 0x1p-130f};
  const int n = int(x.size());
  struct Bytes {
    std::vector<uint8_t> e4m3, e5m2, rp, rz;
  };
  auto run = [&](const Arch& arch) {
    Bytes b{std::vector<uint8_t>(n), std::vector<uint8_t>(n), std::vector<uint8_t>(n),
            std::vector<uint8_t>(n)};
    launch(arch, {{2}, {8}},
           probes::ConvertProbe{x.data(), b.e4m3.data(), b.e5m2.data(), b.rp.data(), b.rz.data(), n});
    return b;
  };
  for (const Arch& arch : kAllArches) {
    const Bytes b = run(arch);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(b.e4m3[i], encode(x[i], arch.e4m3)) << arch.name << " e4m3 " << x[i];
      EXPECT_EQ(b.e5m2[i], encode(x[i], arch.e5m2)) << arch.name << " e5m2 " << x[i];
      EXPECT_EQ(b.rp[i], encode(x[i], Conversion{Format::ue8m0, Overflow::satfinite, Rounding::rp}));
      EXPECT_EQ(b.rz[i], encode(x[i], Conversion{Format::ue8m0, Overflow::satfinite, Rounding::rz}));
    }
  }
  // The arch differences the backends must reproduce (spec/formats.md).
  const Bytes sm90 = run(kSm90), gfx942 = run(kGfx942), gfx950 = run(kGfx950);
  EXPECT_EQ(sm90.e4m3[4], 0x7E);    // 1000 -> 448, satfinite
  EXPECT_EQ(sm90.e4m3[9], 0x7E);    // Inf -> 448
  EXPECT_EQ(gfx942.e4m3[4], 0x7F);  // 1000 -> 240 (fnuz)
  EXPECT_EQ(gfx942.e4m3[5], 0xFF);  // -1000 -> -240
  EXPECT_EQ(gfx942.e4m3[9], 0x80);  // Inf -> NaN under HIP's saturating mode
  EXPECT_EQ(gfx950.e4m3[9], 0x7F);  // Inf -> NaN (OCP)
  EXPECT_EQ(gfx950.e4m3[7], 0x7E);  // 464 -> 448
  EXPECT_EQ(sm90.rp[3], 0x81);      // 3 -> 4
  EXPECT_EQ(sm90.rz[3], 0x80);      // 3 -> 2
}

TEST(HostSimt, HalfWideningMatchesTheReference) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float ref = fp16_to_float(uint16_t(h)), got = dev::fp16_to_float(uint16_t(h));
    ASSERT_TRUE(std::bit_cast<uint32_t>(ref) == std::bit_cast<uint32_t>(got) ||
                (std::isnan(ref) && std::isnan(got)))
        << std::hex << h;
    ASSERT_EQ(std::bit_cast<uint32_t>(dev::bf16_to_float(uint16_t(h))),
              std::bit_cast<uint32_t>(bf16_to_float(uint16_t(h))));
  }
}

// ---- R12: a reduction written for 32 lanes -------------------------------------------------------

// Test-only faulty block amax (known-bugs.md R12): its xor offsets 16..1 cover 32 lanes, but the
// shuffle width and the warp index follow the real warp size. At warp 64 the upper 32 lanes of
// every warp never reach lane 0.
struct FaultyWave32Amax {
  const float* in;
  float* out;
  int n;
  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(float, warp_max, 32);
    const unsigned tid = dev::thread_rank(), threads = dev::block_dim().x;
    const int ws = dev::warp_size();
    const float* row = in + size_t(dev::block_idx().x) * n;
    float m = 0.f;
    for (unsigned i = tid; i < unsigned(n); i += threads) m = fmaxf(m, fabsf(row[i]));
    for (int offset = 16; offset > 0; offset /= 2) m = fmaxf(m, dev::shfl_xor(m, offset, ws));
    if (dev::lane() == 0) warp_max[tid / ws] = m;
    dev::block_sync();
    if (tid == 0) {
      for (unsigned w = 1; w < threads / ws; ++w) m = fmaxf(m, warp_max[w]);
      out[dev::block_idx().x] = m;
    }
  }
};

TEST(HostSimt, FaultyWave32ReductionPassesAtWarp32AndIsCaughtAtWarp64) {
  const int n = 256, rows = 64;
  const auto x = amax_rows(rows, n);
  const auto expected = expected_amax(x, n);
  std::vector<float> w32(rows), w64(rows);
  launch(kHostW32, {{rows}, {256}}, FaultyWave32Amax{x.data(), w32.data(), n});
  launch(kHostW64, {{rows}, {256}}, FaultyWave32Amax{x.data(), w64.data(), n});
  EXPECT_EQ(w32, expected);
  int wrong = 0;
  for (int r = 0; r < rows; ++r) wrong += w64[r] != expected[r];
  EXPECT_GT(wrong, rows / 4) << "warp 64 must expose the lost upper half-warps";
  for (int r = 0; r < rows; ++r) EXPECT_LE(w64[r], expected[r]);
}

// ---- contract violations are kernel errors -----------------------------------------------------

struct BarrierInBranch {
  ULPGATE_DEVICE void operator()() const {
    if (dev::thread_idx().x < 5) dev::block_sync();
  }
};

TEST(HostSimtErrors, BarrierNotReachedByAllThreads) {
  const std::string e = error_of([] { launch(kHostW32, {{3}, {64}}, BarrierInBranch{}); });
  EXPECT_NE(e.find("block (0,0,0)"), std::string::npos) << e;
  EXPECT_NE(e.find("block_sync at host_simt_test.cpp:"), std::string::npos) << e;
  EXPECT_NE(e.find("threads 0-4 wait at block_sync"), std::string::npos) << e;
  EXPECT_NE(e.find("threads 5-63 exited"), std::string::npos) << e;
}

struct BarriersAtTwoSites {
  ULPGATE_DEVICE void operator()() const {
    if (dev::thread_rank() % 2 == 0)
      dev::block_sync();
    else
      dev::block_sync();
  }
};

TEST(HostSimtErrors, BarrierAtDifferentSites) {
  const std::string e = error_of([] { launch(kHostW64, {{1}, {4}}, BarriersAtTwoSites{}); });
  EXPECT_NE(e.find("is not reached by every thread"), std::string::npos) << e;
  EXPECT_NE(e.find("thread 0 wait at block_sync"), std::string::npos) << e;
  EXPECT_NE(e.find("thread 1 wait at block_sync"), std::string::npos) << e;
}

struct ShuffleInBranch {
  int width;
  ULPGATE_DEVICE void operator()() const {
    float v = float(dev::thread_rank());
    if (dev::lane() < 16) v = dev::shfl_xor(v, 1, width);
    dev::block_sync();
  }
};

TEST(HostSimtErrors, ShuffleNotReachedByAllLanesOfItsWidth) {
  for (int warp : {32, 64}) {
    const std::string e =
        error_of([&] { launch(arch_for(warp), {{2}, {128}}, ShuffleInBranch{warp}); });
    EXPECT_NE(e.find("shfl_xor (width " + std::to_string(warp) + ")"), std::string::npos) << e;
    EXPECT_NE(e.find("warp 0, threads 0-" + std::to_string(warp - 1)), std::string::npos) << e;
    EXPECT_NE(e.find("threads 16-" + std::to_string(warp - 1) + " wait at block_sync"),
              std::string::npos) << e;
  }
  // Width 16 names only lanes 0-15, which all take part: fine.
  EXPECT_NO_THROW(launch(kHostW64, {{2}, {128}}, ShuffleInBranch{16}));
}

struct FullWarpShuffle {
  ULPGATE_DEVICE void operator()() const { (void)dev::shfl_down(1, 1, dev::warp_size()); }
};

TEST(HostSimtErrors, ShuffleGroupPastTheLastThread) {
  const std::string e = error_of([] { launch(kHostW32, {{1}, {48}}, FullWarpShuffle{}); });
  EXPECT_NE(e.find("threads 48-63 do not exist (the block has 48 threads)"), std::string::npos)
      << e;
}

TEST(HostSimtErrors, WidthBeyondTheWarp) {
  const std::string e = error_of([] { launch(kHostW32, {{1}, {64}}, ShuffleInBranch{64}); });
  EXPECT_NE(e.find("width 64 is not a power of two <= the warp size 32"), std::string::npos) << e;
  EXPECT_NE(e.find("thread 0 (0,0,0)"), std::string::npos) << e;
}

TEST(HostSimtErrors, MisalignedVectorLoad) {
  std::vector<float> buf(64 * 4 + 8), out(buf.size());
  const float* misaligned = buf.data() + (reinterpret_cast<uintptr_t>(buf.data()) % 16 == 0);
  const std::string e = error_of([&] {
    launch(kHostW32, {{1}, {64}, 64 * 16}, probes::VectorCopyProbe{misaligned, out.data()});
  });
  EXPECT_NE(e.find("load16 of a misaligned address"), std::string::npos) << e;
}

struct ThrowsInBlockSeven {
  ULPGATE_DEVICE void operator()() const {
    dev::block_sync();
    if (dev::block_idx().x == 7 && dev::thread_rank() == 3) throw std::runtime_error("boom");
    dev::block_sync();
  }
};

TEST(HostSimtErrors, ExceptionInOneBlockAndTheEmulatorRecovers) {
  const std::string e = error_of([] { launch(kHostW32, {{16}, {32}}, ThrowsInBlockSeven{}); });
  EXPECT_EQ(e, "block (7,0,0), thread 3 (3,0,0): boom");
  // The waiting fibers were unwound; the next launch works.
  const auto x = amax_rows(4, 100);
  std::vector<float> out(4);
  launch(kHostW32, {{4}, {128}}, examples::BlockAmax<32>{x.data(), out.data(), 100});
  EXPECT_EQ(out, expected_amax(x, 100));
}

TEST(HostSimtErrors, BadLaunchConfiguration) {
  EXPECT_THROW(launch(kHostW32, {{1}, {1025}}, FullWarpShuffle{}), std::invalid_argument);
  EXPECT_THROW(launch(kHostW32, {{0}, {32}}, FullWarpShuffle{}), std::invalid_argument);
  Arch odd = kHostW32;
  odd.warp_size = 16;
  EXPECT_THROW(launch(odd, {{1}, {32}}, FullWarpShuffle{}), std::invalid_argument);
}

// ---- speed -----------------------------------------------------------------------------------

struct BarrierLoop {
  float* out;
  int iterations;
  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(float, s, 1024);
    const unsigned t = dev::thread_rank(), n = dev::block_dim().x;
    float acc = 0.f;
    for (int i = 0; i < iterations; ++i) {
      s[t] = acc + float(i);
      dev::block_sync();
      acc += s[(t + 1) % n] * 0.5f;
      dev::block_sync();
    }
    out[dev::block_idx().x * n + t] = acc;
  }
};

TEST(HostSimtSpeed, ThreadStepsPerSecond) {
  const int blocks = 8, iterations = 100;
  std::vector<float> out(blocks * 1024);
  const auto start = std::chrono::steady_clock::now();
  const auto stats = launch(kHostW32, {{blocks}, {1024}}, BarrierLoop{out.data(), iterations});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(stats.thread_steps, uint64_t(blocks) * 1024 * (2 * iterations + 1));
  EXPECT_EQ(stats.blocks, uint64_t(blocks));
  const double rate = double(stats.thread_steps) / seconds;
  std::printf("host-SIMT: %llu thread-steps in %.3f s = %.1f M thread-steps/s (%u workers)\n",
              (unsigned long long)stats.thread_steps, seconds, rate / 1e6,
              host_simt::worker_count());
  RecordProperty("thread_steps_per_second", std::to_string(rate));
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)  // an optimised build: millions per second
  EXPECT_GT(rate, 1e6) << "the emulator is far slower than it should be";
#endif
}

}  // namespace
}  // namespace ulpgate
