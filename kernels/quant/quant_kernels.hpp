// The quantization kernels, one source for CUDA, HIP and the host-SIMT emulator:
//   GroupQuant  quant.group, quant.token, quant.mx: a group of gs consecutive elements of a row
//               is handled by `lanes` lanes (a power of two <= warp size); its amax is a sub-warp
//               shuffle reduction of width `lanes`.
//   (TileQuant, quant.block's, is in tile_kernels.hpp; quant.tensor's and quant.silu-mul's kernels
//   in tensor_kernels.hpp and silu_kernels.hpp.)
//   ScalePadding  the padding slots of the scale layout (col-tma rows, packed words, swizzle).
// Templated on the input element type, the amax reduction (tests substitute faulty reductions to
// prove the emulator catches them) and, for GroupQuant, the element path: ProfileCodes reads the
// profile as runtime data (QuantMath: any cast, clamp and NaN policy); NativeCodes fixes the
// factor, the clamp and the NaN policy at compile time and casts with the arch's conversion
// instruction, two values at a time. plan_quant picks the path. The steps they share (input types,
// chunks, code stores, the group walk and its amax) are group_steps.hpp's.
#pragma once

#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "kernels/portable/device.hpp"
#include "kernels/quant/group_steps.hpp"
#include "kernels/quant/quant_math.hpp"
#include "kernels/quant/scale_store.hpp"

namespace ulpgate::quant_kernels {

// ---- element paths: how the elements of a group become codes -------------------------------

// The profile as runtime data, element by element as the reference does it (quantize_one): any
// cast, clamp and NaN policy. The only path of the general layout (GroupQuant::quantize_group).
struct ProfileCodes {
  using Group = GroupArith;
  static constexpr bool kAmaxIgnoresNan = false;  // the profile decides at run time
  static constexpr bool kPairsCast = false;
  ULPGATE_DEVICE static float amax(const QuantMath& p, float a, float v) { return amax_step(a, v, p.nan_propagate); }
  ULPGATE_DEVICE static float merge(const QuantMath& p, float a, float b) { return amax_merge(a, b, p.nan_propagate); }
  ULPGATE_DEVICE static float lane_amax(float a) { return a; }
  ULPGATE_DEVICE static Group group(const QuantMath& p, float amax) { return GroupArith(p, amax); }

  template <Format In, int C, int N = Chunk<In>::size>
  ULPGATE_DEVICE static void codes(const QuantMath& p, const Group& g, const Raw<In> (&raw)[C], CodeWord<N> (&w)[C]) {
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) {
      float v[N];
      Input<In>::widen(raw[c], v);
      w[c] = chunk_codes(p, g, v);
    }
  }
  // Codes of fp32 values computed in the kernel (quant.silu-mul's y).
  template <int C, int N>
  ULPGATE_DEVICE static void value_codes(const QuantMath& p, const Group& g, const float (&v)[C][N], CodeWord<N> (&w)[C]) {
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) w[c] = chunk_codes(p, g, v[c]);
  }

 private:
  template <int N>
  ULPGATE_DEVICE static CodeWord<N> chunk_codes(const QuantMath& p, const Group& g, const float (&v)[N]) {
    uint8_t q[N];
    ULPGATE_UNROLL
    for (int i = 0; i < N; ++i) q[i] = quantize_one(p, g.factor, v[i]);
    return pack_codes(q);
  }
};

enum class Clamp : uint8_t {
  none,            // the cast alone decides (no clamp, or only the one the satfinite cast does)
  nan_to_min,      // fminf(fmaxf(q, -max), max): NaN -> -max
  nan_to_min_low,  // fmaxf(q, -max) only: the same codes where the cast is satfinite and max is
                   // the format's own (it saturates everything above max to max)
  nan_to_max,      // fmaxf(fminf(q, max), -max): NaN -> +max
};

