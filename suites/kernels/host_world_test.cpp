// World launches: N ranks of one kernel resident at once on the host, synchronising through
// dev::store_flag / wait_flag as the GPUs of a custom all-reduce do. The sums come out right and
// identical on every rank; a flag nobody sets, a missing end barrier and a block's own sync
// misuse are kernel errors naming the rank, never a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kernels/portable/host_simt.hpp"
#include "suites/kernels/kernel_error.hpp"

namespace ulpgate {
namespace {

using host_simt::KernelError;
using host_simt::RankRegion;
using host_simt::WorldOptions;
using namespace std::chrono_literals;

constexpr unsigned kMaxRanks = 8, kMaxBlocks = 8;

// The signal area of one rank (vLLM's Signal): per block, a slot per peer for each barrier, and
// the block's barrier counter.
struct Signal {
  uint32_t start[kMaxBlocks][kMaxRanks];
  uint32_t end[kMaxBlocks][kMaxRanks];
  uint32_t counter[kMaxBlocks];
};

// Rank `rank` sums every rank's input, 16 bytes at a time, into its own output, between a start
// barrier (no rank reads a peer's input before the peer arrived) and an end barrier (no rank
// returns while a peer may still read its input).
struct SumAllRanks {
  unsigned rank = 0, world = 1;
  Signal* signals[kMaxRanks] = {};
  const float* inputs[kMaxRanks] = {};
  float* out = nullptr;
  unsigned packs = 0;  // 16-byte packs per buffer
  bool end_barrier = true;

  // vLLM's barrier: thread t < world tells peer t that this block arrived, then waits until peer
  // t said the same here. The per-block counter gives every barrier a new flag value.
  ULPGATE_DEVICE void barrier(bool at_end) const {
    const unsigned b = dev::block_idx().x, t = dev::thread_rank();
    Signal& self = *signals[rank];
    const uint32_t flag = self.counter[b] + 1;
    if (t < world) {
      Signal& peer = *signals[t];
      dev::store_flag(at_end ? &peer.end[b][rank] : &peer.start[b][rank], flag);
      dev::wait_flag(at_end ? &self.end[b][t] : &self.start[b][t], flag);
    }
    dev::block_sync();
    if (t == 0) self.counter[b] = flag;
  }

  ULPGATE_DEVICE void operator()() const {
    barrier(false);
    const unsigned threads = dev::block_dim().x, stride = dev::grid_dim().x * threads;
    for (unsigned p = dev::block_idx().x * threads + dev::thread_rank(); p < packs; p += stride) {
      Pack16<float> sum{};
      for (unsigned r = 0; r < world; ++r) {
        const Pack16<float> x = dev::load16(inputs[r] + 4 * p);
        for (int k = 0; k < 4; ++k) sum.v[k] += x.v[k];
      }
      dev::store16(out + 4 * p, sum);
    }
    if (end_barrier) barrier(true);
  }
};

// The buffers of one world: rank r's input, its output (poisoned) and its signal area (zeroed).
struct WorldBuffers {
  unsigned world, packs;
  std::vector<std::vector<float>> inputs, outputs;
  std::vector<Signal> signals;

  WorldBuffers(unsigned world_, unsigned packs_)
      : world(world_), packs(packs_), inputs(world_), outputs(world_), signals(world_) {
    for (unsigned r = 0; r < world; ++r) {
      inputs[r].resize(4 * packs);
      for (unsigned i = 0; i < 4 * packs; ++i)
        inputs[r][i] = float(int((r * 7919 + i * 31) % 2001) - 1000) / 8.f;
      outputs[r].assign(4 * packs, -12345.f);
    }
  }

  std::vector<SumAllRanks> kernels(bool end_barrier) {
    std::vector<SumAllRanks> ks(world);
    for (unsigned r = 0; r < world; ++r) {
      ks[r].rank = r;
      ks[r].world = world;
      for (unsigned p = 0; p < world; ++p) {
        ks[r].signals[p] = &signals[p];
        ks[r].inputs[p] = inputs[p].data();
      }
      ks[r].out = outputs[r].data();
      ks[r].packs = packs;
      ks[r].end_barrier = end_barrier;
    }
    return ks;
  }

  // Each rank's input is the memory its peers read.
  std::vector<RankRegion> input_regions() const {
    std::vector<RankRegion> regions;
    for (unsigned r = 0; r < world; ++r)
      regions.push_back({r, inputs[r].data(), inputs[r].size() * sizeof(float)});
    return regions;
  }

