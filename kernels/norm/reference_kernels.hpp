// The RMSNorm reference on a device (issue 30): what reference/norm computes, bit for bit, in three
// kernels:
//   RefSums     a block per row: the row's exact sum of z^2 and its NaN / Inf flags (reference_sums.hpp),
//               and rms-add's written-back residual where z is that T value (pass 3's x then);
//   RefR        each row's r, the profile's and the ideal's (reference/norm/row_r.hpp: exact), a
//               thread a row and r;
//   RefOutputs  every element's profile y, written-back residual and ideal y (kNearMark where its
//               product lies near a rounding boundary: the host decides those, norm::IdealRow::y).
//   rms-quant's instead: where the quantizer sees T(y) of T values z, the quantization reference
//               (kernels/quant/reference_kernels.hpp) on NormRows, which makes T(y) as it loads z;
//   RefValues   elsewhere every element's quantizer input and written-back residual, which the
//               quantization reference then takes as its x.
// (The r had been computed inside the row's block, by one thread while the others waited at a
// barrier: 70 % of that kernel's barrier stalls; kernels/norm/PERF.md.)
// Where a block can decide a row's r from an estimate of its sum, one pass replaces them all
// (reference_fast.hpp: RefRowsFast, for norm.rms and rms-quant of T(y) in groups of one row).
// The element steps are reference/norm/element.hpp's and row_r.hpp's, the source norm.cpp runs.
// reference_pipeline.hpp runs the three on a device of the host-SIMT emulator or of CUDA.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/norm/norm_math.hpp"  // Elem: the kernels' pair roundings
#include "kernels/norm/reference_sums.hpp"
#include "kernels/quant/reference_kernels.hpp"  // NormRows: a row source of its kernels
#include "kernels/portable/device.hpp"
#include "reference/norm/element.hpp"
#include "reference/norm/row_r.hpp"

namespace ulpgate::norm_kernels {

// An ideal y left for the host: a NaN pattern norm::element::round_to never gives (its NaN is canonical).
inline constexpr uint16_t kNearMark = 0xFFFF;

inline constexpr unsigned kRThreads = 128, kOutputThreads = 128;  // RefR's and RefOutputs' blocks
inline constexpr int64_t kOutputRowBlocks = 2048;  // RefOutputs' grid rows at most

// The profile's y of two elements (element::output_at, the first in the low half) as the kernels
// under test round them (norm_math.hpp Elem: RNE of an fp32 value and the exact product of two T
// values rounded once, one instruction a pair on CUDA, the integer forms elsewhere), a NaN as the
// hardware gives it (canonical_nans below). w0, w1 are T values (weights exactly widened).
template <Format T>
ULPGATE_DEVICE uint32_t profile_pair(bool round_twice, float z0, float z1, float w0, float w1, float r) {
  using E = Elem<T>;
  return round_twice ? E::mul_round2(E::narrow2(z0 * r, z1 * r), E::narrow2(w0, w1)) : E::narrow2((z0 * r) * w0, (z1 * r) * w1);
}
// Bit 15 or 31 set where that half of a pair of T values is a NaN: a magnitude above Inf carries
// into its top bit, and no half into the other. (Three instructions a pair; a pack tests their OR
// once and takes canonical_nans only where one is set.)
template <Format T>
ULPGATE_DEVICE uint32_t nan_halves(uint32_t y) {
  constexpr uint32_t past_inf = T == Format::bf16 ? 0x007F007Fu : 0x03FF03FFu;  // 0x8000 - Inf - 1
  return ((y & 0x7FFF7FFFu) + past_inf) & 0x80008000u;
}
// Each NaN of a pair as the reference's canonical one.
template <Format T>
ULPGATE_DEVICE uint32_t canonical_nans(uint32_t y) {
  constexpr uint32_t inf = T == Format::bf16 ? 0x7f80u : 0x7c00u;
  uint32_t out = 0;
  ULPGATE_UNROLL
  for (int h = 0; h < 2; ++h) {
    const uint32_t half = y >> (16 * h) & 0xffffu;
    out |= ((half & 0x7fffu) > inf ? uint32_t(Elem<T>::kNan) : half) << (16 * h);
  }
  return out;
}
// A pack's profile y (profile_pair's, its NaN halves found by nan_halves): each NaN the canonical one.
template <Format T>
ULPGATE_DEVICE void make_nans_canonical(uint16_t (&y)[8]) {
  for (int k = 0; k < 4; ++k) {
    const uint32_t pair = canonical_nans<T>(uint32_t(y[2 * k]) | uint32_t(y[2 * k + 1]) << 16);
    y[2 * k] = uint16_t(pair), y[2 * k + 1] = uint16_t(pair >> 16);
  }
}

// A pack's profile y as RefOutputs makes it (profile_pair's pair roundings, each NaN the canonical
// one) as four words, element 2k in word k's low half: rms-quant's T(y) in RefValues and NormRows.
// Inlined with a constant round_twice, only that form is made (GroupCodes chooses it once a row);
// with a variable one both are, predicated. Canonical false: NaNs as the hardware made them, for a
// caller that finds them otherwise (GroupCodes: by the pack's amax).
template <Format T, bool Canonical = true>
ULPGATE_DEVICE void profile_words(bool round_twice, const float (&z)[8], const float (&w)[8], float r, uint32_t (&y)[4]) {
  uint32_t nans = 0;
  for (int k = 0; k < 4; ++k) {
    y[k] = profile_pair<T>(round_twice, z[2 * k], z[2 * k + 1], w[2 * k], w[2 * k + 1], r);
    if constexpr (Canonical) nans |= nan_halves<T>(y[k]);
  }
  if (nans)
    for (int k = 0; k < 4; ++k) y[k] = canonical_nans<T>(y[k]);
}
template <Format T>
ULPGATE_DEVICE void profile_pack(bool round_twice, const float (&z)[8], const float (&w)[8], float r, uint16_t (&y)[8]) {
  uint32_t words[4];
  profile_words<T>(round_twice, z, w, r, words);
  for (int k = 0; k < 4; ++k) y[2 * k] = uint16_t(words[k]), y[2 * k + 1] = uint16_t(words[k] >> 16);
}

// Each row's r from its exact sum, the profile's (grid row 0) and the ideal's (grid row 1): a
// thread a row and r, so that the rows' long chains of integer steps run side by side.
struct RefR {
  const uint64_t* limbs;
  const uint32_t* flags;
  float* r_profile;  // [m]
  double* r_ideal;   // [m]
  int64_t m, h;
  norm::row_r::Rule rule;
  norm::ExactSum eps;  // h eps, which the ideal's D adds to the squares (eps_term)