// What an element is multiplied with or divided by, as functors the cast loop inlines.
struct MultiplyBy {
  float f;
  ULPGATE_DEVICE float operator()(float x) const { return x * f; }
};
struct DivideBy {
  float s;
  ULPGATE_DEVICE float operator()(float x) const { return div_rn(x, s); }
};
struct QuickDivideBy {
  float s, y;
  ULPGATE_DEVICE float operator()(float x) const { return quick_div(x, s, y); }
};

// A profile whose per-element steps are fixed for the whole launch: q = x / s (Divide) or x * f,
// the clamp C, then the arch's conversion instruction (the plan's cast is native), four values per
// call; the amax ignores NaN or propagates it (Propagate, with one max.NaN per element). Nosat:
// the profile's cast does not saturate (Fp8Cast::overflow_at), so four values of which one is
// NaN or reaches overflow_at take the software cast instead. Bit for bit ProfileCodes' result
// wherever plan_quant chooses it.
template <bool Divide, Clamp C, bool Propagate, bool Nosat = false>
struct NativeCodes {
  static constexpr bool kAmaxIgnoresNan = !Propagate;  // fmaxf: max of the others
  static constexpr bool kPairsCast = !Divide && !Nosat;  // bf16 with power-of-two scales: cast_pairs
  struct Group {
    float scale;
    float f;     // what the elements are divided by (Divide) or multiplied with
    float y;     // Divide: fl(1 / f), for quick_div
    bool quick;  // Divide: quick_div gives the IEEE quotient for this scale (quick_division_holds)
  };

  ULPGATE_DEVICE static float amax(const QuantMath&, float a, float v) {
    return Propagate ? dev::fmax_nan(a, fabsf(v)) : fmaxf(a, fabsf(v));
  }
  // Two partial amaxes (each after lane_amax) into one.
  ULPGATE_DEVICE static float merge(const QuantMath&, float a, float b) { return amax_merge(a, b, Propagate); }
  // A NaN amax as the reference's (quiet_nan), whichever NaN max.NaN produced.
  ULPGATE_DEVICE static float lane_amax(float a) { return Propagate && is_nan(a) ? quiet_nan() : a; }

  // quick_div needs the dividends bounded by the scale, |x| <= amax <= s * max: not so for a given
  // scale or a capped amax, which divide by IEEE division.
  ULPGATE_DEVICE static Group group(const QuantMath& p, float amax) {
    const GroupArith g(p, amax);
    if (!Divide) return {g.scale, g.factor.v, 0.0f, false};
    const bool bounded = p.given_scale == 0 && p.amax_cap == 0;
    return {g.scale, g.factor.v, div_rn(1.0f, g.scale), bounded && quick_division_holds(g.scale)};
  }

  template <Format In, int Cn, int N = Chunk<In>::size>
  ULPGATE_DEVICE static void codes(const QuantMath& p, const Group& g, const Raw<In> (&raw)[Cn], CodeWord<N> (&w)[Cn]) {
    const bool e4m3 = p.cast.format == Format::e4m3fn || p.cast.format == Format::e4m3fnuz;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if constexpr (kPairsCast && In == Format::bf16)  // the pairs' cast saturates
      if (pow2_pairs(p)) return e4m3 ? cast_pairs<true>(p, g.f, raw, w) : cast_pairs<false>(p, g.f, raw, w);
#endif
    if (!Divide) return e4m3 ? cast<true, In>(p, MultiplyBy{g.f}, raw, w) : cast<false, In>(p, MultiplyBy{g.f}, raw, w);
    if (g.quick)
      return e4m3 ? cast<true, In>(p, QuickDivideBy{g.f, g.y}, raw, w) : cast<false, In>(p, QuickDivideBy{g.f, g.y}, raw, w);
    return e4m3 ? cast<true, In>(p, DivideBy{g.f}, raw, w) : cast<false, In>(p, DivideBy{g.f}, raw, w);
  }

