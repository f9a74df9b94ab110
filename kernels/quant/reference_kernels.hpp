// The quantization reference on a device (issue 30): what reference/quant/quant.cpp computes for
// quant.group / token / block / mx / tensor, bit for bit, at the speed of the kernels it judges.
// Every step runs on the device; scale_rule.hpp's and element.hpp's constexpr steps are the
// reference's own source. Tiles of one row of at most kRowTileCols columns (group, mx, short
// token rows) take one kernel:
//   RefRowTiles   a block per row: a warp per tile finds its amax (warp shuffles), its scale and
//                 factor (ScaleRule); then every element's profile code and ideal code, the row
//                 read again from cache.
// Tiles across rows (block, tensor) and long token rows take three:
//   RefAmax       each tile's amax, max |x| as fp32 bits (a NaN dropped, or kept under the
//                 propagate policy: its bits exceed Inf's), by an atomic max: exact in any order;
//   RefTileScales each tile's scale and factor from its amax;
//   RefCodes      both codes of every element.
// reference_pipeline.hpp runs them on a device of the host-SIMT emulator or of CUDA.
#pragma once

#include <cstdint>

#include "kernels/portable/device.hpp"
#include "reference/quant/element.hpp"
#include "reference/quant/scale_rule.hpp"

namespace ulpgate::quant_kernels {

namespace element = quant::element;

// The spec's tiling: rows x cols elements, tiles of tile_rows x tile_cols, groups tiles per row of
// scales (quant::ScaleShape::g).
struct RefGeometry {
  int64_t m, k, tile_rows, tile_cols, groups;
  int tile_shift;  // log2(tile_cols) where it is a power of two, else -1
  ULPGATE_HOST_DEVICE int64_t tile(int64_t row, int64_t col) const { return row / tile_rows * groups + col / tile_cols; }
  // The tile column of a column: a shift for power-of-two tiles, else a 32-bit division (a 64-bit
  // one costs a hundred instructions on the GPU; a row has fewer than 2^31 columns).
  ULPGATE_HOST_DEVICE uint32_t tile_col(uint32_t col) const {
    return tile_shift >= 0 ? col >> tile_shift : col / uint32_t(tile_cols);
  }
};

// An input element widened exactly to fp32.
template <Format In>
ULPGATE_DEVICE float widen_input(const void* x, int64_t i) {
  if constexpr (In == Format::fp32) return static_cast<const float*>(x)[i];
  else if constexpr (In == Format::fp16) return dev::fp16_to_float(static_cast<const uint16_t*>(x)[i]);
  else return dev::bf16_to_float(static_cast<const uint16_t*>(x)[i]);
}

// A warp's max |x| bits over columns [c0, c1) of row `row`, in every lane (a NaN dropped under the
// ignore policy).
template <Format In>
ULPGATE_DEVICE uint32_t warp_amax_bits(const void* x, const RefGeometry& g, int64_t row, int64_t c0, int64_t c1,
                                       bool ignore_nan) {
  const int ws = dev::warp_size(), lane = int(dev::thread_rank()) % ws;
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
  return m;
}

// One warp per (row, group of tile_cols columns): its max |x| bits, then one atomic max into the
// group's tile (a 128 x 128 block's rows, a tensor's every row, reach the same tile).
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
      const uint32_t m = warp_amax_bits<In>(x, g, row, c0, c0 + g.tile_cols < g.k ? c0 + g.tile_cols : g.k, ignore_nan);
      if (lane == 0 && m != 0) dev::atomic_max(&amax_bits[g.tile(row, c0)], m);
    }
  }
};

// Both codes of one element: the profile's (the fast-RNE path: q = x / v or x * v, the clamp, the
// cast) and the ideal's (the exact quotient x / s rounded once).
template <Format F>
struct CodeSteps {
  element::ClampRule clamp;
  float max;         // the clamp's +-max
  double clamp_max;  // the ideal's clamp (0: none)
  FastRneCast<F> cast;
  bool divide;       // the factor divides (else multiplies)

