// The quantization reference on a device (issue 30): what reference/quant/quant.cpp computes for
// quant.group / token / block / mx / tensor, bit for bit, at the speed of the kernels it judges.
// Every step runs on the device; scale_rule.hpp's and element.hpp's constexpr steps are the
// reference's own source. Tiles of one row of at most kRowTileCols columns (group, mx, short
// token rows) take one kernel:
//   RefRowTiles   a block per row: lane groups find the tiles' amax (shuffles), a thread per tile
//                 its scale and factor (ScaleRule); then every element's profile code and ideal
//                 code, the row read again from cache.
// Tiles across rows (block, tensor) and long token rows take three:
//   RefAmax       each tile's amax, max |x| as fp32 bits (a NaN dropped, or kept under the
//                 propagate policy: its bits exceed Inf's), by an atomic max: exact in any order;
//   RefTileScales each tile's scale and factor from its amax;
//   RefCodes      both codes of every element.
// Rows whose tiles are whole packs of 8 are read 16 bytes and written 8 bytes at a time; a pack
// whose quotients are finite (and, under a cast that does not saturate, below its overflow
// midpoint) takes the common path (CodeSteps::common_pack: a quotient, its roundings and a clamp
// an element, no comparison or branch), the rest the
// general steps, where the profile's code is the ideal's where the same value is cast, and x / s
// is quick_div where that is proven the IEEE quotient (quant_math.hpp): the same bits as the
// host's per-element steps.
// reference_pipeline.hpp runs them on a device of the host-SIMT emulator or of CUDA.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_kernels.hpp"  // Input, pack_codes, store_word, quick_div
#include "reference/quant/element.hpp"
#include "reference/quant/scale_rule.hpp"

