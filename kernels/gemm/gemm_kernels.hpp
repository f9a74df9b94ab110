// The portable block-scaled GEMM, one source for CUDA, HIP and the host-SIMT emulator. Every op
// of spec/gemm.md (tensor, rowwise, block, mx), any fp8 pair, any scale layout of reference/quant
// (row, col, col-tma, aiter-tview, ue8m0-packed, mx-swizzle-128x4, ...) and row-major or
// bpreshuffle weights, all as runtime data (GemmMath): it reads the operands as real consumers
// store them. It claims the `fp32-fma` accumulator model (reference/gemm/model.hpp) and follows its
// declared order exactly:
//   G = fmaf(a_k, b_k, G) over a scale block's K ascending, from +0 (all of K where the scales
//     apply in the epilogue: gemm.tensor, gemm.rowwise);
//   epilogue ops: D = the profile's ScaleRule as two fp32 multiplies (product-first G * fl(sa sb),
//     a-first fl(G sa) * sb, b-first fl(G sb) * sa);
//   block ops (gemm.block, gemm.mx): main = +0, then per K-block main = fmaf(x, y, main) with
//     (x, y) = (G, fl(sa sb)), (fl(G sa), sb) or (fl(G sb), sa);
//   bf16 outputs: RN of the fp32 result.
// No a * b + c is written outside fmaf, so no compiler contraction can change a bit.
// One thread per output element in a grid-stride loop; the only shared memory is the two 256-entry
// code tables, filled before the block's one barrier. Simple on purpose: speed is not a target.
// Tests inject faults through the Faults parameter (NoFault is the kernel).
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/norm/norm_math.hpp"     // narrow_bf16
#include "kernels/portable/device.hpp"
#include "kernels/quant/scale_store.hpp"  // the scale layouts' offsets
#include "reference/gemm/profile.hpp"     // ScaleRule, WeightLayout

namespace ulpgate::gemm_kernels {

// The accumulator model this kernel's outputs follow bit for bit (reference/gemm/model.cpp).
inline constexpr const char* kClaimedModel = "fp32-fma";

// An fp8 format as the decoder needs it.
struct Fp8Format {
  int mbits, bias;
  bool fnuz;  // 0x80 is the only NaN; no Inf, no -0 (e4m3fnuz, e5m2fnuz)
  bool ieee;  // the top exponent is Inf and NaN (e5m2); else only s.1111.111 is NaN (e4m3fn)
};

// The exact value of code c.
ULPGATE_DEVICE float fp8_value(Fp8Format f, uint32_t c) {
  const uint32_t mag = c & 0x7fu, e = mag >> f.mbits, frac = mag & ((1u << f.mbits) - 1);
  const uint32_t top = (1u << (7 - f.mbits)) - 1;
  const float nan = dev::as_float(0x7fc00000u);
  if (f.fnuz && c == 0x80u) return nan;
  if (f.ieee && e == top) return frac ? nan : dev::as_float(c & 0x80u ? 0xff800000u : 0x7f800000u);
  if (!f.fnuz && !f.ieee && e == top && frac == (1u << f.mbits) - 1) return nan;
  const int exponent = (e ? int(e) : 1) - f.bias - f.mbits;  // of the integer significand's unit
  const float v = float(e ? frac | (1u << f.mbits) : frac) * dev::as_float(uint32_t(127 + exponent) << 23);
  return c & 0x80u ? -v : v;
}

// A 4-byte word of device memory at any 4-byte aligned address.
ULPGATE_DEVICE uint32_t load_word(const uint8_t* p) {
#if defined(ULPGATE_GPU)
  return *reinterpret_cast<const uint32_t*>(p);
#else
  uint32_t w;
  memcpy(&w, p, 4);
  return w;
#endif
}

// Scale (r, c) of a logical [M, G] scale matrix from its storage: fp32 words, or ue8m0 bytes
// (2^(c-127); 0 is 2^-127, 0xFF NaN), wherever the layout puts it.
struct ScaleReader {
  quant_kernels::ScaleStore map;  // the layout's offsets (its base is not used)
  const uint8_t* base;

