// norm.rms's and rms-quant's device reference in one pass over x (issue 30;
// kernels/norm/PERF-reference.md: the split passes read x twice, and a block that waited on the
// exact r had doubled the time): RefRowsFast, a block a row. It holds the row's packs in registers
// while it sums their squares, exactly in RefSums' two fp64 bands below the row's largest
// magnitude, the rare smaller ones in double-double; decides both r from that estimate where it
// lies clear of their rounding boundaries (the exact search only where it does not); and writes
// the row's results: y and the ideal y as RefOutputs does, from the row read again (RowOutputs; L1
// or L2: held in registers, it spilled), or rms-quant's codes and scales of T(y) as the
// quantization reference makes them, from the row it keeps in shared memory (GroupCodes). A row
// it cannot decide (a NaN or Inf in it, a sum near an fp32 rounding boundary or an ideal r near a
// double one: about 2^-24 of rows) sets `undecided`, and the split passes then compute the whole
// case. Every bit is the exact passes'.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/norm/reference_kernels.hpp"
#include "reference/two_sum.hpp"

namespace ulpgate::norm_kernels {

// hi + lo, unevaluated.
struct TwoDoubles {
  double hi = 0, lo = 0;
};

// A square q >= 0 added: hi exact by TwoSum (reference/two_sum.hpp), its errors gathered in lo.
ULPGATE_DEVICE TwoDoubles add_square(TwoDoubles s, double q) {
  const Sum2 t = two_sum(s.hi, q);
  return {t.s, s.lo + t.r};
}
ULPGATE_DEVICE TwoDoubles add(TwoDoubles a, TwoDoubles b) {
  const Sum2 s = two_sum(a.hi, b.hi), n = two_sum(s.s, s.r + (a.lo + b.lo));
  return {n.s, n.r};
}

// How far the estimate of a row's sum S may lie from S, relative, with room. RefRowsFast's bands
// are exact (fp64_band); its tail is summed in double-double: a thread adds at most 64 squares by
// add_square (hi exact; lo collects their errors, each within 2^-53 of the sum, with 64 roundings of
// 2^-53: 2^-94 S), and the block's 7 levels of `add` each round lo once (2^-104 S a level). 2^-80
// claims 2^13 times that.
inline constexpr double kSumError = 0x1p-80;

// fl32(S) from an estimate within kSumError of S: every value within 2^-50 of hi rounds to the
// same float (hi lies within 2^-53 of hi + lo), or false.
ULPGATE_DEVICE bool fp32_of_sum(TwoDoubles s, float& out) {
  const float below = float(s.hi * (1 - 0x1p-50)), above = float(s.hi * (1 + 0x1p-50));
  out = below;
  return below == above;
}

// row_r::rsqrt_rn(v): 1 / sqrt(double(v)) (two roundings: within 2^-51.9 of the exact value) where
// every value within 2^-48 of it rounds to one float, else row_r's exact search (out of line).
ULPGATE_DEVICE_COLD float rsqrt_rn_searched(float v) { return norm::row_r::rsqrt_rn(v); }
ULPGATE_DEVICE float rsqrt_rn_fast(float v) {
  if (!(v >= 0x1p-126f && v <= 0x1.fffffep127f)) return rsqrt_rn_searched(v);  // 0, subnormal, Inf, NaN, < 0
  const double r = 1.0 / sqrt(double(v));
  const float below = float(r * (1 - 0x1p-48)), above = float(r * (1 + 0x1p-48));
  return below == above ? below : rsqrt_rn_searched(v);
}

// row_r::ideal_r: sqrt(h / D) rounded to double, from d within kSumError of D (finite, > 0). One
// Newton step in double-double from y0 = 1 / sqrt(d.hi / h) (within 2^-51): with tau = 1 - d y0^2
// / h (|tau| < 2^-49), sqrt(h / d) = y0 (1 - tau)^(-1/2) = y0 + y0 tau (1/2 + 3/8 tau) + O(tau^3).
// h - d y0^2 is computed from y0^2's and d.hi y0^2's exact TwoProducts (h - a1 exact: a1 lies
// within a factor 2 of h), within 2^-101 h; so s + e = y0 + c lies within 2^-100 of sqrt(h / d),
// and within 2^-79.9 of sqrt(h / D). Where that leaves s's rounding interval (the half gap below a
// power of two is half as wide), false.
ULPGATE_DEVICE bool ideal_r_of(TwoDoubles d, int64_t h, double& out) {
  const double fh = double(h);
  const double y0 = 1.0 / sqrt(d.hi / fh);
  const double p2 = y0 * y0, e2 = fma(y0, y0, -p2);      // y0^2 = p2 + e2
  const double a1 = d.hi * p2, a2 = fma(d.hi, p2, -a1);  // d.hi p2 = a1 + a2
  const double t = (fh - a1) - (a2 + fma(d.hi, e2, d.lo * p2));
  const double tau = t / fh;
  const double c = y0 * (tau * fma(0.375, tau, 0.5));
  const double s = y0 + c, e = c - (s - y0);  // s + e = y0 + c exactly (|c| < |y0|)
  const uint64_t bits = std::bit_cast<uint64_t>(s);
  double half = std::bit_cast<double>((bits & (uint64_t(0x7FF) << 52)) - (uint64_t(53) << 52));  // ulp(s) / 2
  if ((bits & ((uint64_t(1) << 52) - 1)) == 0 && e < 0) half *= 0.5;
  out = s;
  return fabs(e) + s * 0x1p-79 < half;
}

// A row's two r where its sum's estimate decides them. Out of line (thread 0's, once a row; by
// value, so that the kernel's parameters need no copy in local memory): the row's other steps
// need the registers.
struct RowR {
  double ideal = 0;
  float profile = 0;
  uint32_t decided = 0;
};
ULPGATE_DEVICE_COLD RowR decide_r(TwoDoubles sum, norm::row_r::Rule rule, TwoDoubles eps_h, int64_t h) {
  RowR r;
  float s32 = 0;
  r.decided = fp32_of_sum(sum, s32) && ideal_r_of(add(sum, eps_h), h, r.ideal);
  if (r.decided) r.profile = rsqrt_rn_fast(norm::row_r::profile_rsqrt_arg(rule, s32, h));
  return r;
}

// h eps as hi + lo, exactly (the ideal's D adds it to the squares: eps_term).
inline TwoDoubles eps_times_h(double eps, int64_t h) {
  const double p = eps * double(h);
  return {p, std::fma(eps, double(h), -p)};
}

// A square (|z|'s fp32 bits b) that a pack with one below the bands takes: into its band, or, for
// a non-zero z below them, into the double-double tail (the conversion handles fp32 subnormals).
ULPGATE_DEVICE void add_outside_bands(uint32_t b, uint32_t high_from, uint32_t low_from, double& high, double& low,
                                      TwoDoubles& tail) {
  const double d = double(dev::as_float(b));
  if (b >= high_from) high = fma(d, d, high);
  else if (b >= low_from) low = fma(d, d, low);
  else if (b != 0) tail = add_square(tail, d * d);
}

// A pack of words as one 16-byte store: dev::store16 of the pack, whose words came through the
// rare paths' branches, compiled to four 4-byte stores (PTX st.global.u32, nvcc 13).
ULPGATE_DEVICE void store_words(uint16_t* p, const Pack16<uint32_t>& w) {
#if defined(__CUDA_ARCH__)
  asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(w.v[0]), "r"(w.v[1]), "r"(w.v[2]), "r"(w.v[3]) : "memory");
#else
  dev::store16(reinterpret_cast<uint32_t*>(p), w);
#endif
}