  ULPGATE_DEVICE void operator()() const {
    const int64_t row = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
    if (row >= m) return;
    norm::ExactSum d = norm::ExactSum::from(limbs + row * norm::ExactSum::kLimbs, flags[row]);
    if (dev::block_idx().y == 0) {
      r_profile[row] = norm::row_r::profile_r(rule, d, h);
    } else {
      d.merge(eps);
      r_ideal[row] = norm::row_r::ideal_r(d, h);
    }
  }
};

// The ideal y (element::ideal_y; kNearMark for its kNearBoundary) from fp32 where that decides
// it. p = z w is exact in fp32 where z and w are T values and p is a normal fp32 (bf16: 8 + 8
// bits, fp16: 11 + 11), and v = fl32(p fl32(r)) lies within (2^-24 + 2^-24 + 2^-48) |p r| <
// 2.0002 fp32 ulps of v from p r. Where the bits T drops lie more than `margin` (>= 2) ulps from
// their midpoint, no rounding boundary of T lies between v and p r, so T's rounding of v is that
// of p r: ideal_y_fp32 returns that, or kUndecided. Elsewhere (and outside T's normal range)
// element::ideal_y's double path, out of line (a branch a pack with such an element takes, not a
// predicated second form every element runs).
inline constexpr uint32_t kUndecided = 0x10000;  // ideal_y_fp32's bit for the double path
template <Format T>
ULPGATE_DEVICE_COLD uint16_t ideal_y_double(float z, float w, double r, double window) {
  const uint32_t d = norm::element::ideal_y(T, z, w, r, window);
  return d == norm::element::kNearBoundary ? kNearMark : uint16_t(d);
}
template <Format T>
ULPGATE_DEVICE uint32_t ideal_y_fp32(float z, float w, float r32, uint32_t margin) {
  constexpr bool bf16 = T == Format::bf16;
  constexpr int drop = bf16 ? 16 : 13;
  constexpr uint32_t lowest = bf16 ? 1 : 127 - 14, highest = bf16 ? 254 : 127 + 15;
  const float p = z * w, v = p * r32;
  const uint32_t a = dev::as_uint(v) & 0x7FFFFFFFu, e = a >> 23;
  // Bitwise, not short-circuit: the compiler branched at each && (a branch an element).
  const bool decided = (e - lowest <= highest - lowest) & ((dev::as_uint(p) & 0x7F800000u) != 0) &
                       !norm::element::near_midpoint(a, drop, margin);
  // bf16 keeps fp32's exponent: v's sign rides along (no carry reaches it, e <= 254).
  const uint32_t bits = bf16 ? norm::element::round_dropped(dev::as_uint(v), drop)
                             : (norm::element::round_dropped(a, drop) - ((127u - 15u) << 10)) | (dev::as_uint(v) >> 16 & 0x8000u);
  return (bits & 0xFFFFu) | uint32_t(!decided) << 16;
}

// One element's ideal y: the fp32 form's, or the double path's where that leaves it open.
template <Format T>
ULPGATE_DEVICE uint16_t ideal_y_of(float z, float w, float r32, double r, double window, uint32_t margin) {
  const uint32_t fast = ideal_y_fp32<T>(z, w, r32, margin);
  return fast & kUndecided ? ideal_y_double<T>(z, w, r, window) : uint16_t(fast);
}

// Pass 3: every element's profile y, ideal y (kNearMark where the host decides) and written-back
// residual from its row's r. Grid {ceil(packs or elements of a row / block), rows (grid-stride:
// a thread's setup serves several rows)}: no barrier, no division for an element's place.
template <Format T, bool Residual>
struct RefOutputs {
  // 48: at 40 the pack's loop spilled (the weights' bf16 pairs and two ideal halves, 20-60 bytes)
  // and norm.rms ran 689 us on the H200 against 647 at 48, which holds 10 blocks an SM, not 12.
  static constexpr int kMaxRegisters = 48;
  const uint16_t* x;
  const uint16_t* residual;  // nullptr without one
  const float* weight;       // [h], exactly widened
  const float* r_profile;    // [m]
  const double* r_ideal;     // [m]
  uint16_t* y;               // [m * h] the profile's
  uint16_t* ideal;           // [m * h] the ideal's, or kNearMark
  uint16_t* residual_out;    // [m * h], nullptr without a residual
  RefShape g;
  norm::element::Steps steps;
  double window;    // norm::element::ideal_y's (the reference's 2^-40; wider in tests)
  bool packed;      // packed_rows of h and every buffer (the launch's: not every thread's)
  uint32_t margin;  // ideal_y_fp32's: fp32 ulps (>= 2), or all of them where z w is not exact

