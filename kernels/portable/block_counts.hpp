// Counters summed over a block, for kernels whose result is a few counts a block (the GEMM slab
// judge's JudgeExact, the quantization judge's CountCodes).
#pragma once

#include <cstdint>

#include "kernels/portable/device.hpp"

namespace ulpgate::dev {

// Every thread calls it with its counts (at most what a thread of a grid-stride loop sees, so 32
// bits); the warps' sums meet in shared memory, and thread 0 gets the block's in `sum` (true).
template <int N, unsigned kMaxThreads>
ULPGATE_DEVICE bool sum_block_counts(uint32_t (&c)[N], uint64_t (&sum)[N]) {
  ULPGATE_SHARED(uint32_t, warps, N * kMaxThreads / 32);
  const int ws = warp_size();
  for (int o = ws / 2; o > 0; o /= 2)
    for (int j = 0; j < N; ++j) c[j] += shfl_xor(c[j], o, ws);
  const unsigned warp = thread_rank() / unsigned(ws), nwarps = block_dim().x / unsigned(ws);
  if (lane() == 0)
    for (int j = 0; j < N; ++j) warps[unsigned(N) * warp + unsigned(j)] = c[j];
  block_sync();
  if (thread_rank() != 0) return false;
  for (int j = 0; j < N; ++j) sum[j] = 0;
  for (unsigned w = 0; w < nwarps; ++w)
    for (int j = 0; j < N; ++j) sum[j] += warps[unsigned(N) * w + unsigned(j)];
  return true;
}

}  // namespace ulpgate::dev