// norm.rms's outputs of a decided row (RefRowsFast's Outputs): y and the ideal y as RefOutputs
// makes them, from the row read again (L1 or L2: held, the row spilled).
template <Format T>
struct RowOutputs {
  static constexpr bool kKeepsRow = false;  // the row read again (GroupCodes keeps it)
  const float* weight;  // [h], exactly widened
  uint16_t* y;          // [m * h] the profile's
  uint16_t* ideal;      // [m * h] the ideal's, or kNearMark
  norm::element::Steps steps;
  double window;    // as RefOutputs'
  uint32_t margin;  // as RefOutputs'

  // Row `row` (xr its first pack) of h elements, the thread's packs tid + u kRowThreads.
  template <int Packs>
  ULPGATE_DEVICE void row(const uint32_t* xr, int64_t row, int64_t h, int tid, float rp, double ri) const {
    constexpr int threads = int(kRowThreads);
    const int packs = int(h / 8);
    const auto widen = [](uint32_t b) { return norm::element::widen(T, b & 0xFFFFu); };
    const float r32 = float(ri);
    ULPGATE_NO_UNROLL
    for (int u = 0; u < Packs; ++u) {
      const int q = tid + u * threads;
      if (q >= packs) continue;
      const Pack16<uint32_t> xp = dev::load16(xr + 4 * q);
      const Pack16<float> w0 = dev::load16(weight + 8 * q), w1 = dev::load16(weight + 8 * q + 4);
      const auto w_at = [&](int j) { return j < 4 ? w0.v[j] : w1.v[j - 4]; };
      // As words, pairs of T: as 16-bit lanes nvcc split each pack's store into four.
      Pack16<uint32_t> yo, io;
      uint32_t open = 0, nans = 0;
      for (int k = 0; k < 4; ++k) {
        const float z0 = widen(xp.v[k]), z1 = widen(xp.v[k] >> 16);
        const uint32_t f0 = ideal_y_fp32<T>(z0, w_at(2 * k), r32, margin), f1 = ideal_y_fp32<T>(z1, w_at(2 * k + 1), r32, margin);
        io.v[k] = (f0 & 0xFFFFu) | f1 << 16;
        open |= f0 | f1;
        yo.v[k] = profile_pair<T>(steps.round_twice, z0, z1, w_at(2 * k), w_at(2 * k + 1), rp);
        nans |= nan_halves<T>(yo.v[k]);
      }
      if (nans)
        for (int k = 0; k < 4; ++k) yo.v[k] = canonical_nans<T>(yo.v[k]);
      const int64_t i = row * h + 8 * q;
      store_words(y + i, yo);
      // The rare pack with an element the double path decides, from the pack loaded again after
      // y's store (RefOutputs' way): with the registers' z, nvcc kept every element's fp32
      // decision alive across the branch, three instructions an element.
      if (open & kUndecided) {
        const Pack16<uint32_t> again = dev::load16(xr + 4 * q);
        for (int k = 0; k < 4; ++k)
          io.v[k] = uint32_t(ideal_y_of<T>(widen(again.v[k]), w_at(2 * k), r32, ri, window, margin)) |
                    uint32_t(ideal_y_of<T>(widen(again.v[k] >> 16), w_at(2 * k + 1), r32, ri, window, margin)) << 16;
      }
      store_words(ideal + i, io);
    }
  }
};