namespace ulpgate::quant_kernels {

namespace element = quant::element;

// The spec's tiling: rows x cols elements, tiles of tile_rows x tile_cols, groups tiles per row of
// scales (quant::ScaleShape::g).
struct RefGeometry {
  int64_t m, k, tile_rows, tile_cols, groups;
  // A column's tile column col / tile_cols as (col * tile_magic) >> tile_shift, exact for every
  // col < 2^31 (a row has fewer columns): tile_shift = 31 + ceil(log2(tile_cols)), tile_magic =
  // ceil(2^tile_shift / tile_cols) < 2^32 (Granlund and Montgomery, "Division by invariant
  // integers using multiplication", PLDI 1994): two instructions, no branch a pack.
  uint32_t tile_magic;
  int tile_shift;
  bool packed = false;  // rows walked in packs of kPack (packable: every pack in one tile, aligned)
  ULPGATE_HOST_DEVICE int64_t tile(int64_t row, int64_t col) const { return row / tile_rows * groups + col / tile_cols; }
  ULPGATE_HOST_DEVICE uint32_t tile_col(uint32_t col) const { return uint32_t(uint64_t(col) * tile_magic >> tile_shift); }
  static constexpr RefGeometry of(int64_t m, int64_t k, int64_t tile_rows, int64_t tile_cols, int64_t groups) {
    const int shift = 31 + int(std::bit_width(uint64_t(tile_cols) - 1));  // 31 + ceil(log2(tile_cols))
    const auto magic = uint32_t(((uint64_t(1) << shift) + uint64_t(tile_cols) - 1) / uint64_t(tile_cols));
    return {m, k, tile_rows, tile_cols, groups, magic, shift};
  }
  // Row `row`'s first element of a [m x k] array.
  template <class T>
  ULPGATE_HOST_DEVICE T* row_of(T* a, int64_t row) const { return a + row * k; }
};

// Row `row` of the input x: its rows are walked from their first element with 32-bit columns.
template <Format In>
ULPGATE_DEVICE const typename Input<In>::T* input_row(const void* x, const RefGeometry& g, int64_t row) {
  return g.row_of(static_cast<const typename Input<In>::T*>(x), row);
}

// An input element widened exactly to fp32.
template <Format In>
ULPGATE_DEVICE float widen_input(const typename Input<In>::T* xr, uint32_t col) {
  if constexpr (In == Format::fp32) return xr[col];
  else if constexpr (In == Format::fp16) return dev::fp16_to_float(xr[col]);
  else return dev::bf16_to_float(xr[col]);
}

// The elements a thread takes at once where a row allows it (RefGeometry::packed): one 16-byte
// load of 16-bit input (two of fp32) and one 8-byte store of each code. A pack lies inside one
// tile, so its scale, factor and reciprocal are read once.
inline constexpr int kPack = 8;

// The codes of a pack of values, none NaN and none beyond the format's overflow midpoint
// (FastRneCast<F>::in_range of each, byte j from v[j]): on CUDA sm_89+ for e4m3fn and e5m2 the
// hardware's conversion of pairs (RNE; its saturation acts only beyond that midpoint, where the
// steps round to max too), elsewhere the integer steps.
template <Format F>
ULPGATE_DEVICE uint64_t in_range_codes(const float (&v)[kPack]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  if constexpr (F == Format::e4m3fn)
    return uint64_t(dev::cvt_e4m3x4(v[0], v[1], v[2], v[3])) | uint64_t(dev::cvt_e4m3x4(v[4], v[5], v[6], v[7])) << 32;
  if constexpr (F == Format::e5m2)
    return uint64_t(dev::cvt_e5m2x4(v[0], v[1], v[2], v[3])) | uint64_t(dev::cvt_e5m2x4(v[4], v[5], v[6], v[7])) << 32;
#endif
  uint64_t codes = 0;
  ULPGATE_UNROLL
  for (int j = 0; j < kPack; ++j) codes |= uint64_t(FastRneCast<F>::in_range(v[j])) << (8 * j);
  return codes;
}

// The codes of a pack of finite values, those beyond the format's max taking +-max's: on CUDA
// sm_89+ for e4m3fn and e5m2 the hardware's satfinite conversion does that itself, elsewhere the
// values are clamped to +-max first.
template <Format F>
ULPGATE_DEVICE uint64_t saturated_codes(const float (&v)[kPack]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  constexpr bool satfinite = F == Format::e4m3fn || F == Format::e5m2;
#else
  constexpr bool satfinite = false;
#endif
  if constexpr (satfinite) {
    return in_range_codes<F>(v);
  } else {
    float c[kPack];
    ULPGATE_UNROLL
    for (int j = 0; j < kPack; ++j) c[j] = copysignf(fminf(fabsf(v[j]), element::grid_max<F>()), v[j]);
    return in_range_codes<F>(c);
  }
}

// The codes of values with v's signs from their magnitudes (saturated_codes). In e4m3fn and e5m2
// a negative value's code is its magnitude's with bit 7 set (negative zero too), so the signs are
// or-ed into the codes, one mask a pack (dev::sign_bytes4); other formats cast the signed values.
template <Format F>
struct SignedCodes {
  static constexpr bool kSignBit = F == Format::e4m3fn || F == Format::e5m2;
  const float (&v)[kPack];
  uint64_t signs = 0;
  ULPGATE_DEVICE explicit SignedCodes(const float (&values)[kPack]) : v(values) {
    if constexpr (kSignBit) {
      const auto word = [&](int j) { return dev::as_uint(v[j]); };
      signs = (uint64_t(dev::sign_bytes4(word(4), word(5), word(6), word(7))) << 32 |
               dev::sign_bytes4(word(0), word(1), word(2), word(3))) & 0x8080808080808080ull;
    }
  }
  ULPGATE_DEVICE uint64_t of(const float (&magnitude)[kPack]) const {
    if constexpr (kSignBit) {
      return saturated_codes<F>(magnitude) | signs;
    } else {
      float c[kPack];
      ULPGATE_UNROLL
      for (int j = 0; j < kPack; ++j) c[j] = copysignf(magnitude[j], v[j]);
      return saturated_codes<F>(c);
    }
  }
};

// aq = fl32(q) for a quotient q >= 0 rounded to fp32 by round-to-odd instead (the nearer fp32 value
// toward zero, its last bit set where inexact), from the sign of the exact residual |x| - s aq:
// RNE of that value to a format of at least two bits fewer (every fp8 format) is RNE of q itself
// (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using
// rounding to odd", IEEE TC 2008), since an inexact q's value is odd and no fp8 value or midpoint is.
// On bits: one less where the residual's sign bit is set, or 1 where it is nonzero (an fma whose
// exact result is zero gives +0 here, never -0).
ULPGATE_DEVICE float odd_rounded(float aq, float residual) {
  const uint32_t r = dev::as_uint(residual);
  return dev::as_float((dev::as_uint(aq) + uint32_t(int32_t(r) >> 31)) | dev::min_u32(r, 1u));
}

template <Format In>
ULPGATE_DEVICE void widen_pack(const typename Input<In>::T* xr, uint32_t col, float (&v)[kPack]) {
  const typename Input<In>::T* p = xr + col;
  if constexpr (In == Format::fp32) {
    float lo[4], hi[4];
    Input<In>::widen(dev::load16(p), lo);
    Input<In>::widen(dev::load16(p + 4), hi);
    ULPGATE_UNROLL
    for (int j = 0; j < 4; ++j) v[j] = lo[j], v[4 + j] = hi[j];
  } else {
    Input<In>::widen(dev::load16(p), v);
  }
}

// The max of m and |v|'s fp32 bits (a NaN dropped under the ignore policy; kept, its bits exceed Inf's).
ULPGATE_DEVICE uint32_t amax_bits_step(uint32_t m, float v, bool ignore_nan) {
  const uint32_t a = dev::as_uint(v) & 0x7FFFFFFFu;
  const uint32_t kept = ignore_nan && a > 0x7F800000u ? 0u : a;
  return kept > m ? kept : m;
}

// The largest magnitude among a pack's eight 16-bit halves (bf16's or fp16's: their magnitudes
// order as their bits), as its 16 bits.
ULPGATE_DEVICE uint32_t largest_half(const uint32_t (&w)[4]) {
  const uint32_t pair = dev::max_u16x2(dev::max_u16x2(w[0] & 0x7fff7fffu, w[1] & 0x7fff7fffu),
                                       dev::max_u16x2(w[2] & 0x7fff7fffu, w[3] & 0x7fff7fffu));
  const uint32_t hi = pair >> 16, lo = pair & 0xffffu;
  return hi > lo ? hi : lo;
}

// max(m, the largest |x| bits of the pack at element i): for bf16 the halves' maximum two at a time
// (a bf16 value's bits are the top half of its fp32 value's) unless a NaN is to be dropped (then,
// as for other inputs, element by element). Measured on the H200 against a lane's packs first and
// one NaN test after them: 1.5 % faster in RefRowTiles (one pack a lane a tile), 1 % slower in
// RefAmax (28 packs a lane).
template <Format In>
ULPGATE_DEVICE uint32_t pack_amax_bits(const typename Input<In>::T* xr, uint32_t col, uint32_t m, bool ignore_nan) {
  float v[kPack];
  if constexpr (In == Format::bf16) {
    const Pack16<uint16_t> p = dev::load16(xr + col);
    uint32_t w[4];
    memcpy(w, p.v, 16);
    const uint32_t a = largest_half(w) << 16;
    if (!ignore_nan || a <= 0x7F800000u) return a > m ? a : m;
    Input<In>::widen(p, v);  // a NaN to drop: the same pack element by element, not loaded again
  } else {
    widen_pack<In>(xr, col, v);
  }
  ULPGATE_UNROLL
  for (int j = 0; j < kPack; ++j) m = amax_bits_step(m, v[j], ignore_nan);
  return m;
}

// The reference's input x, a source of rows: RawRows, the In values in memory, or a composition's
// values made as they are loaded (norm_kernels::NormRows: rms-quant's T(y)). A source has
//   Row row(const RefGeometry&, int64_t r) const        row r, whose Row has
//     float value(uint32_t col) const                     an element widened to fp32 (the amax pass)
//     uint32_t pack_amax_bits(uint32_t col, uint32_t m, bool ignore_nan) const
//                                                         max(m, the largest |x| bits of the pack at col)
//     float coded_value(uint32_t col) const               an element where its codes are made
//     void coded_pack(uint32_t col, float (&v)[kPack]) const   the kPack elements from col on, likewise
//   void prefetch(const RefGeometry&, int64_t r) const  asks L2 for row r (packed rows)
//   static constexpr Format kIn                         the values' format before widening
template <Format In>
struct RawRows {
  static constexpr Format kIn = In;
  const void* x;