  // Codes of fp32 values computed in the kernel (quant.silu-mul's y).
  template <int Cn, int N>
  ULPGATE_DEVICE static void value_codes(const QuantMath& p, const Group& g, const float (&v)[Cn][N], CodeWord<N> (&w)[Cn]) {
    const bool e4m3 = p.cast.format == Format::e4m3fn || p.cast.format == Format::e4m3fnuz;
    ULPGATE_UNROLL
    for (int c = 0; c < Cn; ++c) {
      if (!Divide)
        w[c] = e4m3 ? chunk_cast<true>(p, MultiplyBy{g.f}, v[c]) : chunk_cast<false>(p, MultiplyBy{g.f}, v[c]);
      else if (g.quick)
        w[c] = e4m3 ? chunk_cast<true>(p, QuickDivideBy{g.f, g.y}, v[c]) : chunk_cast<false>(p, QuickDivideBy{g.f, g.y}, v[c]);
      else
        w[c] = e4m3 ? chunk_cast<true>(p, DivideBy{g.f}, v[c]) : chunk_cast<false>(p, DivideBy{g.f}, v[c]);
    }
  }

 private:
  ULPGATE_DEVICE static float clamp(const QuantMath& p, float q) {
    if (C == Clamp::nan_to_min) return fminf(fmaxf(q, -p.max), p.max);
    if (C == Clamp::nan_to_max) return fmaxf(fminf(q, p.max), -p.max);
    return C == Clamp::nan_to_min_low ? fmaxf(q, -p.max) : q;
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // bf16 input, factor a power of two (or 0, Inf, NaN: ue8m0 and MX scales) and a clamp bound
  // that bf16 holds: q = x * f and the clamp on bf16 pairs (mul.rn / max / min.bf16x2), then the
  // cast of the pair widened. The same codes as the fp32 steps: x * f has x's 8 significant bits,
  // so it is exact in bf16 wherever it is in fp32 (mul.rn.bf16x2 rounds the exact product once:
  // kernels/norm/PERF.md), Inf alike; below 2^-126 both are below every fp8 subnormal and cast to
  // the zero of x * f's sign; NaN is NaN in both.
  ULPGATE_DEVICE static bool pow2_pairs(const QuantMath& p) {
    return (p.pow2 || p.mx != quant::MxRule::none) && C != Clamp::nan_to_max &&
           (C == Clamp::none || (dev::as_uint(p.max) & 0xffffu) == 0);
  }
  template <bool E4M3, int Cn, int N = 8>
  ULPGATE_DEVICE static void cast_pairs(const QuantMath& p, float f, const Raw<Format::bf16> (&raw)[Cn],
                                        CodeWord<N> (&w)[Cn]) {
    const uint32_t f2 = (dev::as_uint(f) >> 16) * 0x10001u;  // exact: f's low half is zero
    const uint32_t hi2 = (dev::as_uint(p.max) >> 16) * 0x10001u, lo2 = hi2 | 0x80008000u;
    ULPGATE_UNROLL
    for (int c = 0; c < Cn; ++c) {
      uint32_t x[4], words[2];
      memcpy(x, raw[c].v, 16);
      ULPGATE_UNROLL
      for (int k = 0; k < 4; ++k) {
        x[k] = dev::mul_bf16x2(x[k], f2);
        if (C != Clamp::none) x[k] = dev::max_bf16x2(x[k], lo2);
        if (C == Clamp::nan_to_min) x[k] = dev::min_bf16x2(x[k], hi2);
      }
      ULPGATE_UNROLL
      for (int k = 0; k < 4; k += 2) {
        const float a = dev::as_float(x[k] << 16), b = dev::as_float(x[k] & 0xffff0000u);
        const float c2 = dev::as_float(x[k + 1] << 16), d = dev::as_float(x[k + 1] & 0xffff0000u);
        words[k / 2] = E4M3 ? dev::cvt_e4m3x4(a, b, c2, d) : dev::cvt_e5m2x4(a, b, c2, d);
      }
      memcpy(&w[c], words, sizeof(words));
    }
  }
#endif
  template <bool E4M3, Format In, class Factor, int Cn, int N = Chunk<In>::size>
  ULPGATE_DEVICE static void cast(const QuantMath& p, Factor f, const Raw<In> (&raw)[Cn], CodeWord<N> (&w)[Cn]) {
    ULPGATE_UNROLL
    for (int c = 0; c < Cn; ++c) {
      float v[N];
      Input<In>::widen(raw[c], v);
      w[c] = chunk_cast<E4M3>(p, f, v);
    }
  }
  // Four codes per conversion call, shifted into the word (an array of words assigned on two
  // paths went to local memory).
  template <bool E4M3, class Factor, int N>
  ULPGATE_DEVICE static CodeWord<N> chunk_cast(const QuantMath& p, Factor f, const float (&v)[N]) {
    CodeWord<N> w = 0;  // little-endian: the first four codes low
    ULPGATE_UNROLL
    for (int i = 0; i < N; i += 4) {
      float q[4];
      ULPGATE_UNROLL
      for (int j = 0; j < 4; ++j) q[j] = clamp(p, f(v[i + j]));
      const uint32_t word = Nosat && !below_overflow(p, q) ? software_word(p.cast, q[0], q[1], q[2], q[3])
                            : E4M3 ? dev::cvt_e4m3x4(q[0], q[1], q[2], q[3])
                                   : dev::cvt_e5m2x4(q[0], q[1], q[2], q[3]);
      w |= CodeWord<N>(word) << (8 * i);
    }
    return w;
  }
  // Every |q| below overflow_at (false for NaN): where the satfinite instruction gives the nosat
  // codes. One predicate chain, no short-circuit branches.
  ULPGATE_DEVICE static bool below_overflow(const QuantMath& p, const float (&q)[4]) {
    const float at = p.cast.overflow_at;
    return (fabsf(q[0]) < at) & (fabsf(q[1]) < at) & (fabsf(q[2]) < at) & (fabsf(q[3]) < at);
  }
  ULPGATE_DEVICE_COLD static uint32_t software_word(Fp8Cast c, float a, float b, float c2, float d) {
    return uint32_t(cast_fp8(c, a)) | uint32_t(cast_fp8(c, b)) << 8 | uint32_t(cast_fp8(c, c2)) << 16 |
           uint32_t(cast_fp8(c, d)) << 24;
  }
};

// Chunks one lane holds on the register path: 4 (32 elements) for 16-bit inputs, so a lane's
// share of the per-group work (reduction, scale, its store) is spread over 32 elements; fp32
// keeps one chunk per lane (its gs-128 groups span a warp, as the R17 fault test needs). An op
// that holds its values as fp32 (quant.silu-mul's y: twice the registers of packed chunks) keeps
// two chunks of 16-bit input a lane, unless it reads its chunks from shared memory (`staged`:
// quant.silu-mul's SiLU-table loop), where four fit and halve the per-group steps an element.
inline constexpr int lane_chunks(int elem_bytes, bool fp32_values = false, bool staged = false) {
  return elem_bytes == 2 ? (fp32_values && !staged ? 2 : 4) : 1;
}

// The register layout: `lanes` lanes x `chunks` chunks make exactly one group, the input is
// 16-byte aligned and every chunk's codes are one aligned word.
template <Format In>
ULPGATE_HOST_DEVICE inline bool register_layout(int64_t gs, int lanes, int chunks, const void* x, const void* codes) {
  constexpr int V = Chunk<In>::size;
  return gs == int64_t(lanes) * chunks * V && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(codes) % sizeof(CodeWord<V>) == 0;
}

// A group kernel's grid-stride over its groups, the lanes of a group together (so shuffles see
// all of them): its register path where the buffers fit the register layout, else its general
// path (ProfileCodes only: launch_quant launches the other paths on the register layout only).
template <Format In, class Path, class Kernel>
ULPGATE_DEVICE void for_each_group(const Kernel& k) {
  const int64_t threads = int64_t(dev::grid_dim().x) * dev::block_dim().x;
  const int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
  const int64_t stride = threads >> k.lane_bits, first = t >> k.lane_bits, per_row = k.k / k.gs;
  const int64_t groups = k.m * per_row;
  const int sub = int(t & (k.lanes - 1));
  int64_t row, col;
  if (register_layout<In>(k.gs, k.lanes, Kernel::C, k.x, k.codes)) {
    for (int64_t gi = first; gi < groups; gi += stride)
      row_col(gi, per_row, row, col), k.quantize_in_registers(row, col, sub);
  } else if constexpr (std::is_same_v<Path, ProfileCodes>) {
    for (int64_t gi = first; gi < groups; gi += stride) row_col(gi, per_row, row, col), k.quantize_group(row, col, sub);
  }
}

// The rows of a dense op: every row a token, one scale storage.
struct AllRows {
  static constexpr bool kAll = true;
  ULPGATE_DEVICE static bool token(int64_t) { return true; }
  ULPGATE_DEVICE static int64_t scale_row(int64_t row, int64_t& base) { return base = 0, row; }
};

// The rows of a grouped op (reference/moe/expert_rows.hpp): contiguous (m_indices: a row's
// expert, -1 off the tokens; one scale storage) or masked (masked_m: each slot's valid rows; a
// scale storage of slot_bytes per slot).
struct ExpertRowMap {
  static constexpr bool kAll = false;
  const int32_t* m_indices;
  const int32_t* masked_m;
  int64_t slot_rows, slot_bytes;
  ULPGATE_DEVICE bool token(int64_t row) const {
    if (m_indices) return m_indices[row] >= 0;
    int64_t slot, local;
    row_col(row, slot_rows, slot, local);
    return local < masked_m[slot];
  }
  // The row within its scale storage, and that storage's first byte.
  ULPGATE_DEVICE int64_t scale_row(int64_t row, int64_t& base) const {
    if (m_indices) return base = 0, row;
    int64_t slot, local;
    row_col(row, slot_rows, slot, local);
    base = slot * slot_bytes;
    return local;
  }
};

// A grouped kernel's walk: a warp per row, its lane groups side by side along the row, so the row
// map is read once a row and a row that is not a token costs one check (a masked decode batch:
// 256 tokens in 32768 rows). A warp that walks several rows (past kRowsPerWarp's grid) reads the
// next row's entry before this row's loads: the row map's latency is the grouped walk's cost over
// the dense one (kernels/quant/PERF.md). Register path or general path as for_each_group.
template <Format In, class Path, class Kernel>
ULPGATE_DEVICE void for_each_token_row(const Kernel& k) {
  const int warp = dev::warp_size();
  const int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
  const int64_t warps = int64_t(dev::grid_dim().x) * dev::block_dim().x / warp, first = t / warp;
  const int lane = int(t % warp), sub = lane & (k.lanes - 1), side = lane >> k.lane_bits, beside = warp >> k.lane_bits;
  const int64_t per_row = k.k / k.gs;
  const bool in_registers = register_layout<In>(k.gs, k.lanes, Kernel::C, k.x, k.codes);
  bool token = first < k.m && k.rows.token(first);
  for (int64_t row = first; row < k.m; row += warps) {
    const bool next = row + warps < k.m && k.rows.token(row + warps);
    if (token)
      for (int64_t g = side; g < per_row; g += beside) {
        if (in_registers) k.quantize_in_registers(row, g, sub);
        else if constexpr (std::is_same_v<Path, ProfileCodes>) k.quantize_group(row, g, sub);
      }
    token = next;
  }
}

template <Format In, class Reduce = ShuffleAmax, class Path = ProfileCodes, class Rows = AllRows>
struct GroupQuant {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  static constexpr int C = lane_chunks(int(sizeof(T)));
  // bf16: 56 registers a thread (nine blocks of 128 an SM, not eight). Uncapped, the vllm gs128
  // row's kernel has taken 64 since db3dad1 and ran 9 % slower on an H200 (kernels/quant/PERF.md).
  // The paths that may cast pairs hold 48 uncapped, and a cap of 56 raised them to 56 (ue8m0-packed
  // 3.7 % slower). fp16 (a conversion an element) and fp32 spill at 56: the compiler chooses (0).
  static constexpr int kMaxRegisters = In == Format::bf16 && !Path::kPairsCast ? 56 : 0;
  const T* x;
  uint8_t* codes;
  int64_t m, k, gs;  // rows, row length, group size (token: gs = k)
  int lanes;         // lanes per group: 1 << lane_bits
  int lane_bits;
  QuantMath math;
  ScaleStore scales;  // one storage's: [rows or slot rows, groups per row]
  Rows rows;