  // ideal_y_fp32's margin: 2 ulps, or the window's where that is wider; where z or the weights
  // are not T values, every element takes the double path.
  static uint32_t margin_of(bool exact_products, double window) {
    const double ulps = window * 0x1p24;
    return !exact_products || ulps >= 0x1p31 ? 0xFFFFFFFFu : ulps > 2 ? uint32_t(ulps) + 1 : 2u;
  }

  // Threads a row: one a pack, or one an element.
  ULPGATE_HOST_DEVICE int64_t per_row() const { return packed ? g.h / 8 : g.h; }

  ULPGATE_DEVICE void operator()() const {
    norm::element::Steps steps = this->steps;
    steps.dtype = T;
    steps.has_residual = Residual;
    const int64_t c = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();  // pack or element
    if (c >= per_row()) return;
    const auto widen = [](uint16_t b) { return norm::element::widen(T, b); };
    // The thread's weights, the same in every row it visits.
    Pack16<float> w0{}, w1{};
    if (packed) w0 = dev::load16(weight + 8 * c), w1 = dev::load16(weight + 8 * c + 4);
    for (int64_t row = dev::block_idx().y; row < g.m; row += dev::grid_dim().y) {
      const float rp = r_profile[row];
      const double ri = r_ideal[row];
      const float r32 = float(ri);
      if (!packed) {
        const int64_t i = row * g.h + c;
        const float xv = widen(x[i]), rv = Residual ? widen(residual[i]) : 0.0f, z = norm::element::z_of(steps, xv, rv);
        ideal[i] = ideal_y_of<T>(z, weight[c], r32, ri, window, margin);
        y[i] = norm::element::output_at(steps, z, weight[c], rp);
        if (Residual) residual_out[i] = norm::element::residual_out(steps, xv, rv);
        continue;
      }
      const int64_t i = row * g.h + 8 * c;
      const auto load = [&] {
        return std::pair{dev::load16(x + i), Residual ? dev::load16(residual + i) : Pack16<uint16_t>{}};
      };
      const auto [xs, rz] = load();
      const auto z_in = [&](const Pack16<uint16_t>& xs, const Pack16<uint16_t>& rz, int j) {
        return norm::element::z_of(steps, widen(xs.v[j]), Residual ? widen(rz.v[j]) : 0.0f);
      };
      const auto w_at = [&](int j) { return j < 4 ? w0.v[j] : w1.v[j - 4]; };
      Pack16<uint16_t> yo, io, ro;
      uint32_t undecided = 0;  // kUndecided where an element's ideal y is the double path's
      uint32_t nans = 0;       // nan_halves of the profile's pairs
      for (int k = 0; k < 4; ++k) {  // a pair at a time (fewer live registers)
        float z[2];
        for (int h = 0; h < 2; ++h) {
          const int j = 2 * k + h;
          z[h] = z_in(xs, rz, j);
          const uint32_t fast = ideal_y_fp32<T>(z[h], w_at(j), r32, margin);
          io.v[j] = uint16_t(fast);
          undecided |= fast;
          if (Residual) ro.v[j] = norm::element::residual_out(steps, widen(xs.v[j]), widen(rz.v[j]));
        }
        const uint32_t pair = profile_pair<T>(steps.round_twice, z[0], z[1], w_at(2 * k), w_at(2 * k + 1), rp);
        nans |= nan_halves<T>(pair);
        yo.v[2 * k] = uint16_t(pair), yo.v[2 * k + 1] = uint16_t(pair >> 16);
      }
      if (nans) make_nans_canonical<T>(yo.v);
      dev::store16(y + i, yo);
      // One branch a pack for the rare elements the double path decides, their z from the pack
      // loaded again (a cache hit). The load follows y's store, so the compiler cannot reuse the
      // first load's registers, which, held across the loop, spilled.
      if (undecided & kUndecided) {
        const auto [xs, rz] = load();
        for (int j = 0; j < 8; ++j) io.v[j] = ideal_y_of<T>(z_in(xs, rz, j), w_at(j), r32, ri, window, margin);
      }
      dev::store16(ideal + i, io);
      if (Residual) dev::store16(residual_out + i, ro);
    }
  }
};

// rms-quant's pass 3: every element's quantizer input (norm::element::quantizer_input) and
// written-back residual from its row's profile r. Where the quantizer sees T(y), y's bits (half
// the bytes for the quantization reference to read), else the fp32 values. Grid {ceil(packs or
// elements of a row / block), rows (grid-stride)}: packed rows move 16 bytes a load and store, as
// RefOutputs' do.
template <Format T, bool Residual>
struct RefValues {
  const uint16_t* x;
  const uint16_t* residual;  // nullptr without one
  const float* weight;       // [h], exactly widened
  const float* r_profile;    // [m]
  uint16_t* y;               // [m * h] where steps.quantizes_y
  float* v;                  // [m * h] elsewhere
  uint16_t* residual_out;    // [m * h], nullptr without a residual
  RefShape g;
  norm::element::Steps steps;
  bool packed;  // packed_rows of h and every buffer (the launch's)

