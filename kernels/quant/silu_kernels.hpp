// quant.silu-mul: y = SiLU(gate) * up, then per-token-group fp8 quantization of y, in one kernel.
// A group of gs outputs is handled by `lanes` lanes (as GroupQuant's general path): each lane
// computes y for its 16-byte chunks of gate and up, the group's amax is a shuffle of width
// `lanes`, and each lane recomputes its y (the same fp32 steps) to quantize it with the group's
// arithmetic (quant_math.hpp: ProfileCodes' element steps, any scale layout).
#pragma once

#include "kernels/quant/quant_kernels.hpp"

namespace ulpgate::quant_kernels {

template <Format In>
struct SiluMulQuant {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  const T* x;        // [M, 2K]: gate then up in each row
  uint8_t* codes;    // [M, K]
  int64_t m, k, gs;  // rows, outputs per row, group size
  int64_t groups;    // m * (k / gs)
  int lanes, lane_bits;
  QuantMath math;
  ScaleStore scales;

  // y of the n elements of one chunk starting at output column c of row `row`.
  ULPGATE_DEVICE void chunk_y(int64_t row, int64_t c, int n, float (&y)[V]) const {
    const T* gate = x + row * 2 * k + c;
    const Chunk<In> g = Chunk<In>::load(gate, n), u = Chunk<In>::load(gate + k, n);
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) y[i] = i < n ? silu_mul(g.v[i], u.v[i]) : 0.0f;
  }

  ULPGATE_DEVICE void operator()() const {
    const int64_t threads = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    const int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
    const int64_t stride = threads >> lane_bits, first = t >> lane_bits;
    const int sub = int(t & (lanes - 1));
    for (int64_t gi = first; gi < groups; gi += stride) quantize_group(gi, sub);
  }

  ULPGATE_DEVICE void quantize_group(int64_t gi, int sub) const {
    int64_t row, col;
    row_col(gi, scales.g, row, col);
    const int64_t c0 = col * gs;
    if (int64_t(lanes) * V == gs) return quantize_one_chunk(row, col, c0 + int64_t(sub) * V, sub);
    float amax = 0.0f, y[V];
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      chunk_y(row, c0 + c, n, y);
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) amax = amax_step(amax, y[i], math.nan_propagate);
    }
    amax = ShuffleAmax{}(amax, lanes, math.nan_propagate);
    const GroupArith g(math, amax);
    if (sub == 0) scales.write(row, col, g.scale);
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      chunk_y(row, c0 + c, n, y);
      uint8_t q[V];
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) q[i] = quantize_one(math, g.factor, y[i]);
      store_codes(codes + row * k + c0 + c, q, n);
    }
  }

  // A lane per chunk (gs = lanes * V: gs 128 of 16-bit inputs): y is computed once and kept.
  ULPGATE_DEVICE void quantize_one_chunk(int64_t row, int64_t col, int64_t c, int sub) const {
    float y[V];
    chunk_y(row, c, V, y);
    float amax = 0.0f;
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) amax = amax_step(amax, y[i], math.nan_propagate);
    const GroupArith g(math, ShuffleAmax{}(amax, lanes, math.nan_propagate));
    if (sub == 0) scales.write(row, col, g.scale);
    uint8_t q[V];
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) q[i] = quantize_one(math, g.factor, y[i]);
    store_codes(codes + row * k + c, q, V);
  }
};

}  // namespace ulpgate::quant_kernels
