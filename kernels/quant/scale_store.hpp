// Where a kernel writes scale (m, g) and its layout's padding: the index maps of
// reference/quant/layout.cpp (byte_offset, padding_byte) in device code. The maps hold for the
// padded coordinates too, so padding is "every padded slot outside [M, G]".
#pragma once

#include <stdint.h>
#include <string.h>

#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_math.hpp"
#include "reference/quant/layout.hpp"

namespace ulpgate::quant_kernels {

ULPGATE_HOST_DEVICE inline int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

// The ue8m0 byte of a power-of-two scale (what layout.cpp's pack stores): its exponent field;
// 2^-127 (subnormal) is code 0; Inf and NaN are the NaN byte.
ULPGATE_DEVICE uint8_t ue8m0_byte(float s) {
  if (!is_finite(s)) return 0xff;
  return uint8_t(dev::as_uint(s) >> 23);
}

struct ScaleStore {
  quant::Layout layout;
  int64_t m, g;  // the logical [M, G] scale matrix
  uint8_t* base;

  ULPGATE_HOST_DEVICE bool bytes_layout() const {  // ue8m0 bytes, not fp32 values
    return layout == quant::Layout::ue8m0_packed || layout == quant::Layout::mx_swizzle_128x4 ||
           layout == quant::Layout::mx_row;
  }
  ULPGATE_HOST_DEVICE int64_t padded_rows() const {
    switch (layout) {
      case quant::Layout::col_tma:
      case quant::Layout::ue8m0_packed: return align_up(m, 4);
      case quant::Layout::mx_swizzle_128x4: return align_up(m, 128);
      default: return m;
    }
  }
  ULPGATE_HOST_DEVICE int64_t padded_cols() const {
    const bool blocks_of_4 = layout == quant::Layout::ue8m0_packed || layout == quant::Layout::mx_swizzle_128x4;
    return blocks_of_4 ? align_up(g, 4) : g;
  }

  ULPGATE_HOST_DEVICE int64_t offset(int64_t r, int64_t c) const {
    switch (layout) {
      case quant::Layout::row:
      case quant::Layout::token: return 4 * (r * g + c);
      case quant::Layout::col:
      case quant::Layout::aiter_tview: return 4 * (c * m + r);
      case quant::Layout::col_tma: return 4 * (c * align_up(m, 4) + r);
      case quant::Layout::ue8m0_packed: return 4 * ((c / 4) * align_up(m, 4) + r) + c % 4;
      case quant::Layout::mx_swizzle_128x4: return swizzle_offset(r, c);
      case quant::Layout::mx_row: return r * g + c;
    }
    return 0;
  }
  // The MX swizzle's map (r, c >= 0: shifts and masks).
  ULPGATE_HOST_DEVICE int64_t swizzle_offset(int64_t r, int64_t c) const {
    const uint64_t ur = uint64_t(r), uc = uint64_t(c), quads = uint64_t(align_up(g, 4)) / 4;
    return int64_t(((ur / 128) * quads + uc / 4) * 512 + (ur % 32) * 16 + ((ur % 128) / 32) * 4 + uc % 4);
  }

  ULPGATE_DEVICE void write_word(int64_t at, uint32_t bits) const {
#if defined(ULPGATE_GPU)
    *reinterpret_cast<uint32_t*>(base + at) = bits;
#else
    memcpy(base + at, &bits, 4);
#endif
  }

  ULPGATE_DEVICE void write(int64_t r, int64_t c, float s) const { write_at(offset(r, c), s); }
  ULPGATE_DEVICE void write_at(int64_t at, float s) const { write_at(at, s, bytes_layout()); }
  // bytes: bytes_layout(), where the caller holds it (ScaleSteps).
  ULPGATE_DEVICE void write_at(int64_t at, float s, bool bytes) const {
    if (bytes)
      base[at] = ue8m0_byte(s);
    else
      write_word(at, dev::as_uint(s));
  }

  // Padding slots: 1.0 in col-tma (a reader may divide by it), zero bytes elsewhere.
  ULPGATE_DEVICE void write_padding(int64_t r, int64_t c) const {
    if (layout == quant::Layout::col_tma)
      write_word(offset(r, c), dev::as_uint(1.0f));
    else
      base[offset(r, c)] = 0;
  }
};

// A store's offset(r, c) as r * row + (c / 4) * quad + (c % 4) * col: every layout but the MX
// swizzle is that affine map, read off offset() itself once per launch, so a kernel's store is two
// multiply-adds instead of the layout switch (the fused norm kernels; kernels/norm/PERF.md); and
// whether the layout stores bytes, read once per launch too (write: the layout test took nine
// instructions a store in norm.rms-quant, kernels/norm/PERF-rms-quant.md).
// Separate from ScaleStore: a larger ScaleStore slowed quant.mx's swizzle kernel by 10% on the
// H200 whatever its store did (kernels/quant/PERF.md).
struct ScaleSteps {
  bool affine = false, bytes = false;
  int64_t row = 0, quad = 0, col = 0;

  static ScaleSteps of(const ScaleStore& s) {
    if (s.layout == quant::Layout::mx_swizzle_128x4) return {false, s.bytes_layout()};
    return {true, s.bytes_layout(), s.offset(1, 0), s.offset(0, 4), s.offset(0, 1)};
  }
  ULPGATE_DEVICE void write(const ScaleStore& s, int64_t r, int64_t c, float v) const {
    s.write_at(offset(s, r, c), v, bytes);
  }
  ULPGATE_DEVICE int64_t offset(const ScaleStore& s, int64_t r, int64_t c) const {
    return affine ? r * row + (c >> 2) * quad + (c & 3) * col : s.swizzle_offset(r, c);
  }
};

}  // namespace ulpgate::quant_kernels