  ULPGATE_HOST_DEVICE int64_t per_row() const { return packed ? g.h / 8 : g.h; }

  ULPGATE_DEVICE void operator()() const {
    const int64_t c = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();  // pack or element
    if (c >= per_row()) return;
    if (packed) return steps.quantizes_y ? rows<8, true>(c) : rows<8, false>(c);
    return steps.quantizes_y ? rows<1, true>(c) : rows<1, false>(c);
  }

  // Width elements from p[i] on: one 16-byte pack (or two of floats), or one element.
  template <int Width, class U>
  ULPGATE_DEVICE static void load(const U* p, int64_t i, U (&to)[Width]) {
    if constexpr (Width == 1) to[0] = p[i];
    else std::memcpy(to, dev::load16(p + i).v, 16);
  }
  template <int Width, class U>
  ULPGATE_DEVICE static void store(U* p, int64_t i, const U (&from)[Width]) {
    if constexpr (Width == 1) {
      p[i] = from[0];
    } else {
      constexpr int kPer = 16 / int(sizeof(U));
      for (int k = 0; k < Width / kPer; ++k) {
        Pack16<U> q;
        std::memcpy(q.v, from + k * kPer, 16);
        dev::store16(p + i + k * kPer, q);
      }
    }
  }

  // The thread's Width elements (column Width c) of every row it visits; Y: the quantizer sees T(y).
  template <int Width, bool Y>
  ULPGATE_DEVICE void rows(int64_t c) const {
    norm::element::Steps steps = this->steps;
    steps.dtype = T;
    steps.has_residual = Residual;
    float w[Width];  // the same in every row
    for (int j = 0; j < Width; ++j) w[j] = weight[Width * c + j];
    for (int64_t row = dev::block_idx().y; row < g.m; row += dev::grid_dim().y) {
      const int64_t i = row * g.h + Width * c;
      uint16_t xs[Width], rs[Width] = {}, ro[Width], ys[Width];
      float vs[Width];
      load<Width>(x, i, xs);
      if (Residual) load<Width>(residual, i, rs);
      const float rp = r_profile[row];
      float z[Width];
      for (int j = 0; j < Width; ++j) {
        const float xv = norm::element::widen(T, xs[j]), rv = Residual ? norm::element::widen(T, rs[j]) : 0.0f;
        z[j] = norm::element::z_of(steps, xv, rv);
        if constexpr (Y && Width == 1) ys[j] = norm::element::output_at(steps, z[j], w[j], rp);
        else if constexpr (!Y) vs[j] = norm::element::quantizer_input(steps, z[j], w[j], rp);
        if (Residual) ro[j] = norm::element::residual_out(steps, xv, rv);
      }
      if constexpr (Y && Width == 8) profile_pack<T>(steps.round_twice, z, w, rp, ys);
      if constexpr (Y) store<Width>(y, i, ys);
      else store<Width>(v, i, vs);
      if (Residual) store<Width>(residual_out, i, ro);
    }
  }
};

// rms-quant's quantizer input T(y) made as the quantization reference loads it (a row source of
// quant_kernels::compute_from, as RawRows): y of z (x, or the written-back residual RefSums keeps),
// the weights and the row's profile r, as RefValues makes it. RefValues' write and the
// quantization reference's read of y (2 bytes an element each) are gone; the host makes y's bits
// from r where it needs them (reference_on).
template <Format T>
struct NormRows {
  static constexpr Format kIn = T;
  static constexpr int kPack = quant_kernels::kPack;
  const uint16_t* z;         // [m * h] T values
  const float* weight;       // [h], exactly widened
  const float* r_profile;    // [m]
  norm::element::Steps steps;  // dtype T (z is x, or already the residual sum)