  // A grouped op leaves the rows that are not tokens alone (no read, no write).
  ULPGATE_DEVICE void operator()() const {
    if constexpr (Rows::kAll) for_each_group<In, Path>(*this);
    else for_each_token_row<In, Path>(*this);
  }

  // Register path: lane `sub` holds chunks sub, sub + lanes, ... of its group (each load
  // instruction of a warp reads whole sectors), so the group is read once. The chunks stay
  // packed and are widened where used (one shift or mask per element).
  ULPGATE_DEVICE void quantize_in_registers(int64_t row, int64_t col, int sub) const {
    const int64_t base = row * k + col * gs + int64_t(sub) * V, step = int64_t(lanes) * V;
    Raw<In> raw[C];
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) raw[c] = dev::load16(x + base + c * step);
    // One running amax per chunk, merged after: short dependency chains (the max is the same
    // in any order).
    float a[C];
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) {
      float v[V];
      Input<In>::widen(raw[c], v);
      a[c] = 0.0f;
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) a[c] = Path::amax(math, a[c], v[i]);
    }
    ULPGATE_UNROLL
    for (int c = 1; c < C; ++c) a[0] = Path::amax(math, a[0], a[c]);
    const typename Path::Group g = Path::group(math, Reduce{}(Path::lane_amax(a[0]), lanes, propagates<Path>(math)));
    if (sub == 0) write_scale(row, col, g.scale);
    CodeWord<V> w[C];
    Path::template codes<In>(math, g, raw, w);
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) store_word(codes + base + c * step, w[c]);
  }

  ULPGATE_DEVICE void write_scale(int64_t row, int64_t col, float s) const {
    int64_t base;
    const int64_t r = rows.scale_row(row, base);
    scales.write_at(base + scales.offset(r, col), s);
  }

  ULPGATE_DEVICE float amax_of(const Chunk<In>& c) const {
    float amax = 0.0f;
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) amax = amax_step(amax, c.v[i], math.nan_propagate);
    return amax;
  }

  // General path: a lane walks several chunks (token groups, unaligned input), reading twice.
  ULPGATE_DEVICE void quantize_group(int64_t row, int64_t col, int sub) const {
    const int64_t base = row * k + col * gs;
    float amax = 0.0f;
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V)
      amax = amax_merge(amax, amax_of(Chunk<In>::load(x + base + c, int(gs - c < V ? gs - c : V))), math.nan_propagate);
    amax = Reduce{}(amax, lanes, math.nan_propagate);
    const GroupArith g(math, amax);
    if (sub == 0) write_scale(row, col, g.scale);
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      quantize_chunk<In>(math, g.factor, Chunk<In>::load(x + base + c, n), codes + base + c, n);
    }
  }
};

// The padding slots of `slots` scale storages of slot_bytes each (a dense op: one).
struct ScalePadding {
  ScaleStore scales;
  int64_t slots = 1, slot_bytes = 0;

  ULPGATE_DEVICE void operator()() const {
    const int64_t rows = scales.padded_rows(), cols = scales.padded_cols(), per_slot = rows * cols;
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < slots * per_slot;
         i += stride) {
      const int64_t slot = i / per_slot, r = i % per_slot / cols, c = i % cols;
      if (r < scales.m && c < scales.g) continue;
      ScaleStore s = scales;
      s.base += slot * slot_bytes;
      s.write_padding(r, c);
    }
  }
};

}  // namespace ulpgate::quant_kernels