  struct Row {
    const typename Input<In>::T* xr;
    ULPGATE_DEVICE float value(uint32_t col) const { return widen_input<In>(xr, col); }
    ULPGATE_DEVICE void pack(uint32_t col, float (&v)[kPack]) const { widen_pack<In>(xr, col, v); }
    ULPGATE_DEVICE uint32_t pack_amax_bits(uint32_t col, uint32_t m, bool ignore_nan) const {
      return quant_kernels::pack_amax_bits<In>(xr, col, m, ignore_nan);
    }
    ULPGATE_DEVICE float coded_value(uint32_t col) const { return value(col); }
    ULPGATE_DEVICE void coded_pack(uint32_t col, float (&v)[kPack]) const { pack(col, v); }
  };
  ULPGATE_DEVICE Row row(const RefGeometry& g, int64_t r) const { return {input_row<In>(x, g, r)}; }
  ULPGATE_DEVICE void prefetch(const RefGeometry& g, int64_t r) const {
    dev::prefetch_l2(input_row<In>(x, g, r), uint32_t(g.k * int64_t(sizeof(typename Input<In>::T))));
  }
};

// The max |x| bits over columns [c0, c1) of row xr, in every lane of an aligned group of `width`
// lanes (a power of two), lane `sub` of which walks every width-th element, or pack where the row
// is packed (c0 and c1 then multiples of kPack).
template <class Row>
ULPGATE_DEVICE uint32_t lanes_amax_bits(const Row& xr, bool packed, uint32_t c0, uint32_t c1, int sub, int width,
                                        bool ignore_nan) {
  uint32_t m = 0;
  if (packed) {
    for (uint32_t c = c0 + uint32_t(sub) * kPack; c < c1; c += uint32_t(width) * kPack) m = xr.pack_amax_bits(c, m, ignore_nan);
  } else {
    for (uint32_t c = c0 + uint32_t(sub); c < c1; c += uint32_t(width)) m = amax_bits_step(m, xr.value(c), ignore_nan);
  }
  for (int o = width / 2; o > 0; o /= 2) {
    const uint32_t other = dev::shfl_xor(m, o, width);
    m = other > m ? other : m;
  }
  return m;
}

// One warp per (row, group of tile_cols columns): its max |x| bits, then one atomic max into the
// group's tile (a 128 x 128 block's rows, a tensor's every row, reach the same tile).
template <class Src>
struct RefAmax {
  Src x;
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
      const uint32_t m = lanes_amax_bits(x.row(g, row), g.packed, uint32_t(c0), uint32_t(std::min(c0 + g.tile_cols, g.k)), lane,
                                         ws, ignore_nan);
      if (lane == 0 && m != 0) dev::atomic_max(&amax_bits[g.tile(row, c0)], m);
    }
  }
};