  // The sums in the kernel's order (rank 0 first), so every bit must match.
  std::vector<float> expected() const {
    std::vector<float> sum(4 * packs, 0.f);
    for (unsigned r = 0; r < world; ++r)
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += inputs[r][i];
    return sum;
  }
};

template <class Kernel>
host_simt::LaunchStats launch_world(const LaunchConfig& cfg, const std::vector<Kernel>& ranks,
                                    const WorldOptions& options = {}) {
  return host_simt::launch_world(kHostW32, cfg, std::span<const Kernel>(ranks), options);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void expect_every_rank_summed(const WorldBuffers& w) {
  const std::vector<float> expected = w.expected();
  for (unsigned r = 0; r < w.world; ++r) EXPECT_EQ(w.outputs[r], expected) << "rank " << r;
}

// ---- all-reduce sums ----------------------------------------------------------------------------

TEST(HostWorld, TwoAndFourRanksSumThroughFlagBarriers) {
  for (unsigned world : {2u, 4u}) {
    WorldBuffers w(world, 2 * 2 * 128);  // two packs per thread
    const auto stats = launch_world({{2}, {128}}, w.kernels(true));
    expect_every_rank_summed(w);
    EXPECT_EQ(stats.blocks, uint64_t(world) * 2) << world << " ranks";
    for (unsigned r = 0; r < world; ++r)
      for (unsigned b = 0; b < 2; ++b) EXPECT_EQ(w.signals[r].counter[b], 2u) << "two barriers";
  }
}

TEST(HostWorld, PartialLastPackLoopOverThreeBlocks) {
  // 3 blocks x 64 threads: the second round of the pack loop runs in 37 threads of block 0 only.
  WorldBuffers w(4, 3 * 64 + 37);
  launch_world({{3}, {64}}, w.kernels(true));
  expect_every_rank_summed(w);
}

// ---- deadlocks and misuse -----------------------------------------------------------------------

// Rank 1's thread 0 waits for a value nobody stores.
struct WaitsForNobody {
  unsigned rank;
  const uint32_t* flag;
  ULPGATE_DEVICE void operator()() const {
    if (rank == 1 && dev::thread_rank() == 0) dev::wait_flag(flag, 7);
  }
  static constexpr unsigned kWaitLine = __LINE__ - 2;
};

TEST(HostWorldErrors, FlagNobodySetsIsADeadlockNamingRankSiteAndValues) {
  uint32_t flag = 3;
  const std::vector<WaitsForNobody> ranks = {{0, &flag}, {1, &flag}};
  const std::string e = error_of([&] { launch_world({{1}, {64}}, ranks); });
  EXPECT_TRUE(has(e, "deadlock in a world of 2 ranks")) << e;
  EXPECT_TRUE(has(e, "rank 1 block (0,0,0)")) << e;
  EXPECT_TRUE(has(e, "wait_flag at host_world_test.cpp:" + std::to_string(WaitsForNobody::kWaitLine) +
                         " waits for 7, the flag holds 3")) << e;
  EXPECT_TRUE(has(e, "thread 0 wait at wait_flag")) << e;
  EXPECT_TRUE(has(e, "threads 1-63 exited")) << e;
  EXPECT_FALSE(has(e, "rank 0")) << e;  // rank 0 exited: not stuck
}

TEST(HostWorldErrors, MissingEndBarrierIsCaughtByTheRegions) {
  WorldBuffers w(2, 64);
  const std::vector<RankRegion> regions = w.input_regions();
  const WorldOptions options{regions};
  // Rank 0 waits at its start barrier; rank 1 runs through and returns; rank 0 then reads rank
  // 1's input, which nothing keeps alive.
  const std::string e = error_of([&] { launch_world({{1}, {64}}, w.kernels(false), options); });
  EXPECT_TRUE(has(e, "rank 0 block (0,0,0), thread 0 (0,0,0): load16 of rank 1's region at offset 0 "
                     "after every block of rank 1 exited")) << e;
  EXPECT_TRUE(has(e, "missing end barrier")) << e;
  // With the end barrier, rank 1 waits for rank 0 before it returns.
  WorldBuffers ok(2, 64);
  const std::vector<RankRegion> ok_regions = ok.input_regions();
  EXPECT_NO_THROW(launch_world({{1}, {64}}, ok.kernels(true), WorldOptions{ok_regions}));
  expect_every_rank_summed(ok);
}

// Rank 1's barrier is not reached by every thread, so rank 1 never tells rank 0 it is done.
struct BarrierMisuseOnRankOne {
  unsigned rank;
  uint32_t* done;
  ULPGATE_DEVICE void operator()() const {
    const unsigned t = dev::thread_rank();
    if (rank == 0 && t == 0) dev::wait_flag(done, 1);
    if (rank == 1 && t < 5) dev::block_sync();
    if (rank == 1 && t == 0) dev::store_flag(done, 1);
  }
};

TEST(HostWorldErrors, BlockSyncMisuseIsReportedWithTheRank) {
  uint32_t done = 0;
  const std::vector<BarrierMisuseOnRankOne> ranks = {{0, &done}, {1, &done}};
  const std::string e = error_of([&] { launch_world({{1}, {64}}, ranks); });
  // The block that cannot proceed by itself is to blame, not rank 0 waiting for it.
  EXPECT_TRUE(
      e.starts_with("kernel error in rank 1 block (0,0,0): block_sync at host_world_test.cpp:"))
      << e;
  EXPECT_TRUE(has(e, "threads 0-4 wait at block_sync")) << e;
  EXPECT_TRUE(has(e, "threads 5-63 exited")) << e;
}

struct ThrowsOnRankTwo {
  unsigned rank;
  ULPGATE_DEVICE void operator()() const {
    dev::block_sync();
    if (rank == 2 && dev::block_idx().x == 1 && dev::thread_rank() == 3)
      throw std::runtime_error("boom");
    dev::block_sync();
  }
};

TEST(HostWorldErrors, ExceptionNamesTheRankAndTheWorldRecovers) {
  const std::vector<ThrowsOnRankTwo> ranks = {{0}, {1}, {2}, {3}};
  EXPECT_EQ(error_of([&] { launch_world({{2}, {32}}, ranks); }),
            "rank 2 block (1,0,0), thread 3 (3,0,0): boom");
  // Every fiber of the abandoned world was unwound; the next world runs.
  WorldBuffers w(4, 2 * 64);
  launch_world({{2}, {64}}, w.kernels(true));
  expect_every_rank_summed(w);
}

TEST(HostWorldErrors, BadWorldConfiguration) {
  const std::vector<ThrowsOnRankTwo> none;
  EXPECT_THROW(launch_world({{1}, {32}}, none), std::invalid_argument);
  const std::vector<ThrowsOnRankTwo> two = {{0}, {1}};
  EXPECT_THROW(launch_world({{1}, {1025}}, two), std::invalid_argument);
  float buf[4];
  const RankRegion stray[] = {{2, buf, sizeof buf}};
  EXPECT_THROW(launch_world({{1}, {32}}, two, WorldOptions{stray}), std::invalid_argument);
}

// ---- flags from other processes -------------------------------------------------------------------

struct WaitsForAnotherProcess {
  const uint32_t* flag;
  ULPGATE_DEVICE void operator()() const {
    if (dev::thread_rank() == 0) dev::wait_flag(flag, 1);
    dev::block_sync();
  }
};

TEST(HostWorld, PatienceWaitsForAFlagSetElsewhere) {
  uint32_t flag = 0;
  const std::vector<WaitsForAnotherProcess> ranks = {{&flag}};
  const auto start = std::chrono::steady_clock::now();
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    dev::store_flag(&flag, 1);  // the host hook needs no launch: an atomic release store
  });
  EXPECT_NO_THROW(launch_world({{1}, {32}}, ranks, WorldOptions{{}, 2000ms}));
  writer.join();
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 2000ms);
}

