// The quantization reference on a device (issue 30): what reference/quant/quant.cpp computes for
// quant.group / token / block / mx / tensor, bit for bit, at the speed of the kernels it judges.
// Two kernels and the host between them:
//   RefAmax   each tile's amax, max |x| as fp32 bits (a NaN dropped, or kept under the propagate
//             policy: its bits exceed Inf's), by an atomic max: exact in any order;
//   (host)    each tile's scale and factor from its amax by quant::group_scale / group_factor, the
//             reference's own functions (one value per group: 1/128 of the elements);
//   RefCodes  every element's profile code (the fast-RNE path: q = x / v or x * v, the clamp, the
//             cast) and its ideal code, with reference/quant/element.hpp's constexpr steps.
// reference_pipeline.hpp runs them on a device of the host-SIMT emulator or of CUDA.
#pragma once

#include <cstdint>

#include "kernels/portable/device.hpp"
#include "reference/quant/element.hpp"

namespace ulpgate::quant_kernels {

namespace element = quant::element;

// The spec's tiling: rows x cols elements, tiles of tile_rows x tile_cols, groups tiles per row of
// scales (quant::ScaleShape::g).
struct RefGeometry {
  int64_t m, k, tile_rows, tile_cols, groups;
  ULPGATE_HOST_DEVICE int64_t tile(int64_t row, int64_t col) const { return row / tile_rows * groups + col / tile_cols; }
};

// An input element widened exactly to fp32.
template <Format In>
ULPGATE_DEVICE float widen_input(const void* x, int64_t i) {
  if constexpr (In == Format::fp32) return static_cast<const float*>(x)[i];
  else if constexpr (In == Format::fp16) return dev::fp16_to_float(static_cast<const uint16_t*>(x)[i]);
  else return dev::bf16_to_float(static_cast<const uint16_t*>(x)[i]);
}

// One warp per (row, group of tile_cols columns): its lanes' max |x| bits, then one atomic max into
// the group's tile (a 128 x 128 block's rows, a tensor's every row, reach the same tile).
template <Format In>
struct RefAmax {
  const void* x;
  uint32_t* amax_bits;  // [tiles], zero before the launch
  RefGeometry g;
  bool ignore_nan;

  ULPGATE_DEVICE void operator()() const {
    const int ws = dev::warp_size(), lane = int(dev::thread_rank()) % ws;
    const int64_t warps = int64_t(dev::grid_dim().x) * dev::block_dim().x / ws;
    const int64_t units = g.m * g.groups;
    for (int64_t u = (int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank()) / ws; u < units;
         u += warps) {
      const int64_t row = u / g.groups, c0 = u % g.groups * g.tile_cols;
      const int64_t c1 = c0 + g.tile_cols < g.k ? c0 + g.tile_cols : g.k;
      uint32_t m = 0;
      for (int64_t c = c0 + lane; c < c1; c += ws) {
        const uint32_t a = dev::as_uint(widen_input<In>(x, row * g.k + c)) & 0x7FFFFFFFu;
        const uint32_t kept = ignore_nan && a > 0x7F800000u ? 0u : a;
        m = kept > m ? kept : m;
      }
      for (int o = ws / 2; o > 0; o /= 2) {
        const uint32_t other = dev::shfl_xor(m, o, ws);
        m = other > m ? other : m;
      }
      if (lane == 0 && m != 0) dev::atomic_max(&amax_bits[g.tile(row, c0)], m);
    }
  }
};

// A block per row (grid-stride), its threads along the row: both codes of every element.
template <Format In, Format F>
struct RefCodes {
  const void* x;
  const float* factor;  // [tiles]: the divisor or multiplier of the profile's fast path
  const float* scale;   // [tiles]: the stored scales
  uint8_t* profile;     // [m * k]
  uint8_t* ideal;       // [m * k]
  RefGeometry g;
  bool divide;
  element::ClampRule clamp;
  float max;         // the clamp's +-max
  double clamp_max;  // the ideal's clamp (0: none)
  FastRneCast<F> cast;

  ULPGATE_DEVICE void operator()() const {
    // The row's first tile once per row, a 32-bit division per element (a 64-bit one costs a
    // hundred instructions on the GPU; a row has fewer than 2^31 columns).
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      const int64_t first_tile = row / g.tile_rows * g.groups;
      const auto cols = uint32_t(g.tile_cols);
      for (uint32_t col = dev::thread_rank(); col < uint32_t(g.k); col += dev::block_dim().x) {
        const int64_t i = row * g.k + col, t = first_tile + col / cols;
        const float v = widen_input<In>(x, i), s = scale[t];
        const float q = divide ? v / factor[t] : v * factor[t];
        profile[i] = uint8_t(cast(element::clamp(clamp, q, max)));
        // Non-finite operands: IEEE division is exact there, so the profile's steps are ideal.
        ideal[i] = uint8_t(element::is_finite(v) && element::is_finite(s) && s > 0
                               ? element::ideal_code<F>(v, s, clamp_max, cast)
                               : cast(element::clamp(clamp, v / s, max)));
      }
    }
  }
};

}  // namespace ulpgate::quant_kernels