// A tile's values the codes are computed from: its stored scale s, the profile's factor, and
// fl(1/s) where quick division gives the quotients x / s (quant_math.hpp's quick_division_holds),
// else 0.
struct TileValues {
  float scale, factor, recip;
};
// Whether a tile's scale has no fraction bits: a power of two (CodeSteps' Exact), or 0 or Inf,
// whose recip is 0 and whose packs take the general steps anyway.
ULPGATE_DEVICE bool exact_reciprocal(const TileValues& t) { return (dev::as_uint(t.scale) & 0x7FFFFFu) == 0; }
ULPGATE_DEVICE TileValues tile_values(const element::ScaleRule& rule, float amax) {
  const float s = rule.scale(amax);
  return {s, rule.factor(amax, s).v, quick_division_holds(s) ? 1.0f / s : 0.0f};
}

// Both codes of one element: the profile's (the fast-RNE path: q = x / v or x * v, the clamp, the
// cast) and the ideal's (the exact quotient x / s rounded once).
template <Format F>
struct CodeSteps {
  element::ClampRule clamp;
  float max;         // the clamp's +-max
  double clamp_max;  // the ideal's clamp (0: none)
  FastRneCast<F> cast;
  bool divide;       // the factor divides (else multiplies)
  float ceiling;         // the common path's values are clamped to it (of())
  uint32_t common_limit;  // the common path's |quotient| and |value| bits lie below it (of())

