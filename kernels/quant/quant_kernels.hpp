// The quantization kernels, one source for CUDA, HIP and the host-SIMT emulator:
//   GroupQuant  quant.group, quant.token, quant.mx: a group of gs consecutive elements of a row
//               is handled by `lanes` lanes (a power of two <= warp size); its amax is a sub-warp
//               shuffle reduction of width `lanes`.
//   TileQuant   quant.block: one thread block per 128x128 tile; amax over the whole block.
//   ScalePadding  the padding slots of the scale layout (col-tma rows, packed words, swizzle).
// Templated only on the input element type and the amax reduction (tests substitute faulty
// reductions to prove the emulator catches them); the profile is runtime data (QuantMath).
#pragma once

#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_math.hpp"
#include "kernels/quant/scale_store.hpp"

namespace ulpgate::quant_kernels {

// Input element types: raw bits in memory, widened exactly to fp32.
template <Format In> struct Input;
template <> struct Input<Format::bf16> {
  using T = uint16_t;
  ULPGATE_DEVICE static float widen(T v) { return dev::bf16_to_float(v); }
};
template <> struct Input<Format::fp16> {
  using T = uint16_t;
  ULPGATE_DEVICE static float widen(T v) { return dev::fp16_to_float(v); }
};
template <> struct Input<Format::fp32> {
  using T = float;
  ULPGATE_DEVICE static float widen(T v) { return v; }
};

// A chunk: the elements one 16-byte vector load brings (8 bf16/fp16, 4 fp32).
template <Format In>
struct Chunk {
  using T = typename Input<In>::T;
  static constexpr int size = 16 / int(sizeof(T));
  float v[size];

  // n valid elements at p; a full, 16-byte aligned chunk is one vector load.
  ULPGATE_DEVICE static Chunk load(const T* p, int n) {
    Chunk c;
    if (n == size && reinterpret_cast<uintptr_t>(p) % 16 == 0) {
      const Pack16<T> pack = dev::load16(p);
      ULPGATE_UNROLL
      for (int i = 0; i < size; ++i) c.v[i] = Input<In>::widen(pack.v[i]);
    } else {
      ULPGATE_UNROLL
      for (int i = 0; i < size; ++i) c.v[i] = i < n ? Input<In>::widen(p[i]) : 0.0f;
    }
    return c;
  }
};

// n codes to dst; a full, aligned chunk of codes is one 4- or 8-byte store.
template <int N>
ULPGATE_DEVICE void store_codes(uint8_t* dst, const uint8_t (&codes)[N], int n) {
  using Word = typename std::conditional<N == 8, uint64_t, uint32_t>::type;
  static_assert(N == sizeof(Word), "a chunk of codes is one word");
  if (n == N && reinterpret_cast<uintptr_t>(dst) % N == 0) {
    Word w = 0;  // little-endian packing by shifts keeps the codes in registers
    ULPGATE_UNROLL
    for (int i = 0; i < N; ++i) w |= Word(codes[i]) << (8 * i);
#if defined(ULPGATE_GPU)
    *reinterpret_cast<Word*>(dst) = w;
#else
    memcpy(dst, &w, N);  // the host is little-endian too (x86-64, AArch64)
#endif
  } else {
    for (int i = 0; i < n; ++i) dst[i] = codes[i];
  }
}

// Row and column of group gi in rows of `per_row` groups. 64-bit division is a long software
// sequence on GPUs; 32-bit where the indices fit.
ULPGATE_DEVICE void row_col(int64_t gi, int64_t per_row, int64_t& row, int64_t& col) {
  if ((uint64_t(gi) | uint64_t(per_row)) <= 0xffffffffu) {
    const uint32_t r = uint32_t(gi) / uint32_t(per_row);
    row = r;
    col = int64_t(uint32_t(gi) - r * uint32_t(per_row));
  } else {
    row = gi / per_row;
    col = gi - row * per_row;
  }
}

// The group amax across the `lanes` lanes that share a group (an aligned width-group).
struct ShuffleAmax {
  ULPGATE_DEVICE float operator()(float a, int lanes, bool propagate) const {
    for (int offset = lanes / 2; offset > 0; offset /= 2)
      a = amax_merge(a, dev::shfl_xor(a, offset, lanes), propagate);
    return a;
  }
};

// The arithmetic of one group once its amax is known: shared by both kernels.
struct GroupArith {
  float scale;
  Factor factor;
  ULPGATE_DEVICE GroupArith(const QuantMath& p, float amax)
      : scale(group_scale(p, amax)), factor(group_factor(p, amax, scale)) {}
};

// Codes of one loaded chunk, stored as one word where aligned.
template <Format In>
ULPGATE_DEVICE void quantize_chunk(const QuantMath& p, const Factor& f, const Chunk<In>& c, uint8_t* codes, int n) {
  uint8_t q[Chunk<In>::size];
  ULPGATE_UNROLL
  for (int i = 0; i < Chunk<In>::size; ++i) q[i] = quantize_one(p, f, c.v[i]);
  store_codes(codes, q, n);
}

template <Format In, class Reduce = ShuffleAmax>
struct GroupQuant {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  // Groups one thread keeps in flight on the fast path: more bytes in flight per SM is what a
  // memory-bound kernel needs (one 16-byte load per thread leaves the H200 at ~20% of copy).
  static constexpr int kBatch = 4;
  const T* x;
  uint8_t* codes;
  int64_t m, k, gs;  // rows, row length, group size (token: gs = k)
  int lanes;         // lanes per group
  QuantMath math;
  ScaleStore scales;