TEST(HostWorldErrors, PatienceRunsOut) {
  uint32_t flag = 0;
  const std::vector<WaitsForAnotherProcess> ranks = {{&flag}};
  const auto start = std::chrono::steady_clock::now();
  const std::string e = error_of([&] { launch_world({{1}, {32}}, ranks, WorldOptions{{}, 100ms}); });
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_TRUE(has(e, "deadlock in a world of 1 rank: no block can make progress after polling "
                     "the flags for 100 ms")) << e;
  EXPECT_TRUE(has(e, "waits for 1, the flag holds 0")) << e;
}

// ---- flags in a plain launch ----------------------------------------------------------------------

struct FlagInsideTheBlock {
  uint32_t* flag;
  ULPGATE_DEVICE void operator()() const {
    // Thread 0 runs first, so it suspends until thread 1 has stored.
    if (dev::thread_rank() == 0) dev::wait_flag(flag + dev::block_idx().x, 1);
    if (dev::thread_rank() == 1) dev::store_flag(flag + dev::block_idx().x, 1);
  }
};

TEST(HostWorld, PlainLaunchFlagsWithinABlockAndTheirDeadlock) {
  uint32_t flags[4] = {};
  host_simt::launch(kHostW32, {{4}, {32}}, FlagInsideTheBlock{flags});
  for (uint32_t f : flags) EXPECT_EQ(f, 1u);
  // A flag only another launch could set: blocks of one launch are not co-resident.
  uint32_t never = 0;
  const std::string e = error_of([&] {
    host_simt::launch(kHostW32, {{1}, {32}}, WaitsForAnotherProcess{&never});
  });
  EXPECT_TRUE(e.starts_with("kernel error in block (0,0,0): wait_flag at host_world_test.cpp:")) << e;
  EXPECT_TRUE(has(e, "waits for 1, the flag holds 0: thread 0 wait at wait_flag")) << e;
  EXPECT_TRUE(has(e, "threads 1-31 wait at block_sync")) << e;
}