  ULPGATE_DEVICE void codes(float v, float s, float factor, uint8_t& profile, uint8_t& ideal) const {
    const float q = divide ? v / factor : v * factor;  // dividing, the factor is s: q = fl32(v / s)
    profile = uint8_t(cast(element::clamp(clamp, q, max)));
    const float quotient = divide ? q : v / s;
    // Non-finite operands: IEEE division is exact there, so the profile's steps are ideal.
    ideal = uint8_t(element::is_finite(v) && element::is_finite(s) && s > 0
                        ? element::ideal_code_of_quotient<F>(v, s, quotient, clamp_max, cast)
                        : cast(element::clamp(clamp, quotient, max)));
  }
};

// A thread per tile: its scale (stored) and factor from its amax.
struct RefTileScales {
  const uint32_t* amax_bits;  // [tiles]
  float* scale;               // [tiles]
  float* factor;              // [tiles]
  int64_t tiles;
  element::ScaleRule rule;

  ULPGATE_DEVICE void operator()() const {
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); t < tiles; t += stride) {
      const float amax = element::amax_of_bits(amax_bits[t]);
      scale[t] = rule.scale(amax);
      factor[t] = rule.factor(amax, scale[t]).v;
    }
  }
};

// A block per row (grid-stride), its threads along the row: both codes of every element.
template <Format In, Format F>
struct RefCodes {
  const void* x;
  const float* factor;  // [tiles]
  const float* scale;   // [tiles]: the stored scales
  uint8_t* profile;     // [m * k]
  uint8_t* ideal;       // [m * k]
  RefGeometry g;
  CodeSteps<F> steps;

  ULPGATE_DEVICE void operator()() const {
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      const int64_t first_tile = row / g.tile_rows * g.groups;  // once per row
      for (uint32_t col = dev::thread_rank(); col < uint32_t(g.k); col += dev::block_dim().x) {
        const int64_t i = row * g.k + col, t = first_tile + g.tile_col(col);
        steps.codes(widen_input<In>(x, i), scale[t], factor[t], profile[i], ideal[i]);
      }
    }
  }
};

// The widest one-row tile RefRowTiles takes (a warp reads it alone), and its most tiles per row
// (their scales and factors in shared memory).
inline constexpr int64_t kRowTileCols = 1024, kRowTilesMax = 4096;
constexpr bool one_pass(const RefGeometry& g) {
  return g.tile_rows == 1 && g.tile_cols <= kRowTileCols && g.groups <= kRowTilesMax;
}

// A block per row (grid-stride) of one-row tiles: a warp per tile finds its amax, scale and factor
// (into shared memory and `scale`), then the block's threads along the row write both codes of
// every element, reading the row again from cache. Dynamic shared memory: 2 * groups floats.
template <Format In, Format F>
struct RefRowTiles {
  const void* x;
  float* scale;      // [m * groups]: the stored scales
  uint8_t* profile;  // [m * k]
  uint8_t* ideal;    // [m * k]
  RefGeometry g;
  element::ScaleRule rule;
  CodeSteps<F> steps;
  bool ignore_nan;

  ULPGATE_DEVICE void operator()() const {
    float* const tile_scale = dev::dynamic_shared<float>();
    float* const tile_factor = tile_scale + g.groups;
    const int ws = dev::warp_size(), lane = int(dev::thread_rank()) % ws;
    const int warps = int(dev::block_dim().x) / ws, warp = int(dev::thread_rank()) / ws;
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      for (int64_t t = warp; t < g.groups; t += warps) {
        const int64_t c0 = t * g.tile_cols;
        const uint32_t m = warp_amax_bits<In>(x, g, row, c0, c0 + g.tile_cols < g.k ? c0 + g.tile_cols : g.k, ignore_nan);
        if (lane == 0) {
          const float amax = element::amax_of_bits(m), s = rule.scale(amax);
          tile_scale[t] = s;
          tile_factor[t] = rule.factor(amax, s).v;
          scale[row * g.groups + t] = s;
        }
      }
      dev::block_sync();
      for (uint32_t col = dev::thread_rank(); col < uint32_t(g.k); col += dev::block_dim().x) {
        const int64_t i = row * g.k + col;
        const uint32_t t = g.tile_col(col);
        steps.codes(widen_input<In>(x, i), tile_scale[t], tile_factor[t], profile[i], ideal[i]);
      }
      dev::block_sync();  // the next row's tiles overwrite shared memory
    }
  }
};

}  // namespace ulpgate::quant_kernels
