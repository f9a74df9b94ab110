// quant.block: one thread block per 128x128 tile of a weight [N, K], its amax over the whole
// block (the warps' shuffles, then one lane); templated like GroupQuant on the input element type
// and the amax reduction (tests substitute faulty ones).
#pragma once

#include "kernels/quant/quant_kernels.hpp"

namespace ulpgate::quant_kernels {

inline constexpr int kTile = 128;  // quant.block tiles are 128x128

template <Format In, class Reduce = ShuffleAmax>
struct TileQuant {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  const T* x;
  uint8_t* codes;
  int64_t n, k;  // weight [N, K]
  QuantMath math;
  ScaleStore scales;  // [ceil(N/128), ceil(K/128)]

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(float, warp_amax, 1024 / 32);
    ULPGATE_SHARED(float, tile_amax, 1);
    const int64_t tiles = scales.m * scales.g;
    const unsigned tid = dev::thread_rank(), threads = dev::block_dim().x;
    const int warp = dev::warp_size();
    for (int64_t tile = dev::block_idx().x; tile < tiles; tile += dev::grid_dim().x) {
      const int64_t r0 = tile / scales.g * kTile, c0 = tile % scales.g * kTile;
      const int64_t rows = n - r0 < kTile ? n - r0 : kTile, cols = k - c0 < kTile ? k - c0 : kTile;
      const int64_t per_row = (cols + V - 1) / V, chunks = rows * per_row;
      float amax = 0.0f;
      for (int64_t j = tid; j < chunks; j += threads) {
        const int64_t c = j % per_row * V, at = (r0 + j / per_row) * k + c0 + c;
        const Chunk<In> chunk = Chunk<In>::load(x + at, int(cols - c < V ? cols - c : V));
        ULPGATE_UNROLL
        for (int i = 0; i < V; ++i) amax = amax_step(amax, chunk.v[i], math.nan_propagate);
      }
      amax = Reduce{}(amax, warp, math.nan_propagate);
      if (tid % warp == 0) warp_amax[tid / warp] = amax;
      dev::block_sync();
      if (tid == 0) {
        float a = warp_amax[0];
        for (unsigned w = 1; w < (threads + warp - 1) / warp; ++w) a = amax_merge(a, warp_amax[w], math.nan_propagate);
        tile_amax[0] = a;
        scales.write(tile / scales.g, tile % scales.g, GroupArith(math, a).scale);
      }
      dev::block_sync();
      const GroupArith g(math, tile_amax[0]);
      for (int64_t j = tid; j < chunks; j += threads) {
        const int64_t c = j % per_row * V, at = (r0 + j / per_row) * k + c0 + c;
        const int n = int(cols - c < V ? cols - c : V);
        quantize_chunk<In>(math, g.factor, Chunk<In>::load(x + at, n), codes + at, n);
      }
      dev::block_sync();  // warp_amax and tile_amax are reused by the next tile
    }
  }
};

}  // namespace ulpgate::quant_kernels