  struct Row {
    const uint16_t* zr;
    const float* w;
    float r;
    norm::element::Steps steps;

    ULPGATE_DEVICE float value(uint32_t col) const {
      return norm::element::widen(T, norm::element::output_at(steps, norm::element::widen(T, zr[col]), w[col], r));
    }
    // The T(y) of the pack at col whose z is zs (four words, element 2k in word k's low half),
    // in the form round_twice names (profile_words, Canonical as there).
    template <bool Canonical = true>
    ULPGATE_DEVICE void pack_words(const Pack16<uint32_t>& zs, uint32_t col, bool round_twice, uint32_t (&y)[4]) const {
      float z[kPack], ws[kPack];
      std::memcpy(ws, dev::load16(w + col).v, 16);
      std::memcpy(ws + 4, dev::load16(w + col + 4).v, 16);
      for (int j = 0; j < kPack; ++j) z[j] = norm::element::widen(T, uint16_t(zs.v[j / 2] >> 16 * (j % 2)));
      profile_words<T, Canonical>(round_twice, z, ws, r, y);
    }
    ULPGATE_DEVICE void pack_bits(uint32_t col, uint16_t (&b)[kPack]) const {
      uint32_t y[4];
      pack_words(dev::load16(reinterpret_cast<const uint32_t*>(zr + col)), col, steps.round_twice, y);
      for (int k = 0; k < 4; ++k) b[2 * k] = uint16_t(y[k]), b[2 * k + 1] = uint16_t(y[k] >> 16);
    }
    ULPGATE_DEVICE void pack(uint32_t col, float (&v)[kPack]) const {
      uint16_t b[kPack];
      pack_bits(col, b);
      for (int j = 0; j < kPack; ++j) v[j] = norm::element::widen(T, b[j]);
    }
    ULPGATE_DEVICE uint32_t pack_amax_bits(uint32_t col, uint32_t m, bool ignore_nan) const {
      float v[kPack];
      pack(col, v);
      for (int j = 0; j < kPack; ++j) m = quant_kernels::amax_bits_step(m, v[j], ignore_nan);
      return m;
    }
    ULPGATE_DEVICE float coded_value(uint32_t col) const { return value(col); }
    ULPGATE_DEVICE void coded_pack(uint32_t col, float (&v)[kPack]) const { pack(col, v); }
  };
  ULPGATE_DEVICE Row row(const quant_kernels::RefGeometry& g, int64_t r) const {
    return {z + r * g.k, weight, r_profile[r], steps};
  }
  ULPGATE_DEVICE void prefetch(const quant_kernels::RefGeometry& g, int64_t r) const {
    dev::prefetch_l2(z + r * g.k, uint32_t(g.k * 2));
  }
};

}  // namespace ulpgate::norm_kernels
