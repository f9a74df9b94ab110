// The steps the quantization kernels share (quant_kernels.hpp, and through it the tile, tensor,
// silu-mul and fused norm kernels): input element types and their chunks, fp8 codes stored as
// words, a group's walk over a row and its amax across lanes, a group's arithmetic once its amax
// is known. One source for CUDA, HIP and the host-SIMT emulator.
#pragma once

#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_math.hpp"

namespace ulpgate::quant_kernels {

// Input element types: raw bits in memory, widened exactly to fp32.
template <Format In> struct Input;
template <> struct Input<Format::bf16> {
  using T = uint16_t;
  ULPGATE_DEVICE static float widen(T v) { return dev::bf16_to_float(v); }
  // A 16-byte vector as 32-bit words: one shift or mask per element.
  ULPGATE_DEVICE static void widen(const Pack16<T>& p, float (&v)[8]) {
    uint32_t w[4];
    memcpy(w, p.v, 16);
    ULPGATE_UNROLL
    for (int i = 0; i < 4; ++i) {
      v[2 * i] = dev::as_float(w[i] << 16);
      v[2 * i + 1] = dev::as_float(w[i] & 0xffff0000u);
    }
  }
};
template <> struct Input<Format::fp16> {
  using T = uint16_t;
  ULPGATE_DEVICE static float widen(T v) { return dev::fp16_to_float(v); }
  ULPGATE_DEVICE static void widen(const Pack16<T>& p, float (&v)[8]) {
    ULPGATE_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = widen(p.v[i]);
  }
};
template <> struct Input<Format::fp32> {
  using T = float;
  ULPGATE_DEVICE static float widen(T v) { return v; }
  ULPGATE_DEVICE static void widen(const Pack16<T>& p, float (&v)[4]) {
    ULPGATE_UNROLL
    for (int i = 0; i < 4; ++i) v[i] = p.v[i];
  }
};

// A chunk as loaded: 16 bytes of input elements.
template <Format In>
using Raw = Pack16<typename Input<In>::T>;

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
      Input<In>::widen(dev::load16(p), c.v);
    } else {
      ULPGATE_UNROLL
      for (int i = 0; i < size; ++i) c.v[i] = i < n ? Input<In>::widen(p[i]) : 0.0f;
    }
    return c;
  }
};

// The codes of one chunk as one little-endian word: 8 codes (bf16, fp16 input) or 4 (fp32).
template <int N>
using CodeWord = typename std::conditional<N == 8, uint64_t, uint32_t>::type;

template <int N>
ULPGATE_DEVICE CodeWord<N> pack_codes(const uint8_t (&codes)[N]) {
  static_assert(N == sizeof(CodeWord<N>), "a chunk of codes is one word");
  CodeWord<N> w = 0;  // packing by shifts keeps the codes in registers
  ULPGATE_UNROLL
  for (int i = 0; i < N; ++i) w |= CodeWord<N>(codes[i]) << (8 * i);
  return w;
}

// One word of codes to dst, aligned to the word's size.
template <class Word>
ULPGATE_DEVICE void store_word(uint8_t* dst, Word w) {
#if defined(ULPGATE_GPU)
  *reinterpret_cast<Word*>(dst) = w;
#else
  memcpy(dst, &w, sizeof(Word));  // the host is little-endian too (x86-64, AArch64)
#endif
}

// n codes to dst; a full, aligned chunk of codes is one 4- or 8-byte store.
template <int N>
ULPGATE_DEVICE void store_codes(uint8_t* dst, const uint8_t (&codes)[N], int n) {
  if (n == N && reinterpret_cast<uintptr_t>(dst) % N == 0) {
    store_word(dst, pack_codes(codes));
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

// A lane's groups gi = first, first + stride, ... in rows of `per_row` groups, the row and column
// of each by additions: one division for the walk, not one a group (two a quant.silu-mul group
// were about 50 of its ~600 instructions; kernels/quant/PERF.md).
struct GroupWalk {
  struct At {
    int64_t gi, row, col;
  };
  int64_t stride, per_row, rows, cols;  // stride = rows * per_row + cols
  ULPGATE_DEVICE GroupWalk(int64_t stride_, int64_t per_row_) : stride(stride_), per_row(per_row_) {
    row_col(stride, per_row, rows, cols);
  }
  ULPGATE_DEVICE At at(int64_t gi) const {
    At a{gi, 0, 0};
    row_col(gi, per_row, a.row, a.col);
    return a;
  }
  ULPGATE_DEVICE void next(At& a) const {
    a.gi += stride, a.row += rows, a.col += cols;
    if (a.col >= per_row) a.col -= per_row, ++a.row;
  }
};

// Does the group amax propagate NaN? A compile-time no for the paths whose amax ignores it (the
// plan gives those only profiles that do), so the shuffle loop carries no NaN test.
template <class Path>
ULPGATE_DEVICE bool propagates(const QuantMath& p) {
  return !Path::kAmaxIgnoresNan && p.nan_propagate;
}

// The group amax across the `lanes` lanes that share a group (an aligned width-group).
// Unrolled over every width a warp allows (a loop over `lanes` cost a branch and its bookkeeping
// per step).
struct ShuffleAmax {
  ULPGATE_DEVICE float operator()(float a, int lanes, bool propagate) const {
    ULPGATE_UNROLL
    for (int offset = 32; offset > 0; offset /= 2)
      if (offset < lanes) a = amax_merge(a, dev::shfl_xor(a, offset, lanes), propagate);
    return a;
  }
  // The same where the whole warp makes the call: shuffles over the warp (an offset below `lanes`
  // stays in the width-group), without the width-group mask's convergence test a step.
  ULPGATE_DEVICE float converged(float a, int lanes, bool propagate) const {
    ULPGATE_UNROLL
    for (int offset = 32; offset > 0; offset /= 2)
      if (offset < lanes) a = amax_merge(a, dev::shfl_xor(a, offset, dev::warp_size()), propagate);
    return a;
  }
};

// The group amax by Reduce where the whole warp makes the call: its converged form if it has one.
template <class Reduce>
ULPGATE_DEVICE float warp_group_amax(float a, int lanes, bool propagate) {
  if constexpr (requires(const Reduce r) { r.converged(a, lanes, propagate); })
    return Reduce{}.converged(a, lanes, propagate);
  else
    return Reduce{}(a, lanes, propagate);
}

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

}  // namespace ulpgate::quant_kernels