// ---- stack overflow ------------------------------------------------------------------------------

// Writes a buffer larger than a fiber's whole stack (every 8th byte, so no fence byte is skipped).
[[gnu::noinline]] void overflow_the_stack() {
  volatile char big[host_simt::kStackBytes + 8 * 1024];
  for (std::size_t i = 0; i < sizeof big; i += 8) big[i] = 1;
}

struct OverflowsInThreadOne {
  ULPGATE_DEVICE void operator()() const {
    if (dev::thread_rank() == 1) overflow_the_stack();
  }
};

// World stacks carry a fence instead of a guard page each (tens of thousands of guard pages
// would exhaust the process's mappings): an overflow is caught when the fiber yields.
TEST(HostWorldDeathTest, StackOverflowIsCaughtByTheFence) {
  // A fresh process: its stacks are handed out in order, so thread 1's lies above thread 0's (a
  // fence between them), not above the arena's guard page.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::vector<OverflowsInThreadOne> ranks(2);
#if defined(__SANITIZE_ADDRESS__)  // AddressSanitizer sees the frame leave the stack first
  const char* report = "AddressSanitizer: stack-buffer-underflow";
#else
  const char* report = "rank 0 block \\(0,0,0\\), thread 1 overflowed its [0-9]+-byte fiber stack";
#endif
  EXPECT_DEATH(launch_world({{1}, {32}}, ranks), report);
}

// ---- reuse and speed ------------------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(HostWorld, StressEightRanksRepeated) {
  const unsigned world = 8, blocks = 4, threads = 512, repeats = 20;
  WorldBuffers w(world, blocks * threads * 2 + 100);  // a partial third round
  const std::vector<RankRegion> regions = w.input_regions();
  const auto kernels = w.kernels(true);
  const auto start = std::chrono::steady_clock::now();
  double first = 0;
  uint64_t steps = 0;
  for (unsigned i = 0; i < repeats; ++i) {
    for (auto& out : w.outputs) std::fill(out.begin(), out.end(), -1.f);
    steps += launch_world({{blocks}, {threads}}, kernels, WorldOptions{regions}).thread_steps;
    if (i == 0) first = seconds_since(start);
    expect_every_rank_summed(w);
    if (testing::Test::HasFailure()) break;
  }
  const double total = seconds_since(start);
  for (unsigned r = 0; r < world; ++r) EXPECT_EQ(w.signals[r].counter[0], 2 * repeats);
  std::printf("world 8 ranks x %u blocks x %u threads: first launch %.1f ms, then %.1f ms per "
              "launch (%llu thread-steps in all)\n",
              blocks, threads, first * 1e3, (total - first) * 1e3 / (repeats - 1),
              (unsigned long long)steps);
  RecordProperty("first_launch_ms", std::to_string(first * 1e3));
  RecordProperty("later_launch_ms", std::to_string((total - first) * 1e3 / (repeats - 1)));
}

// Every thread of 8 ranks x 8 blocks x 512 meets one barrier: the cost of starting a world.
struct OneBarrier {
  ULPGATE_DEVICE void operator()() const { dev::block_sync(); }
};

TEST(HostWorld, StartingALargeWorldIsCheap) {
  const std::vector<OneBarrier> ranks(8);
  double later = 0;
  for (int i = 0; i < 4; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto stats = launch_world({{8}, {512}}, ranks);
    const double s = seconds_since(start);
    EXPECT_EQ(stats.thread_steps, 8u * 8 * 512 * 2);
    std::printf("world 8 ranks x 8 blocks x 512 threads, one barrier: launch %d %.1f ms\n", i,
                s * 1e3);
    if (i > 0) later = std::max(later, s);
  }
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(later, 0.25) << "a reused world should start in milliseconds";
#endif
}

}  // namespace
}  // namespace ulpgate