  // A profile's steps: its clamp rule and max (clamps: it clamps before the cast), its cast's
  // overflow policy, whether its factor divides. The common path (common_pack) clamps both values
  // to a ceiling and takes the finite ones below a limit:
  //  - where both codes of a value above max are +-max's (saturates: the profile clamps to a max
  //    the format holds, or its cast saturates at the format's own max), the ceiling is max and
  //    every finite value is common: the ideal is clamped too (the exact quotient exceeds max
  //    wherever fl32 of it does, as max is an fp32 value), or rounds to max and is saturated by
  //    the same cast;
  //  - elsewhere (deepgemm's nosat cast without a clamp) the ceiling is the format's max and the
  //    values below the midpoint between it and the overflow point are common (clamped to
  //    max + ulp at most where the profile clamps to a larger max): the cast rounds them to max at
  //    most, so the ceiling changes no code.
  static CodeSteps of(element::ClampRule clamp, float max, bool clamps, Overflow overflow, bool divide) {
    constexpr float top = element::grid_max<F>();
    constexpr float overflow_midpoint = float((top + element::grid_value<F>(info_of<F>().max_mag + 1)) / 2);
    const bool clamped = clamps && clamp != element::ClampRule::none;
    const bool saturates = (clamped && max <= top) || (overflow == Overflow::satfinite && max == top);
    const float bound = saturates ? INFINITY
                        : clamped ? std::nextafter(std::min(max, top), overflow_midpoint)
                                  : overflow_midpoint;
    return {clamp, max, clamps ? double(max) : 0.0, FastRneCast<F>(overflow), divide, saturates ? max : top,
            std::bit_cast<uint32_t>(bound)};
  }

  // Whether 2^-74 <= |v| < 2^76, where every step of quick_div stays normal (quant_math.hpp).
  ULPGATE_DEVICE static bool in_quick_range(float v) { return ((dev::as_uint(v) >> 23) & 0xFFu) - (127u - 74u) < 150u; }

  // fl32(v / s): quick_div where it is the IEEE quotient (recip != 0, v in quick range), else a
  // division.
  ULPGATE_DEVICE static float ieee_quotient(float v, float s, float recip) {
    if (recip != 0 && in_quick_range(v)) return quick_div(v, s, recip);
    return v / s;
  }