  ULPGATE_DEVICE float at(int64_t r, int64_t c) const {
    const int64_t off = map.offset(r, c);
    if (!map.bytes_layout()) return dev::as_float(load_word(base + off));
    const uint32_t code = base[off];
    return dev::as_float(code == 0xffu ? 0x7fc00000u : code == 0 ? 0x00400000u : code << 23);
  }
};

// One case as the kernel reads it (gemm_plan.cpp builds it from the spec and its profile).
struct GemmMath {
  int64_t m, n, k;
  int64_t kblock, kblocks;  // K per scale block, blocks along K; kblock 0: one block, epilogue scales
  int64_t a_rows, b_rows;   // rows of A / of B per scale row (0: all)
  Fp8Format a_format, b_format;
  gemm::ScaleRule rule;     // the epilogue's (tensor, rowwise) or the K-block combine (block, mx)
  gemm::WeightLayout weights;
  bool bf16_out;
  quant_kernels::ScaleStore sa_map, sb_map;
  // Grouped (moe.gemm, reference/gemm/grouped.hpp): a row's expert from m_indices (contiguous) or
  // its slot (masked: slot_rows rows each, valid below masked_m); B, its scales and (masked) A's
  // scales one expert's storage after another. Dense: grouped = false, every row expert 0.
  bool grouped = false;
  int64_t slot_rows = 0;  // masked: rows per expert slot; 0: contiguous
  int64_t b_expert_bytes = 0, sb_expert_bytes = 0, sa_slot_bytes = 0;
};

struct Coord {
  int64_t m, n;
};

// What a correct kernel does at the places tests inject faults (suites/gemm, suites/moe): the
// value it decodes a code of A or B as, the K-block it sums i-th, the K-block whose scales a block
// uses, the scale row of A an output row reads, the output whose value a thread computes, the
// value it stores; grouped: the expert a row is computed as (-1: none, not written) and the expert
// whose B scales an expert reads.
struct NoFault {
  ULPGATE_DEVICE int64_t expert(int64_t /*row*/, int64_t e) const { return e; }
  ULPGATE_DEVICE int64_t scale_expert(int64_t e) const { return e; }
  ULPGATE_DEVICE float decoded(bool /*of_b*/, uint32_t /*code*/, float value) const { return value; }
  ULPGATE_DEVICE int64_t kblock_order(int64_t i) const { return i; }
  ULPGATE_DEVICE int64_t scale_block(int64_t kb) const { return kb; }
  ULPGATE_DEVICE int64_t scale_row(int64_t r) const { return r; }
  ULPGATE_DEVICE Coord source(int64_t m, int64_t n) const { return {m, n}; }
  ULPGATE_DEVICE float stored(int64_t, int64_t, float d) const { return d; }
};

template <class Faults = NoFault>
struct BlockScaledGemm {
  const uint8_t *a, *b;  // A [M, K] codes; B in math.weights
  ScaleReader sa, sb;
  uint8_t* d;            // [M, N] bf16 or fp32
  GemmMath math;
  Faults faults;
  const int32_t *m_indices = nullptr, *masked_m = nullptr;  // grouped: contiguous / masked

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(float, a_value, 256);
    ULPGATE_SHARED(float, b_value, 256);
    const unsigned tid = dev::thread_rank(), threads = dev::block_dim().count();
    for (unsigned c = tid; c < 256; c += threads) {
      a_value[c] = faults.decoded(false, c, fp8_value(math.a_format, c));
      b_value[c] = faults.decoded(true, c, fp8_value(math.b_format, c));
    }
    dev::block_sync();
    const int64_t total = math.m * math.n, stride = int64_t(threads) * dev::grid_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * threads + tid; i < total; i += stride) {
      const int64_t row = i / math.n, col = i - row * math.n;
      const int64_t e = faults.expert(row, expert_of(row));
      if (e < 0) continue;  // not a token: neither read nor written
      const Coord src = faults.source(row, col);
      store(i, faults.stored(row, col, element(src.m, src.n, e, a_value, b_value)));
    }
  }

  ULPGATE_DEVICE int64_t expert_of(int64_t row) const {
    if (!math.grouped) return 0;
    if (math.slot_rows == 0) return m_indices[row];
    const int64_t e = row / math.slot_rows;
    return row - e * math.slot_rows < masked_m[e] ? e : -1;
  }

  // Element (m, n) of B as stored (bpreshuffle: 16x32 tiles of two 16x16 row-major sub-tiles).
  ULPGATE_DEVICE int64_t b_offset(int64_t n, int64_t k) const {
    if (math.weights == gemm::WeightLayout::row) return n * math.k + k;
    return ((n / 16) * (math.k / 32) + k / 32) * 512 + ((k % 32) / 16) * 256 + (n % 16) * 16 + k % 16;
  }

  // The fmaf chain over K in [k0, k1), from +0, with expert e's B. Four codes of each operand a
  // word where K and k0 allow it (four consecutive K lie together in both weight layouts); the
  // chain's order is K ascending either way.
  ULPGATE_DEVICE float dot(int64_t m, int64_t n, int64_t e, int64_t k0, int64_t k1, const float* av, const float* bv) const {
    const uint8_t *row = a + m * math.k, *weights = b + e * math.b_expert_bytes;
    float g = 0.0f;
    int64_t k = k0;
    if (((math.k | k0) & 3) == 0)
      for (; k + 4 <= k1; k += 4) {
        const uint32_t ca = load_word(row + k), cb = load_word(weights + b_offset(n, k));
        ULPGATE_UNROLL
        for (int j = 0; j < 4; ++j) g = fmaf(av[ca >> 8 * j & 0xffu], bv[cb >> 8 * j & 0xffu], g);
      }
    for (; k < k1; ++k) g = fmaf(av[row[k]], bv[weights[b_offset(n, k)]], g);
    return g;
  }

  // A's scale of row m (masked: in the row's expert slot's own storage).
  ULPGATE_DEVICE float scale_a(int64_t m, int64_t kb) const {
    const int64_t slot = math.slot_rows ? m / math.slot_rows : 0;
    const ScaleReader reader{sa.map, sa.base + slot * math.sa_slot_bytes};
    return reader.at(math.a_rows ? faults.scale_row((m - slot * math.slot_rows) / math.a_rows) : 0, kb);
  }
  ULPGATE_DEVICE float scale_b(int64_t n, int64_t e, int64_t kb) const {
    const ScaleReader reader{sb.map, sb.base + faults.scale_expert(e) * math.sb_expert_bytes};
    return reader.at(math.b_rows ? n / math.b_rows : 0, kb);
  }

  ULPGATE_DEVICE float element(int64_t m, int64_t n, int64_t e, const float* av, const float* bv) const {
    if (math.kblock == 0) {
      const float g = dot(m, n, e, 0, math.k, av, bv), x = scale_a(m, 0), y = scale_b(n, e, 0);
      switch (math.rule) {
        case gemm::ScaleRule::product_first: return g * (x * y);
        case gemm::ScaleRule::a_first: return (g * x) * y;
        case gemm::ScaleRule::b_first: break;
      }
      return (g * y) * x;
    }
    float main = 0.0f;
    for (int64_t i = 0; i < math.kblocks; ++i) {
      const int64_t kb = faults.kblock_order(i);
      const int64_t k0 = kb * math.kblock, k1 = k0 + math.kblock < math.k ? k0 + math.kblock : math.k;
      const int64_t s = faults.scale_block(kb);
      const float g = dot(m, n, e, k0, k1, av, bv), x = scale_a(m, s), y = scale_b(n, e, s);
      switch (math.rule) {
        case gemm::ScaleRule::product_first: main = fmaf(g, x * y, main); break;
        case gemm::ScaleRule::a_first: main = fmaf(g * x, y, main); break;
        case gemm::ScaleRule::b_first: main = fmaf(g * y, x, main); break;
      }
    }
    return main;
  }

  ULPGATE_DEVICE void store(int64_t i, float v) const {
    if (math.bf16_out) {
      const uint16_t h = norm_kernels::narrow_bf16(v);
#if defined(ULPGATE_GPU)
      reinterpret_cast<uint16_t*>(d)[i] = h;
#else
      memcpy(d + 2 * i, &h, 2);
#endif
      return;
    }
#if defined(ULPGATE_GPU)
    reinterpret_cast<float*>(d)[i] = v;
#else
    memcpy(d + 4 * i, &v, 4);
#endif
  }
};

}  // namespace ulpgate::gemm_kernels