  ULPGATE_DEVICE void operator()() const {
    const int64_t threads = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    const int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
    const int64_t groups = m * (k / gs), stride = threads / lanes;
    const int sub = int(t % lanes);
    // Grid-stride over groups; the lanes of a group stay together, so shuffles see all of them.
    if (gs == int64_t(lanes) * V && reinterpret_cast<uintptr_t>(x) % 16 == 0) {
      for (int64_t g0 = t / lanes; g0 < groups; g0 += kBatch * stride) quantize_batch(g0, stride, groups, sub);
    } else {
      for (int64_t gi = t / lanes; gi < groups; gi += stride) quantize_group(gi, sub);
    }
  }

  // Fast path: each lane holds exactly one full chunk of its group, so the group is read once
  // and kept in registers; kBatch groups are loaded before any is reduced.
  ULPGATE_DEVICE void quantize_batch(int64_t g0, int64_t stride, int64_t groups, int sub) const {
    Pack16<T> raw[kBatch];
    ULPGATE_UNROLL
    for (int b = 0; b < kBatch; ++b) {
      const int64_t gi = g0 + b * stride;
      if (gi < groups) raw[b] = dev::load16(x + gi * gs + sub * V);
    }
    ULPGATE_UNROLL
    for (int b = 0; b < kBatch; ++b) {
      const int64_t gi = g0 + b * stride;
      if (gi >= groups) continue;  // the same for every lane of the group: its shuffles stay whole
      Chunk<In> c;
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) c.v[i] = Input<In>::widen(raw[b].v[i]);
      finish_group(gi, sub, amax_of(c), c);
    }
  }

  ULPGATE_DEVICE float amax_of(const Chunk<In>& c) const {
    float amax = 0.0f;
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) amax = amax_step(amax, c.v[i], math.nan_propagate);
    return amax;
  }

  ULPGATE_DEVICE void finish_group(int64_t gi, int sub, float lane_amax, const Chunk<In>& c) const {
    const GroupArith g(math, Reduce{}(lane_amax, lanes, math.nan_propagate));
    if (sub == 0) {
      int64_t row, col;
      row_col(gi, scales.g, row, col);  // scales.g = k / gs groups per row
      scales.write(row, col, g.scale);
    }
    quantize_chunk<In>(math, g.factor, c, codes + gi * gs + sub * V, V);
  }

  // General path: a lane walks several chunks (token groups, unaligned input), reading twice.
  ULPGATE_DEVICE void quantize_group(int64_t gi, int sub) const {
    int64_t row, col;
    row_col(gi, scales.g, row, col);
    const int64_t base = row * k + col * gs;
    float amax = 0.0f;
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V)
      amax = amax_merge(amax, amax_of(Chunk<In>::load(x + base + c, int(gs - c < V ? gs - c : V))), math.nan_propagate);
    amax = Reduce{}(amax, lanes, math.nan_propagate);
    const GroupArith g(math, amax);
    if (sub == 0) scales.write(row, col, g.scale);
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      quantize_chunk<In>(math, g.factor, Chunk<In>::load(x + base + c, n), codes + base + c, n);
    }
  }
};

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

struct ScalePadding {
  ScaleStore scales;

  ULPGATE_DEVICE void operator()() const {
    const int64_t rows = scales.padded_rows(), cols = scales.padded_cols();
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < rows * cols;
         i += stride) {
      const int64_t r = i / cols, c = i % cols;
      if (r >= scales.m || c >= scales.g) scales.write_padding(r, c);
    }
  }
};

}  // namespace ulpgate::quant_kernels
