// The RMSNorm device reference's passes 1 and 2 (reference_kernels.hpp has the whole of it):
// RefSums, a block per row, two passes over it (the second finds it in the cache):
//   1. the largest finite |z| and the NaN / Inf flags, across the block;
//   2. the exact sum of z^2 (spec/norm.md): each thread adds its squares into a 128-bit fixed-point
//      window placed by that largest |z|, where each lands exactly unless the row spans more
//      binades than the window holds; such a square goes to the thread's norm::ExactSum (local
//      memory, which a row without one never touches). Where z are T values, the squares of the
//      top binades (two bands of 12 of bf16's at H = 7168) are summed in fp64 instead, exactly
//      (fp64_band), and join the window after. The windows are summed across the block, the rare
//      ExactSums merged. Where z is rms-add's written-back residual T(x + residual), pass 2 stores
//      it, and pass 3 reads it instead of x and the residual.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/portable/device.hpp"
#include "reference/norm/element.hpp"
#include "reference/norm/exact_sum.hpp"

namespace ulpgate::norm_kernels {

inline constexpr unsigned kRowThreads = 128;  // RefSums': more blocks an SM, one's barriers overlapping the others' passes
inline constexpr int kRowWarps = int(kRowThreads) / 32;  // at most (warps of 32 lanes or more)

struct RefShape {
  int64_t m, h;
};

// z of element i from the raw dtype bits of x and the residual (none: nullptr).
ULPGATE_DEVICE float z_at(const norm::element::Steps& s, const uint16_t* x, const uint16_t* residual, int64_t i) {
  return norm::element::z_of(s, norm::element::widen(s.dtype, x[i]), residual ? norm::element::widen(s.dtype, residual[i]) : 0.0f);
}

using u128 = unsigned __int128;

// The lowest bit (in the ExactSum's units, 2^-320) of the row's 128-bit window. A square of z
// with biased exponent e (1 for subnormals) is below 2^(2 e + 68) there, so h < 2^L squares of a
// row whose largest |z| has exponent `top` stay below 2^(2 top + 68 + L): the window's top.
ULPGATE_DEVICE int window_base(uint32_t top_bits, int length) {
  const int top = top_bits >> 23 ? int(top_bits >> 23) : 1;
  const int base = 2 * top + 68 + length - 128;
  return base > 0 ? base : 0;
}

// A band of binades where a row of T values z (p significant bits: bf16 8, fp16 11) may sum its
// squares in fp64 instead: biased exponents [top - k, top] (at least 1), k = floor((53 - L - 2 p)
// / 2) (none: top + 1). Each such square is a multiple of u = 2^(2 (top - k) - 2 p + 2) (exponents
// as real ones) and h < 2^L of them stay below 2^(2 top + 2 + L) <= 2^53 u, so every partial sum,
// in any order and across the block, is exact. For this band and the next one down (top - k - 1),
// u is a multiple of the window's lowest bit and the sum lies below its top, so the sum joins the
// window exactly (fp64_into_window). Returns the band's lowest exponent.
ULPGATE_DEVICE int fp64_band(int top, int length, int p) {
  const int k = 53 - length - 2 * p;
  if (k < 0) return top + 1;
  return top - k / 2 > 1 ? top - k / 2 : 1;
}

// A normal |z| (bits b) of a T value as a double by its bits (the conversion instruction runs on
// a slower pipe): T's significand lies in the high word (bf16 7 bits, fp16 10, of its 20).
ULPGATE_DEVICE double widen_to_double(uint32_t b) { return std::bit_cast<double>(uint64_t((b >> 3) + ((1023u - 127u) << 20)) << 32); }

// A row's two fp64 bands as the lowest |z| fp32 bits of each (none: all ones), for a row of T
// values whose largest |z| has fp32 bits `top`; and the square of a |z| in them (bits b >=
// low_from, normal) added to its band's sum. RefSums' and RefRowsFast's.
struct Fp64Bands {
  uint32_t high_from = 0xFFFFFFFFu, low_from = 0xFFFFFFFFu;