// rms-quant's outputs of a decided row (RefRowsFast's Outputs) where its quantizer sees T(y) in
// groups of one row (quant.group's tiles; per token on rows of a power of two packs), as the
// quantization reference makes them, from the row it keeps in shared memory, in three steps a
// barrier apart:
// T(y) as NormRows makes it, held in shared memory, with each pack's amax; a thread a group: its
// amax and its tile's values (tile_values: the scale, stored, and the profile's factor); each
// pack's profile codes (CodeSteps). The ideal codes and y itself are left to the host
// (reference_on makes y from r): the kernel's bytes are x and the codes. Every lane making its
// group's tile values once a pack (ea6bf23-64013e2) spent about 90 of a step's 350 instructions
// on them, and the group's amax by shuffles some 15 more (PERF-reference.md).
// Whether a row of h elements in groups of gs columns takes GroupCodes: whole groups of a power of
// two packs, at least 8 (GroupCodes holds a row's tile values at that width).
constexpr bool group_codes_fit(int64_t h, int64_t gs) {
  return gs % 64 == 0 && std::has_single_bit(uint64_t(gs / 8)) && h % gs == 0;
}

template <Format T, Format F>
struct GroupCodes {
  NormRows<T> src;                // z = x, the weights (r_profile unused: the row's r comes in)
  float* scale;                   // [m * groups]: the stored scales
  uint8_t* codes;                 // [m * h] the profile's
  quant_kernels::element::ScaleRule rule;
  quant_kernels::CodeSteps<F> code;
  int lanes_log2;  // a group's packs: 2^lanes_log2
  bool ignore_nan;

