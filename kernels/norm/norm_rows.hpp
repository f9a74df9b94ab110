// A thread's share of a row in the RMSNorm kernels (norm_kernels.hpp): kMaxSlots chunks of the
// values it normalizes (z) and of the weights, as raw 16-bit T chunks or as fp32 values.
#pragma once

#include "kernels/norm/norm_math.hpp"

namespace ulpgate::norm_kernels {

inline constexpr int kMaxSlots = 4;  // chunks one thread keeps of its row

// z, the values a row is normalized from, kMaxSlots chunks of a thread: raw T bits, widened where
// used, or fp32 (Fp32 = true: AITER's rms-add, whose x + residual is not rounded).
template <class E, bool Fp32>
struct RowValues;
template <class E>
struct RowValues<E, false> {
  Raw c[kMaxSlots];
  ULPGATE_DEVICE float at(int j, int i) const { return E::widen(element(c[j], i)); }
  ULPGATE_DEVICE void set(int j, const Raw& x) { c[j] = x; }
  // rms-add: the rounded sum (raw values hold a profile's z only where it is T-valued).
  ULPGATE_DEVICE void set_sum(int j, const Raw& rounded, const float (&)[kChunkElems], bool) { c[j] = rounded; }
};
template <class E>
struct RowValues<E, true> {
  float v[kMaxSlots][kChunkElems];
  ULPGATE_DEVICE float at(int j, int i) const { return v[j][i]; }
  ULPGATE_DEVICE void set(int j, const Raw& x) {
    ULPGATE_UNROLL
    for (int i = 0; i < kChunkElems; ++i) v[j][i] = E::widen(element(x, i));
  }
  ULPGATE_DEVICE void set_sum(int j, const Raw& rounded, const float (&sum)[kChunkElems], bool round) {
    ULPGATE_UNROLL
    for (int i = 0; i < kChunkElems; ++i) v[j][i] = round ? E::widen(element(rounded, i)) : sum[i];
  }
};

// A thread's weights: raw T chunks, or fp32 values (Form::fp32_weight).
template <class E, bool Fp32>
struct RowWeights;
template <class E>
struct RowWeights<E, false> {
  using Elem = typename E::T;
  Raw c[kMaxSlots];
  ULPGATE_DEVICE float at(int j, int i) const { return E::widen(element(c[j], i)); }
};
template <class E>
struct RowWeights<E, true> {
  using Elem = float;
  float v[kMaxSlots][kChunkElems];
  ULPGATE_DEVICE float at(int j, int i) const { return v[j][i]; }
};

}  // namespace ulpgate::norm_kernels