  template <Format T>
  ULPGATE_DEVICE static Fp64Bands below(uint32_t top, int length) {
    constexpr int p = T == Format::bf16 ? 8 : 11;
    const int high = fp64_band(int(top >> 23), length, p);
    return {uint32_t(high) << 23, uint32_t(fp64_band(high - 1, length, p)) << 23};
  }
  ULPGATE_DEVICE void add(uint32_t b, double& high, double& low) const {
    const double d = widen_to_double(b);
    if (b >= high_from) high = fma(d, d, high);
    else low = fma(d, d, low);
  }
};

// A thread's fp64 sum of squares (exact and >= 0: fp64_band) into its window at bit `base`.
ULPGATE_DEVICE void fp64_into_window(u128& window, double sum, int base) {
  const uint64_t bits = std::bit_cast<uint64_t>(sum);
  if (bits == 0) return;
  const uint64_t sig = (bits & ((uint64_t(1) << 52) - 1)) | (uint64_t(1) << 52);  // normal: >= 2^-252
  const int shift = int(bits >> 52) - 1075 - norm::ExactSum::kUnitExp - base;    // sig's bit 0 in the window
  window += shift >= 0 ? u128(sig) << shift : u128(sig >> -shift);               // exact: u's trailing zeros
}

// Adds z^2 (|z|'s bits b, finite and non-zero) to the window at bit `base` where it lands exactly.
ULPGATE_DEVICE bool add_to_window(u128& window, uint32_t b, int base) {
  const uint32_t biased = b >> 23;
  const uint64_t m = (b & 0x7FFFFFu) | (biased ? 0x800000u : 0u), square = m * m;
  const int shift = 2 * int(biased ? biased : 1u) + 20 - base;  // square's bit 0 lies at 2 e + 20
  if (shift >= 0) {
    window += u128(square) << shift;
    return true;
  }
  if (shift <= -48 || (square & ((uint64_t(1) << -shift) - 1)) != 0) return false;
  window += square >> -shift;
  return true;
}

// The once-a-row and the rare steps, out of line: a kernel holds the registers of its most
// demanding path (kernels/norm/PERF.md), and the passes over the elements need few.
// A thread's squares outside the window in a row (local memory), made a zero sum where the row
// first needs it: an ExactSum zeroed in every thread had cost each block 11 KB of local stores
// (ncu, H200, 32768 x 7168: 215 / 391 MB of DRAM writes in RefSums for rms / rms-add).
union SpilledSquares {
  ULPGATE_HOST_DEVICE SpilledSquares() {}
  norm::ExactSum sum;
};

// `used`: the thread spilled a square earlier in this row.
ULPGATE_DEVICE_COLD void add_outside_window(SpilledSquares& spill, bool used, float z) {
  if (!used) spill.sum = norm::ExactSum{};
  spill.sum.add_square(z);
}

// Every thread's spilled squares into thread 0's `spill` (called by every thread of the block).
ULPGATE_DEVICE_COLD void merge_spills(SpilledSquares& lazy, bool used, uint64_t* post) {
  if (!used) lazy.sum = norm::ExactSum{};
  norm::ExactSum& spill = lazy.sum;
  constexpr int kLimbs = norm::ExactSum::kLimbs;
  const int ws = dev::warp_size(), warp = int(dev::thread_rank()) / ws, warps = int(dev::block_dim().x) / ws;
  for (int o = ws / 2; o > 0; o /= 2) {
    uint64_t other[kLimbs];
    for (int i = 0; i < kLimbs; ++i) other[i] = dev::shfl_xor(spill.limb(i), o, ws);
    spill.merge(norm::ExactSum::from(other, 0));
  }
  if (dev::lane() == 0)
    for (int i = 0; i < kLimbs; ++i) post[warp * kLimbs + i] = spill.limb(i);
  dev::block_sync();
  if (dev::thread_rank() == 0)
    for (int w = 1; w < warps; ++w) spill.merge(norm::ExactSum::from(post + w * kLimbs, 0));
}

// The row's exact sum: thread 0's spilled squares (merged: some thread spilled) and the block's
// window at bit `base`.
ULPGATE_DEVICE_COLD void store_row_sum(const SpilledSquares& spill, bool merged, u128 window, int base, uint64_t* row_limbs) {
  norm::ExactSum s = merged ? spill.sum : norm::ExactSum{};
  s.add_bits(window, base);
  for (int i = 0; i < norm::ExactSum::kLimbs; ++i) row_limbs[i] = s.limb(i);
}

// Whether rows of h elements and every buffer start 16-byte aligned (nullptr counts as aligned):
// the kernels then move packs of 8 (16-byte loads and stores), else one element at a time.
template <class... P>
ULPGATE_HOST_DEVICE bool packed_rows(int64_t h, const P*... buffers) {
  return h % 8 == 0 && ((reinterpret_cast<uintptr_t>(buffers) % 16 == 0) && ...);
}

// Passes 1 and 2: each row's exact sum of squares and flags. One block a row (grid-stride).
// T: the element type (bf16 or fp16), compile-time so that its widening folds; Residual: norm.rms-
// add's z = x + residual, compile-time so that norm.rms's passes carry none of its steps or tests
// (the launch picks it from `residual`).
template <Format T, bool Residual>
struct RefSums {
  // 64 registers: 40 spilled 108 / 224 bytes with the fp64 bands (H200, bf16 32768 x 7168: rms
  // 879 -> 790 us, rms-add 1346 -> 1188 at 56); since the spilled squares' lazy zeroing 56 spilled
  // 16-20 bytes in rms-add and fp16 rms, and 64 (none) measured rms 606 -> 602 us, rms-add 1007 ->
  // 1000 (whole reference; kernels/norm/PERF-reference.md).
  static constexpr int kMaxRegisters = 64;
  const uint16_t* x;
  const uint16_t* residual;  // nullptr without one
  uint64_t* limbs;           // [m * ExactSum::kLimbs] each row's exact sum of squares
  uint32_t* flags;           // [m] its NaN / Inf flags
  // [m * h] rms-add's written-back residual T(x + residual) where z is that T value
  // (steps.rounds_residual), so that pass 3 reads z from it instead of x and the residual; else nullptr.
  uint16_t* residual_out;
  RefShape g;
  int length;  // L, the bits of h (h < 2^L)
  norm::element::Steps steps;
  bool packed;  // packed_rows of h, x and the residual (the launch's, as RefOutputs')

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(uint64_t, post_lo, kRowWarps);
    ULPGATE_SHARED(uint64_t, post_hi, kRowWarps);
    ULPGATE_SHARED(uint32_t, post_flags, kRowWarps);
    ULPGATE_SHARED(uint64_t, post_limbs, kRowWarps * norm::ExactSum::kLimbs);
    const int ws = dev::warp_size(), lane = dev::lane(), warp = int(dev::thread_rank()) / ws;
    const int warps = int(dev::block_dim().x) / ws;
    const unsigned tid = dev::thread_rank(), threads = dev::block_dim().x;
    norm::element::Steps steps = this->steps;
    steps.dtype = T;
    steps.has_residual = Residual;
    const int packs = int(g.h / 8);  // in a packed row
    // The block's total of every thread's value (combine) and flags (or), in every thread.
    struct Total {
      u128 value;
      uint32_t flags;
    };
    // V: uint32_t (a largest |z|'s bits: one shuffle a step) or u128 (a window).
    const auto across_block = [&]<class V>(V v, uint32_t f, auto combine) {
      constexpr bool kWide = sizeof(V) > 8;
      for (int o = ws / 2; o > 0; o /= 2) {
        if constexpr (kWide) {
          const uint64_t lo = dev::shfl_xor(uint64_t(v), o, ws), hi = dev::shfl_xor(uint64_t(v >> 64), o, ws);
          v = combine(v, u128(hi) << 64 | lo);
        } else {
          v = combine(v, dev::shfl_xor(v, o, ws));
        }
        f |= dev::shfl_xor(f, o, ws);
      }
      if (lane == 0) {
        post_lo[warp] = uint64_t(v), post_flags[warp] = f;
        if constexpr (kWide) post_hi[warp] = uint64_t(v >> 64);
      }
      dev::block_sync();
      const auto posted = [&](int w) {
        if constexpr (kWide) return u128(post_hi[w]) << 64 | post_lo[w];
        else return V(post_lo[w]);
      };
      V total = posted(0);
      uint32_t flags = post_flags[0];
      for (int w = 1; w < warps; ++w) total = combine(total, posted(w)), flags |= post_flags[w];
      dev::block_sync();  // the posts are read before the next call writes them
      return Total{total, flags};
    };
    const auto widen = [](uint16_t b) { return norm::element::widen(T, b); };
    // pack_fn(z) for each pack's eight z of the row at `at` (packed rows), else z_fn(z) for each
    // element's; with `z_out`, z's T bits stored there too (z = T(x + residual): residual_out).
    const auto each_pack = [&](int64_t at, auto pack_fn, auto z_fn, uint16_t* z_out = nullptr) {
      const auto z_bits = [&](uint16_t xb, uint16_t rb) { return norm::element::residual_out(steps, widen(xb), widen(rb)); };
      if (!packed) {
        for (int64_t c = tid; c < g.h; c += threads) {
          if (!Residual || !z_out) {
            z_fn(z_at(steps, x, residual, at + c));
            continue;
          }
          z_out[at + c] = z_bits(x[at + c], residual[at + c]);
          z_fn(widen(z_out[at + c]));
        }
        return;
      }
      // Packs by their index in the tensor: one from the row's start, as largest_magnitude's, made
      // rms-add's reference slower here (831 -> 929 us on the H200; kernels/norm/PERF-reference.md).
      for (int64_t p = at / 8 + tid; p < (at + g.h) / 8; p += threads) {
        const Pack16<uint16_t> xs = dev::load16(x + 8 * p), rz = Residual ? dev::load16(residual + 8 * p) : Pack16<uint16_t>{};
        float z[8];
        if (Residual && z_out) {  // z_of's steps, its T value's bits kept
          Pack16<uint16_t> zs;
          for (int j = 0; j < 8; ++j) zs.v[j] = z_bits(xs.v[j], rz.v[j]), z[j] = widen(zs.v[j]);
          dev::store16(z_out + 8 * p, zs);
        } else {
          for (int j = 0; j < 8; ++j) z[j] = norm::element::z_of(steps, widen(xs.v[j]), Residual ? widen(rz.v[j]) : 0.0f);
        }
        pack_fn(z);
      }
    };
    // A packed row's largest magnitude's bits in `from` (x or the residual), two at a time (one
    // instruction a pair on sm_90); widened, the largest magnitude, as T's widening keeps the order.
    // A thread loads kBatch of its packs before it uses any, a zero pack past the row's end (no
    // magnitude is below it): one at a time, the row's first read waited on L2 or DRAM once a pack.
    // The packs are read as four words (a pair of T each): as eight 16-bit lanes, each pack's
    // conditional zero was 8 PRMT merges (ncu SASS, H200); as words, H200, bf16 32768 x 7168, the
    // whole reference: rms 584 -> 580 us, rms-add 827 -> 820, rms-quant 720 -> 716.
    const auto largest_magnitude = [&](const uint16_t* from, int64_t at) {
      constexpr uint32_t kMagnitudes = 0x7FFF7FFFu;
      constexpr int kBatch = 8;
      uint32_t pair = 0;
      const auto* fr = reinterpret_cast<const uint32_t*>(from + at);  // packed rows: 16-byte aligned
      for (int p = int(tid); p < packs; p += kBatch * int(threads)) {
        Pack16<uint32_t> xs[kBatch];
        ULPGATE_UNROLL
        for (int u = 0; u < kBatch; ++u) {
          const int q = p + u * int(threads);
          xs[u] = q < packs ? dev::load16(fr + 4 * q) : Pack16<uint32_t>{};
        }
        ULPGATE_UNROLL
        for (int u = 0; u < kBatch; ++u) {
          const uint32_t* w = xs[u].v;
          pair = dev::max_u16x2(pair, dev::max_u16x2(dev::max_u16x2(w[0] & kMagnitudes, w[1] & kMagnitudes),
                                                     dev::max_u16x2(w[2] & kMagnitudes, w[3] & kMagnitudes)));
        }
      }
      const uint32_t hi = pair >> 16, lo = pair & 0xFFFFu;
      return uint16_t(hi > lo ? hi : lo);
    };
    const auto each_z = [&](int64_t at, auto z_fn) {
      each_pack(at, [&](const float (&z)[8]) {
        for (int j = 0; j < 8; ++j) z_fn(z[j]);
      }, z_fn);
    };
    const auto larger = [](auto a, auto b) { return a > b ? a : b; };
    const auto add = [](u128 a, u128 b) { return a + b; };  // no carry out: window_base
    const bool t_values = !Residual || steps.rounds_residual;  // z = T(...): fp64_band's
    SpilledSquares spill;  // the thread's squares outside the window (made zero where a row first needs it)
    ULPGATE_NO_UNROLL
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      const int64_t at = row * g.h;
      // The grid is the rows: a later block's row asked of L2 (packed rows: whole 16 bytes).
      if (packed && tid == 0 && row + dev::kRowsAhead < g.m) {
        const int64_t ahead = at + dev::kRowsAhead * g.h;
        dev::prefetch_l2(x + ahead, uint32_t(g.h * 2));
        if (Residual) dev::prefetch_l2(residual + ahead, uint32_t(g.h * 2));
      }
      // 1. The largest |z| (as bits), or on packed rows of rms-add a bound on it: z_of of the
      // largest |x| and |residual|, as z_of is monotone in both (|fl(x + r)| <= fl(|x| + |r|), and
      // T's rounding after); the window and the fp64 bands need only that no |z| exceeds it. Where
      // it is not finite, the largest finite |z| and the flags (1 NaN, 2 Inf: ExactSum::flags()) in
      // a second look (also where only the bound overflowed).
      uint32_t top = 0;
      if (!Residual && packed) {
        top = dev::as_uint(widen(largest_magnitude(x, at))) & 0x7FFFFFFFu;
      } else if (packed) {
        const float bound = norm::element::z_of(steps, widen(largest_magnitude(x, at)), widen(largest_magnitude(residual, at)));
        top = dev::as_uint(bound) & 0x7FFFFFFFu;
      } else {
        each_z(at, [&](float z) {
          const uint32_t b = dev::as_uint(z) & 0x7FFFFFFFu;
          top = b > top ? b : top;
        });
      }
      Total largest = across_block(top, 0, larger);
      if (uint32_t(largest.value) >= 0x7F800000u) {
        uint32_t finite = 0, nonfinite = 0;
        each_z(at, [&](float z) {
          const uint32_t b = dev::as_uint(z) & 0x7FFFFFFFu;
          if (b < 0x7F800000u) finite = b > finite ? b : finite;
          else nonfinite |= b > 0x7F800000u ? 1u : 2u;
        });
        largest = across_block(finite, nonfinite, larger);
      }
      const int base = window_base(uint32_t(largest.value), length);
      // 2. The exact sum of squares: in fp64 in the two bands of binades below the largest |z|
      // (T values z, a finite row), the others in the window.
      const Fp64Bands bands = t_values && !largest.flags ? Fp64Bands::below<T>(uint32_t(largest.value), length) : Fp64Bands{};
      u128 sum = 0;
      double high = 0, low = 0;
      uint32_t spilled = 0;
      const auto square = [&](float z) {
        const uint32_t b = dev::as_uint(z) & 0x7FFFFFFFu;
        if (b >= bands.low_from) return bands.add(b, high, low);
        if (b == 0 || b >= 0x7F800000u || add_to_window(sum, b, base)) return;
        add_outside_window(spill, spilled != 0, z);
        spilled = 1;
      };
      // A pack whose eight lie in the bands takes them without a branch an element.
      each_pack(at, [&](const float (&z)[8]) {
        uint32_t b[8], least = 0xFFFFFFFFu;
        for (int j = 0; j < 8; ++j) b[j] = dev::as_uint(z[j]) & 0x7FFFFFFFu, least = b[j] < least ? b[j] : least;
        if (least >= bands.low_from) {
          for (int j = 0; j < 8; ++j) bands.add(b[j], high, low);
          return;
        }
        for (int j = 0; j < 8; ++j) square(z[j]);
      }, square, residual_out);
      fp64_into_window(sum, high, base);
      fp64_into_window(sum, low, base);
      const Total squares = across_block(sum, spilled, add);
      if (squares.flags) merge_spills(spill, spilled != 0, post_limbs);  // the whole block: some thread spilled
      if (tid == 0) store_row_sum(spill, squares.flags != 0, squares.value, base, limbs + row * norm::ExactSum::kLimbs);
      if (tid == 0) flags[row] = largest.flags;
    }
  }
};

}  // namespace ulpgate::norm_kernels