  // Element j of a pack held as words, widened.
  ULPGATE_DEVICE static float widen_half(const Pack16<uint32_t>& w, int j) {
    return norm::element::widen(T, uint16_t(w.v[j / 2] >> 16 * (j % 2)));
  }

  // The row held in shared memory, a pack's 8 halves in 4 words: x as RefRowsFast loaded it
  // (keep), then T(y) (row's step 1). Read again from memory instead, half of x's loads missed L1,
  // which the held rows of eight blocks an SM leave small.
  static constexpr bool kKeepsRow = true;
  template <int Packs>
  ULPGATE_DEVICE static Pack16<uint32_t>* held() {
    ULPGATE_SHARED(Pack16<uint32_t>, packs, Packs * kRowThreads);
    return packs;
  }
  template <int Packs>
  ULPGATE_DEVICE void keep(int q, const Pack16<uint32_t>& x) const {
    held<Packs>()[q] = x;
  }

  template <int Packs>
  ULPGATE_DEVICE void row(const uint32_t*, int64_t row, int64_t h, int tid, float rp, double) const {
    constexpr int threads = int(kRowThreads), kMaxGroups = Packs * threads / 8;  // a group has 8 packs or more
    Pack16<uint32_t>* const held = GroupCodes::held<Packs>();
    ULPGATE_SHARED(uint32_t, pack_amax, Packs * threads);      // each pack's largest |T(y)| bits
    ULPGATE_SHARED(quant_kernels::TileValues, tiles, kMaxGroups);
    const int packs = int(h / 8), lanes = 1 << lanes_log2, groups = packs >> lanes_log2;
    const typename NormRows<T>::Row yr{src.z + row * h, src.weight, rp, src.steps};
    // 1. T(y) of the thread's packs into shared memory, with each pack's amax: its largest half
    // widened (widening keeps the order), or, where that is a NaN (from a NaN weight: a decided
    // row's |z r| is at most about sqrt(h)), each NaN made the canonical one and the NaN policy's
    // steps an element: the amax finds the NaNs that profile_words would test each word for. The
    // profile's rounding form is chosen here, once a row (profile_words).
    const auto hold = [&](auto round_twice) {
      ULPGATE_NO_UNROLL
      for (int q = tid; q < packs; q += threads) {
        Pack16<uint32_t> w;
        yr.template pack_words<false>(held[q], uint32_t(8 * q), round_twice, w.v);
        uint32_t m = dev::as_uint(norm::element::widen(T, uint16_t(quant_kernels::largest_half(w.v))));
        if (m > 0x7F800000u) {
          m = 0;
          for (int k = 0; k < 4; ++k) w.v[k] = canonical_nans<T>(w.v[k]);
          for (int j = 0; j < 8; ++j) m = quant_kernels::amax_bits_step(m, widen_half(w, j), ignore_nan);
        }
        held[q] = w;
        pack_amax[q] = m;
      }
    };
    if (src.steps.round_twice) hold(std::true_type{});
    else hold(std::false_type{});
    dev::block_sync();
    // 2. A thread a group: its amax, its tile's values (the scale stored) once, not once a pack.
    float* const scales = scale + row * groups;
    for (int g = tid; g < groups; g += threads) {
      uint32_t m = 0;
      for (int i = 0; i < lanes; ++i) m = pack_amax[g * lanes + i] > m ? pack_amax[g * lanes + i] : m;
      const quant_kernels::TileValues t = quant_kernels::tile_values(rule, quant_kernels::element::amax_of_bits(m));
      tiles[g] = t;
      scales[g] = t.scale;
    }
    dev::block_sync();
    // 3. The profile's codes of each pack.
    uint8_t* const out = codes + row * h;
    ULPGATE_NO_UNROLL
    for (int q = tid; q < packs; q += threads) {
      const Pack16<uint32_t> w = held[q];
      float v[8];
      for (int j = 0; j < 8; ++j) v[j] = widen_half(w, j);
      const quant_kernels::TileValues t = tiles[q >> lanes_log2];
      uint64_t p, d;
      const auto pack_codes = [&](auto divide, auto exact) {
        code.template pack_codes_with<T, decltype(divide)::value, decltype(exact)::value>(v, t, p, d);
      };
      const auto with_divide = [&](auto divide) {
        if (quant_kernels::exact_reciprocal(t)) pack_codes(divide, std::true_type{});  // a power-of-two scale
        else pack_codes(divide, std::false_type{});
      };
      if (code.divide) with_divide(std::true_type{});
      else with_divide(std::false_type{});
      quant_kernels::store_word(out + 8 * q, p);
    }
  }
};