  // With Divide (= divide) the factor is s: the profile's q is the quotient itself.
  template <Format In, bool Divide>
  ULPGATE_DEVICE void codes(float v, const TileValues& t, uint8_t& profile, uint8_t& ideal) const {
    const float quotient = ieee_quotient(v, t.scale, t.recip);
    const float c = element::clamp(clamp, Divide ? quotient : v * t.factor, max);
    profile = uint8_t(cast(c));
    // Non-finite operands: IEEE division is exact there, so the profile's steps are ideal.
    const float w = element::is_finite(v) && element::is_finite(t.scale) && t.scale > 0
                        ? element::ideal_value_of_quotient<F>(v, t.scale, quotient, clamp_max)
                        : Divide ? c : element::clamp(clamp, quotient, max);
    ideal = dev::as_uint(w) == dev::as_uint(c) ? profile : uint8_t(cast(w));  // one cast where both take the same value
  }

  // Both codes of a pack where every element takes the common steps, which give codes' results
  // there. recip != 0 (s finite, positive, within quick division's range), so the quotient is
  // quick_div's for v in quick range; below it both quotients are below 2^-22 with v's sign (code
  // +-0), above it quick_div's is NaN or beyond max, as the IEEE quotient is. Every |quotient| and
  // |value| below common_limit (finite, so no NaN and no Inf either): the profile's code is the
  // cast of its value clamped to the ceiling (of()), the ideal's the cast of the exact quotient
  // rounded to odd (odd_rounded; the fma's residual is exact in sign: with s >= 2^-50 and |v| >=
  // 2^-74 a nonzero one exceeds 2^-121) and clamped the same. The limits are tested once a pack on
  // the largest bits, so the path has no comparison an element. False, with profile and ideal
  // undefined, where any element needs codes' other steps.
  // Exact: the caller knows that t.scale is a power of two (exact_reciprocal). Within quick
  // division's range (recip != 0) its reciprocal is exact, so ax * recip is the correctly rounded
  // ax / s itself, which quick_div's two further steps would only confirm: the product alone.
  // (Tested once a pack inside this path instead, the quantization reference's own rows ran 3-9 %
  // slower on the H200, those with fp32 scales too.)
  template <bool Divide, bool Exact = false>
  ULPGATE_DEVICE bool common_pack(const float (&v)[kPack], const TileValues& t, uint64_t& profile,
                                  uint64_t& ideal) const {
    // At the format's own max the cast's saturation is the ceiling (saturated_codes).
    return ceiling < element::grid_max<F>() ? common_pack_below<Divide, true, Exact>(v, t, profile, ideal)
                                            : common_pack_below<Divide, false, Exact>(v, t, profile, ideal);
  }
  template <bool Divide, bool Clamps, bool Exact>
  ULPGATE_DEVICE bool common_pack_below(const float (&v)[kPack], const TileValues& t, uint64_t& profile,
                                        uint64_t& ideal) const {
    uint32_t largest = 0;  // the largest |quotient| and |value| bits
    float pv[kPack], iv[kPack];  // the magnitudes the profile's and the ideal's codes round
    ULPGATE_UNROLL
    for (int j = 0; j < kPack; ++j) {
      // Magnitudes, v's sign put back last (a factor is >= 0, or NaN and then beyond the limit).
      const float ax = fabsf(v[j]), aq = Exact ? ax * t.recip : quick_div_magnitude(ax, t.scale, t.recip);
      const float av = Divide ? aq : ax * t.factor;
      largest = std::max(largest, dev::as_uint(aq));
      if constexpr (!Divide) largest = std::max(largest, dev::as_uint(av));
      const float odd = odd_rounded(aq, fmaf(-t.scale, aq, ax));
      pv[j] = Clamps ? fminf(av, ceiling) : av;
      iv[j] = Clamps ? fminf(odd, ceiling) : odd;
    }
    const SignedCodes<F> signed_codes(v);
    profile = signed_codes.of(pv);
    ideal = signed_codes.of(iv);
    return t.recip != 0 && largest < common_limit;
  }

