// quant.silu-mul: y = SiLU(gate) * up, then per-token-group fp8 quantization of y, in one kernel.
// Register path (GroupQuant's layout, `lanes` lanes x C chunks make one group, with C = 2 for
// 16-bit input, half GroupQuant's, as the y are held in fp32): each lane loads its chunks of gate
// and up once, keeps their y, and the group's amax is a shuffle of width `lanes`; the element path
// (ProfileCodes or NativeCodes, as for GroupQuant) turns the y into codes. General path (unaligned
// buffers): a lane walks its chunks twice, computing y again with the same fp32 steps, and the
// profile as runtime data. A profile other than vLLM's form (SGLang's g / d, FTZ, the codes or
// the amax of y stored in the input dtype: SGLang's, TransformerEngine's) takes ProfileCodes or the
// general path.
#pragma once

#include "kernels/quant/quant_kernels.hpp"

namespace ulpgate::quant_kernels {

template <Format In, class Reduce = ShuffleAmax, class Path = ProfileCodes>
struct SiluMulQuant {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  static constexpr int C = lane_chunks(int(sizeof(T)), true);
  // 56 registers a thread: with the four loads issued first, 40 registers left too few to hold
  // them (612 us on an H100 against 526 at 48, 518 at 56, 520 at 64; kernels/quant/PERF.md).
  static constexpr int kMaxRegisters = 56;
  // The profile's sigmoid form, FTZ and stored y at run time (ProfileCodes); the native paths
  // are vLLM's form, which plan_quant gives them only.
  static constexpr bool kRuntimeForm = std::is_same_v<Path, ProfileCodes>;
  const T* x;        // [M, 2K]: gate then up in each row
  uint8_t* codes;    // [M, K]
  int64_t m, k, gs;  // rows, outputs per row, group size
  int lanes, lane_bits;
  QuantMath math;
  ScaleStore scales;
  ScaleSteps steps;  // the store's offsets as an affine map: two multiply-adds, not the layout switch

  // y of the n elements of one chunk starting at output column c of row `row`.
  ULPGATE_DEVICE void chunk_y(int64_t row, int64_t c, int n, float (&y)[V]) const {
    const T* gate = x + row * 2 * k + c;
    const Chunk<In> g = Chunk<In>::load(gate, n), u = Chunk<In>::load(gate + k, n);
    silu_mul_chunk(math, g.v, u.v, y);
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) y[i] = i < n ? y[i] : 0.0f;
  }

  ULPGATE_DEVICE void operator()() const { for_each_group<In, Path>(*this); }

  // Lane `sub` holds chunks sub, sub + lanes, ... of its group's gate and up (gs = lanes * C * V,
  // so k and every chunk are 16-byte aligned).
  ULPGATE_DEVICE void quantize_in_registers(int64_t row, int64_t col, int sub) const {
    const int64_t step = int64_t(lanes) * V, first = col * gs + int64_t(sub) * V;
    const T* gate = x + row * 2 * k + first;
    // Every load first: the sigmoid's work on one chunk hides the others' latency.
    Raw<In> graw[C], uraw[C];
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) graw[c] = dev::load16(gate + c * step), uraw[c] = dev::load16(gate + k + c * step);
    float y[C][V];
    float a[C];
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) {
      float g[V], u[V];
      Input<In>::widen(graw[c], g);
      Input<In>::widen(uraw[c], u);
      a[c] = 0.0f;
      if constexpr (kRuntimeForm) {
        silu_mul_chunk(math, g, u, y[c]);
        ULPGATE_UNROLL
        for (int i = 0; i < V; ++i) a[c] = Path::amax(math, a[c], amax_y(math, y[c][i]));
      } else {
        silu_mul_chunk(g, u, y[c]);
        ULPGATE_UNROLL
        for (int i = 0; i < V; ++i) a[c] = Path::amax(math, a[c], y[c][i]);
      }
    }
    ULPGATE_UNROLL
    for (int c = 1; c < C; ++c) a[0] = Path::merge(math, a[0], a[c]);
    const typename Path::Group grp = Path::group(math, Reduce{}(Path::lane_amax(a[0]), lanes, propagates<Path>(math)));
    if (sub == 0) scales.write_at(steps.offset(scales, row, col), grp.scale);
    if constexpr (kRuntimeForm)
      for (int c = 0; c < C; ++c)
        ULPGATE_UNROLL
        for (int i = 0; i < V; ++i) y[c][i] = stored_y(math, y[c][i]);
    CodeWord<V> w[C];
    Path::value_codes(math, grp, y, w);
    uint8_t* out = codes + row * k + first;
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) store_word(out + c * step, w[c]);
  }

  ULPGATE_DEVICE void quantize_group(int64_t row, int64_t col, int sub) const {
    const int64_t c0 = col * gs;
    float amax = 0.0f, y[V];
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      chunk_y(row, c0 + c, n, y);
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) amax = amax_step(amax, amax_y(math, y[i]), math.nan_propagate);
    }
    amax = Reduce{}(amax, lanes, math.nan_propagate);
    const GroupArith g(math, amax);
    if (sub == 0) scales.write(row, col, g.scale);
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      chunk_y(row, c0 + c, n, y);
      uint8_t q[V];
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) q[i] = quantize_one(math, g.factor, stored_y(math, y[i]));
      store_codes(codes + row * k + c0 + c, q, n);
    }
  }

};

}  // namespace ulpgate::quant_kernels