// The pass: a block a row (grid-stride), the row's packs in registers (packed rows of at most
// kPacks kRowThreads packs: fits). Three barriers a row: the largest magnitude's, the sum's, and
// the row's r; then Outputs (RowOutputs, GroupCodes) writes the row's results from its r.
template <Format T, class Outputs>
struct RefRowsFast {
  static constexpr int kPacks = 8;
  const uint16_t* x;
  float* r_profile;        // [m]
  double* r_ideal;         // [m]
  uint32_t* undecided;     // [1]: set to 1 where a row is left to the split passes
  RefShape g;
  int length;  // L, the bits of h (h < 2^L): fp64_band's
  norm::row_r::Rule rule;
  TwoDoubles eps_h;  // h eps (eps_times_h)
  Outputs out;

  static bool fits(int64_t h) { return h % 8 == 0 && h / 8 <= int64_t(kPacks) * kRowThreads; }

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(uint32_t, post_top, kRowWarps);
    ULPGATE_SHARED(double, post_high, kRowWarps);
    ULPGATE_SHARED(double, post_low, kRowWarps);
    ULPGATE_SHARED(double, post_hi, kRowWarps);  // the tails
    ULPGATE_SHARED(double, post_lo, kRowWarps);
    ULPGATE_SHARED(double, row_ideal, 1);
    ULPGATE_SHARED(float, row_profile, 1);
    ULPGATE_SHARED(uint32_t, row_decided, 1);
    const int ws = dev::warp_size(), lane = dev::lane(), warp = int(dev::thread_rank()) / ws;
    const int warps = int(dev::block_dim().x) / ws;
    constexpr int threads = int(kRowThreads);  // the launch's block: constant offsets to each pack
    const int tid = int(dev::thread_rank()), packs = int(g.h / 8);
    const auto widen = [](uint32_t b) { return norm::element::widen(T, b & 0xFFFFu); };
    // The thread's packs tid + u kRowThreads: one base pointer, constant offsets.
    const auto load_row = [&](Pack16<uint32_t> (&xs)[kPacks], int64_t row) {
      const auto* xt = reinterpret_cast<const uint32_t*>(x + row * g.h) + 4 * tid;
      ULPGATE_UNROLL
      for (int u = 0; u < kPacks; ++u) xs[u] = tid + u * threads < packs ? dev::load16(xt + 4 * u * threads) : Pack16<uint32_t>{};
    };
    ULPGATE_NO_UNROLL
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      const auto* xr = reinterpret_cast<const uint32_t*>(x + row * g.h);
      if (tid == 0 && row + dev::kRowsAhead < g.m) dev::prefetch_l2(x + (row + dev::kRowsAhead) * g.h, uint32_t(g.h * 2));
      Pack16<uint32_t> xs[kPacks];
      load_row(xs, row);
      // 1. The row's largest magnitude: its binade places the fp64 bands; NaN or Inf leave the row.
      uint32_t pair = 0;
      ULPGATE_UNROLL
      for (int u = 0; u < kPacks; ++u)  // predicated, not broken off: xs stays in registers
        if (tid + u * threads < packs)
          for (int k = 0; k < 4; ++k) pair = dev::max_u16x2(pair, xs[u].v[k] & 0x7FFF7FFFu);
      pair = (pair >> 16) > (pair & 0xFFFFu) ? pair >> 16 : pair & 0xFFFFu;
      for (int o = ws / 2; o > 0; o /= 2) {
        const uint32_t other = dev::shfl_xor(pair, o, ws);
        pair = other > pair ? other : pair;
      }
      if (lane == 0) post_top[warp] = pair;
      dev::block_sync();
      uint32_t largest = post_top[0];
      for (int w = 1; w < warps; ++w) largest = post_top[w] > largest ? post_top[w] : largest;
      const uint32_t top = dev::as_uint(widen(largest)) & 0x7FFFFFFFu;
      const bool finite = top < 0x7F800000u;
      // 2. The squares, exact in double: in the two fp64 bands below the largest (RefSums' sums:
      // fp64_band), the rare smaller ones in double-double (the tail), which a pack with none skips.
      // The bands as locals, their adding written out (Fp64Bands::add's steps): through the member
      // nvcc scheduled this kernel differently from the machine code measured on the H200.
      const Fp64Bands bands = Fp64Bands::below<T>(top, length);
      const uint32_t high_from = bands.high_from, low_from = bands.low_from;
      double band_high = 0, band_low = 0;
      TwoDoubles tail;
      ULPGATE_UNROLL
      for (int u = 0; u < kPacks; ++u) {
        if constexpr (Outputs::kKeepsRow)
          if (tid + u * threads < packs) out.template keep<kPacks>(tid + u * threads, xs[u]);
        if (!finite || tid + u * threads >= packs) continue;
        uint32_t b[8], least = 0xFFFFFFFFu;
        for (int j = 0; j < 8; ++j) {
          b[j] = dev::as_uint(widen(xs[u].v[j / 2] >> (16 * (j % 2)))) & 0x7FFFFFFFu;
          least = b[j] < least ? b[j] : least;
        }
        if (least >= low_from) {
          for (int j = 0; j < 8; ++j) {
            const double d = widen_to_double(b[j]);
            if (b[j] >= high_from) band_high = fma(d, d, band_high);
            else band_low = fma(d, d, band_low);
          }
        } else {
          for (int j = 0; j < 8; ++j) add_outside_bands(b[j], high_from, low_from, band_high, band_low, tail);
        }
      }
      for (int o = ws / 2; o > 0; o /= 2)
        band_high += dev::shfl_xor(band_high, o, ws), band_low += dev::shfl_xor(band_low, o, ws);  // exact: fp64_band
      if (dev::any(tail.hi != 0, ws))  // most rows have no tail
        for (int o = ws / 2; o > 0; o /= 2) tail = add(tail, TwoDoubles{dev::shfl_xor(tail.hi, o, ws), dev::shfl_xor(tail.lo, o, ws)});
      if (lane == 0) post_high[warp] = band_high, post_low[warp] = band_low, post_hi[warp] = tail.hi, post_lo[warp] = tail.lo;
      dev::block_sync();
      if (tid == 0) {
        double h_sum = post_high[0], l_sum = post_low[0];
        TwoDoubles total{post_hi[0], post_lo[0]};
        for (int w = 1; w < warps; ++w)
          h_sum += post_high[w], l_sum += post_low[w], total = add(total, TwoDoubles{post_hi[w], post_lo[w]});
        const Sum2 bands = two_sum(h_sum, l_sum);  // both exact: their sum as hi + lo
        total = add(total, TwoDoubles{bands.s, bands.r});
        const RowR r = finite ? decide_r(total, rule, eps_h, g.h) : RowR{};
        if (r.decided) r_profile[row] = r.profile, r_ideal[row] = r.ideal;
        else dev::atomic_max(undecided, 1u);
        row_profile[0] = r.profile, row_ideal[0] = r.ideal, row_decided[0] = r.decided;
      }
      dev::block_sync();
      if (!row_decided[0]) continue;
      out.template row<kPacks>(xr, row, g.h, tid, row_profile[0], row_ideal[0]);
    }
  }
};

}  // namespace ulpgate::norm_kernels