  template <Format In, bool Divide, bool Exact = false>
  ULPGATE_DEVICE void pack_codes_with(const float (&v)[kPack], const TileValues& t, uint64_t& profile,
                                      uint64_t& ideal) const {
    if (common_pack<Divide, Exact>(v, t, profile, ideal)) return;
    uint8_t p[kPack], d[kPack];
    ULPGATE_UNROLL
    for (int j = 0; j < kPack; ++j) codes<In, Divide>(v[j], t, p[j], d[j]);
    profile = pack_codes(p);
    ideal = pack_codes(d);
  }
};

// Both codes of every element of row `row` by the block's threads, tile t's values at tiles[t]:
// packs where the row is packed, else element by element.
template <class Src, Format F>
ULPGATE_DEVICE void row_codes(const Src& x, const RefGeometry& g, int64_t row, const TileValues* tiles,
                              const CodeSteps<F>& steps, uint8_t* profile, uint8_t* ideal) {
  constexpr Format In = Src::kIn;
  const typename Src::Row xr = x.row(g, row);
  uint8_t* const pr = g.row_of(profile, row);
  uint8_t* const ir = g.row_of(ideal, row);
  const uint32_t k = uint32_t(g.k), threads = dev::block_dim().x;
  if (!g.packed) {
    for (uint32_t col = dev::thread_rank(); col < k; col += threads) {
      const float v = xr.coded_value(col);
      const TileValues& t = tiles[g.tile_col(col)];
      if (steps.divide) steps.template codes<In, true>(v, t, pr[col], ir[col]);
      else steps.template codes<In, false>(v, t, pr[col], ir[col]);
    }
    return;
  }
  for (uint32_t col = dev::thread_rank() * kPack; col < k; col += threads * kPack) {
    float v[kPack];
    xr.coded_pack(col, v);
    const TileValues t = tiles[g.tile_col(col)];
    uint64_t p, d;
    if (steps.divide) steps.template pack_codes_with<In, true>(v, t, p, d);
    else steps.template pack_codes_with<In, false>(v, t, p, d);
    store_word(pr + col, p);
    store_word(ir + col, d);
  }
}

// A packed row's block asks L2 for the row dev::kRowsAhead on (the grid is the rows).
template <class Src>
ULPGATE_DEVICE void prefetch_row_ahead(const Src& x, const RefGeometry& g, int64_t row) {
  if (g.packed && dev::thread_rank() == 0 && row + dev::kRowsAhead < g.m) x.prefetch(g, row + dev::kRowsAhead);
}

// A thread per tile: its scale (stored) and the values its codes take, from its amax.
struct RefTileScales {
  const uint32_t* amax_bits;  // [tiles]
  float* scale;               // [tiles]
  TileValues* values;         // [tiles]
  int64_t tiles;
  element::ScaleRule rule;

  ULPGATE_DEVICE void operator()() const {
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); t < tiles; t += stride) {
      values[t] = tile_values(rule, element::amax_of_bits(amax_bits[t]));
      scale[t] = values[t].scale;
    }
  }
};

// A block per row (grid-stride), its threads along the row: both codes of every element.
template <class Src, Format F>
struct RefCodes {
  Src x;
  const TileValues* values;  // [tiles]
  uint8_t* profile;          // [m * k]
  uint8_t* ideal;            // [m * k]
  RefGeometry g;
  CodeSteps<F> steps;

  ULPGATE_DEVICE void operator()() const {
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      prefetch_row_ahead(x, g, row);
      row_codes(x, g, row, values + row / g.tile_rows * g.groups, steps, profile, ideal);
    }
  }
};

// The widest one-row tile RefRowTiles takes (a lane group reads it alone), and its most tiles per
// row (their values in shared memory).
inline constexpr int64_t kRowTileCols = 1024, kRowTilesMax = 2048;
constexpr bool one_pass(const RefGeometry& g) {
  return g.tile_rows == 1 && g.tile_cols <= kRowTileCols && g.groups <= kRowTilesMax;
}

