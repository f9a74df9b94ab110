// quant.tensor: one scale for the whole tensor, so its amax is a grid-wide reduction. Four
// launches, each ordered after the last by the stream:
//   ZeroSlot     the 4-byte scale slot := 0 (the bits of +0.0f)
//   TensorAmax   every block reduces its share to one amax and merges it into the slot with an
//                atomic max on the float's bits (non-negative floats order like their bits)
//   TensorQuant  every thread reads the finished amax, derives scale and factor, quantizes
//   TensorScale  one thread turns the slot's amax into the stored scale
// The slot is the case's own scale output, so a kernel needs no workspace; the scale is written
// after the last reader of the amax. A static scale (QuantMath::given_scale) launches TensorQuant
// only: the scale is an input and nothing is written to the slot, except by TransformerEngine's
// form, whose TensorScale writes scale_inv = fl(1/m) of its multiplier m = fl(1/S).
// Templated like GroupQuant on the element path, and on GridAmax: the amax step and how a block's
// amax is published (tests substitute the faulty ones of R23).
#pragma once

#include "kernels/quant/quant_kernels.hpp"

namespace ulpgate::quant_kernels {

// The amax step and the publication of a block's amax into the slot.
struct GridAmax {
  ULPGATE_DEVICE static float step(const QuantMath& p, float a, float v) { return amax_step(a, v, p.nan_propagate); }
  ULPGATE_DEVICE static void publish(uint32_t* slot, float a) { dev::atomic_max(slot, dev::as_uint(a)); }
};

struct ZeroSlot {
  uint32_t* slot;
  ULPGATE_DEVICE void operator()() const {
    if (dev::block_idx().x == 0 && dev::thread_rank() == 0) *slot = 0;
  }
};

// Whole 16-byte chunks of the flat tensor where both buffers allow vector access, else none
// (every element goes through the element-wise tail).
template <Format In>
ULPGATE_DEVICE int64_t whole_chunks(const void* x, const void* codes, int64_t n) {
  constexpr int V = Chunk<In>::size;
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(codes) % V == 0;
  return aligned ? n / V : 0;
}

template <Format In, class Amax = GridAmax>
struct TensorAmax {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  const T* x;
  const uint8_t* codes;  // only its alignment: the chunks are TensorQuant's
  int64_t n;
  QuantMath math;
  uint32_t* slot;

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(float, warp_amax, 1024 / 32);
    const unsigned tid = dev::thread_rank(), threads = dev::block_dim().x;
    const int64_t t = int64_t(dev::block_idx().x) * threads + tid, stride = int64_t(dev::grid_dim().x) * threads;
    const int64_t chunks = whole_chunks<In>(x, codes, n);
    float a = 0.0f;
    for (int64_t c = t; c < chunks; c += stride) {
      float v[V];
      Input<In>::widen(dev::load16(x + c * V), v);
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) a = Amax::step(math, a, v[i]);
    }
    for (int64_t i = chunks * V + t; i < n; i += stride) a = Amax::step(math, a, Input<In>::widen(x[i]));
    const int warp = dev::warp_size();
    a = ShuffleAmax{}(a, warp, math.nan_propagate);
    if (tid % warp == 0) warp_amax[tid / warp] = a;
    dev::block_sync();
    if (tid == 0) {
      for (unsigned w = 1; w < (threads + warp - 1) / warp; ++w) a = amax_merge(a, warp_amax[w], math.nan_propagate);
      Amax::publish(slot, a);
    }
  }
};

template <Format In, class Path = ProfileCodes>
struct TensorQuant {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  const T* x;
  uint8_t* codes;
  int64_t n;
  QuantMath math;
  const uint32_t* slot;  // the finished amax; null with a static scale

  ULPGATE_DEVICE void operator()() const {
    const float amax = slot ? dev::as_float(*slot) : 0.0f;
    const typename Path::Group g = Path::group(math, amax);
    const int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    const int64_t chunks = whole_chunks<In>(x, codes, n);
    for (int64_t c = t; c < chunks; c += stride) {
      const Raw<In> raw[1] = {dev::load16(x + c * V)};
      CodeWord<V> w[1];
      Path::template codes<In>(math, g, raw, w);
      store_word(codes + c * V, w[0]);
    }
    if (chunks * V + t >= n) return;
    const GroupArith tail(math, amax);
    for (int64_t i = chunks * V + t; i < n; i += stride) codes[i] = quantize_one(math, tail.factor, Input<In>::widen(x[i]));
  }
};

struct TensorScale {
  QuantMath math;
  uint32_t* slot;
  ULPGATE_DEVICE void operator()() const {
    if (dev::block_idx().x == 0 && dev::thread_rank() == 0) {
      *slot = dev::as_uint(group_scale(math, dev::as_float(*slot)));
    }
  }
};

}  // namespace ulpgate::quant_kernels
