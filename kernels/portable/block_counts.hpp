// Counters summed over a block, for kernels whose result is a few counts a block (the GEMM slab
// judge's JudgeExact, the quantization judge's CountCodes), and the host side that launches such a
// kernel and adds its blocks' counts up.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "kernels/portable/device.hpp"

namespace ulpgate::dev {

// One block's counts, as a counting kernel stores them ([grid]).
template <int N>
struct BlockCounts {
  uint64_t c[N];
};

// Every thread calls it with its counts (at most what a thread of a grid-stride loop sees, so 32
// bits); the warps' sums meet in shared memory, and thread 0 stores the block's into blocks[block].
template <int N, unsigned kMaxThreads>
ULPGATE_DEVICE void store_block_counts(uint32_t (&c)[N], BlockCounts<N>* blocks) {
  ULPGATE_SHARED(uint32_t, warps, N * kMaxThreads / 32);
  const int ws = warp_size();
  for (int o = ws / 2; o > 0; o /= 2)
    for (int j = 0; j < N; ++j) c[j] += shfl_xor(c[j], o, ws);
  const unsigned warp = thread_rank() / unsigned(ws), nwarps = block_dim().x / unsigned(ws);
  if (lane() == 0)
    for (int j = 0; j < N; ++j) warps[unsigned(N) * warp + unsigned(j)] = c[j];
  block_sync();
  if (thread_rank() != 0) return;
  BlockCounts<N> sum{};
  for (unsigned w = 0; w < nwarps; ++w)
    for (int j = 0; j < N; ++j) sum.c[j] += warps[unsigned(N) * w + unsigned(j)];
  blocks[block_idx().x] = sum;
}

// A grid-stride counting kernel of kThreads a block over `count` elements on device `dev`
// (launch(grid, blocks) launches it), its blocks' counts added up on the host.
template <int N, unsigned kThreads, class Device, class Launch>
std::array<int64_t, N> counted_on(Device& dev, int64_t count, Launch launch) {
  std::array<int64_t, N> total{};
  if (count <= 0) return total;
  const int64_t wanted = (count + kThreads - 1) / kThreads;
  const auto grid = unsigned(wanted < 1024 ? wanted : 1024);
  auto blocks = dev.template alloc<BlockCounts<N>>(grid);
  launch(grid, blocks.get());
  std::vector<BlockCounts<N>> host(grid);
  dev.to_host(host.data(), blocks.get(), grid * sizeof(BlockCounts<N>));
  for (const BlockCounts<N>& b : host)
    for (int j = 0; j < N; ++j) total[size_t(j)] += int64_t(b.c[j]);
  return total;
}

}  // namespace ulpgate::dev