// The lanes RefRowTiles gives a tile's amax: a power of two <= 32, up to kLanePacks packs (or
// elements) each. Fewer lanes a tile, fewer rounds of the amax loop and of shuffles: H200, gs128
// row (16 packs a tile), a lane a pack 400 us, 4 packs 332, 8 packs 328 (two lanes a tile), 16
// (one lane) 348; gs32 rows (4 packs) 413-427 -> 335-350 with one lane a tile.
inline constexpr int64_t kLanePacks = 8;
constexpr int row_tile_lanes(const RefGeometry& g) {
  const int64_t items = g.packed ? g.tile_cols / kPack : g.tile_cols;
  return int(std::bit_floor(uint64_t(std::clamp<int64_t>((items + kLanePacks - 1) / kLanePacks, 1, 32))));
}

// A block per row (grid-stride) of one-row tiles: aligned groups of `tile_lanes` lanes
// (row_tile_lanes) find the tiles' amax (a warp takes several narrow tiles at once), a thread per
// tile its scale and values (into shared memory and `scale`), then the block's threads along the
// row write both codes of every element, reading the row again from cache. Dynamic shared memory:
// groups TileValues. Two forms without the middle barrier measured slower on the H200
// (kernels/quant/PERF.md): the scale in every lane of a tile's group, or in its first lane.
template <class Src, Format F>
struct RefRowTiles {
  // 56 registers a thread: more blocks an SM to overlap the barriers. With the common path (H200,
  // gs128 row, one call): 1109 us against 1145 at 64; 72 was slower yet, 48 spills; PERF.md.
  static constexpr int kMaxRegisters = 56;
  Src x;
  float* scale;      // [m * groups]: the stored scales
  uint8_t* profile;  // [m * k]
  uint8_t* ideal;    // [m * k]
  RefGeometry g;
  element::ScaleRule rule;
  CodeSteps<F> steps;
  bool ignore_nan;
  int tile_lanes;

  ULPGATE_DEVICE void operator()() const {
    TileValues* const tiles = dev::dynamic_shared<TileValues>();
    const int ws = dev::warp_size(), lane = int(dev::thread_rank()) % ws, sub = lane % tile_lanes;
    const int per_warp = ws / tile_lanes, warps = int(dev::block_dim().x) / ws, warp = int(dev::thread_rank()) / ws;
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      prefetch_row_ahead(x, g, row);
      // The loop bound is the warp's, so that every lane of it reaches the shuffles.
      // 32-bit tiles and columns: a one-pass row has at most kRowTilesMax tiles of kRowTileCols.
      const typename Src::Row xr = x.row(g, row);
      const uint32_t groups = uint32_t(g.groups), k = uint32_t(g.k), cols = uint32_t(g.tile_cols);
      for (uint32_t first = uint32_t(warp * per_warp); first < groups; first += uint32_t(warps * per_warp)) {
        const uint32_t t = first + uint32_t(lane / tile_lanes), c0 = t * cols;
        const uint32_t c1 = t < groups ? std::min(c0 + cols, k) : c0;
        const uint32_t m = lanes_amax_bits(xr, g.packed, c0, c1, sub, tile_lanes, ignore_nan);
        if (t < groups && sub == 0) tiles[t].scale = dev::as_float(m);  // the amax bits until below
      }
      dev::block_sync();
      for (int64_t t = dev::thread_rank(); t < g.groups; t += dev::block_dim().x) {
        tiles[t] = tile_values(rule, element::amax_of_bits(dev::as_uint(tiles[t].scale)));
        scale[row * g.groups + t] = tiles[t].scale;
      }
      dev::block_sync();
      row_codes(x, g, row, tiles, steps, profile, ideal);
      dev::block_sync();  // the next row's tiles overwrite shared memory
    }
  }
};

}  // namespace ulpgate::quant_kernels
