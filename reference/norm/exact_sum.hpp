// The exact sum of the squares of one row's fp32 z (spec/norm.md): a fixed-point integer whose
// unit is 2^-320, 640 bits wide. A square of an fp32 value is a multiple of 2^-298 below 2^256, a
// double eps >= 2^-268 is a multiple of 2^-320, so it holds any sum of up to 2^31 of them exactly,
// in any order: the device reference (kernels/norm/reference_kernels.hpp) adds each lane's squares
// and merges the lanes' sums, and gets the host's bits. The adding steps are constexpr (no library
// math, no throw), so that the device runs this source; rounding and reading it are the host's.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "reference/formats/formats.hpp"

namespace ulpgate::norm {

class ExactSum {
 public:
  static constexpr int kLimbs = 10, kUnitExp = -320;

  constexpr void add_square(float z) {
    const uint32_t b = std::bit_cast<uint32_t>(z) & 0x7FFFFFFFu, biased = b >> 23;
    if (b > 0x7F800000u) nan_ = true;
    if (b == 0x7F800000u) inf_ = true;
    if (b >= 0x7F800000u || b == 0) return;
    // |z| = m 2^(e - 150), m < 2^24, from the bits (subnormals: e = 1, no implicit bit); the
    // square m^2 < 2^48 lands at bit 2 (e - 150) + 320 >= 22.
    const uint64_t m = (b & 0x7FFFFFu) | (biased ? 0x800000u : 0u);
    add_bits(m * m, 2 * (int(biased ? biased : 1u) - 150) - kUnitExp);  // a sum of 2^31 never carries out
  }

  // Another sum's terms added to this one's (the lanes of a row, merged).
  constexpr void merge(const ExactSum& o) {
    uint64_t carry = 0;
    for (int i = 0; i < kLimbs; ++i) limb_[i] = add_carry(limb_[i], o.limb_[i], carry);
    nan_ = nan_ || o.nan_;
    inf_ = inf_ || o.inf_;
  }

  // As stored by a device: the limbs, least significant first, and the NaN / Inf flags.
  constexpr uint64_t limb(int i) const { return limb_[i]; }
  constexpr uint32_t flags() const { return (nan_ ? 1u : 0u) | (inf_ ? 2u : 0u); }
  static constexpr ExactSum from(const uint64_t* limbs, uint32_t flags) {
    ExactSum s;
    for (int i = 0; i < kLimbs; ++i) s.limb_[i] = limbs[i];
    s.nan_ = flags & 1u, s.inf_ = flags & 2u;
    return s;
  }

  // h * v for a finite v >= 0 (eps). Throws UsageError where v has bits below the unit, or the
  // sum leaves the accumulator.
  void add_scaled(double v, int64_t h);

  constexpr bool nan() const { return nan_; }
  constexpr bool inf() const { return inf_ && !nan_; }

  // The sum rounded once to fp32 (RNE, subnormals included, Inf beyond the fp32 range).
  constexpr float to_float() const {
    if (nan_) return std::numeric_limits<float>::quiet_NaN();
    if (inf_) return std::numeric_limits<float>::infinity();
    const int top = top_bit();
    if (top < 0) return 0.0f;
    const int q = std::max(top - 23, -149 - kUnitExp);  // the bit of the fp32 quantum
    const uint64_t kept = bits(q, top - q + 1);
    const bool half = bit(q - 1), sticky = any_below(q - 1);
    const uint64_t rounded = kept + (half && (sticky || (kept & 1)));
    // rounded 2^(q + kUnitExp) as float bits: the exponent field of [2^23, 2^24], which a subnormal's
    // (biased 1, rounded < 2^23) and a carry to 2^24 (the next exponent) both follow.
    const uint64_t b = (uint64_t(q + kUnitExp + 150) << 23) + rounded - (uint64_t(1) << 23);
    return std::bit_cast<float>(uint32_t(b < 0x7F800000u ? b : 0x7F800000u));
  }

  // The sum's top 64 bits: the sum lies in [bits, bits + 1) 2^exp, and is bits 2^exp unless
  // `below` (bits under those 64 are set). For an estimate and a quick comparison. Zero: {0, 0}.
  struct Top64 {
    uint64_t bits;
    int exp;
    bool below;
  };
  constexpr Top64 top64() const {
    const int top = top_bit();
    if (top < 0) return {0, 0, false};
    const int lo = top < 63 ? 0 : top - 63;
    return {bits64(lo), lo + kUnitExp, any_below(lo)};
  }

  // Adds v 2^pos (pos >= 0, in units of 2^-320) where the sum stays below 2^640: a square, a device's
  // fixed-point partial sum, or h eps.
  constexpr void add_bits(unsigned __int128 v, int pos) {
    const int k = pos / 64, sh = pos % 64;
    const uint64_t lo = uint64_t(v), hi = uint64_t(v >> 64);
    const uint64_t parts[3] = {lo << sh, sh ? (hi << sh) | (lo >> (64 - sh)) : hi, sh ? hi >> (64 - sh) : 0};
    uint64_t carry = 0;
    for (int i = k; i < kLimbs; ++i) {
      limb_[i] = add_carry(limb_[i], i - k < 3 ? parts[i - k] : 0, carry);
      if (i - k >= 2 && carry == 0) return;
    }
  }

  // The exact value (a finite sum).
  template <class Number>
  Number value() const {
    using std::ldexp;  // the overload of a built-in type (else ::ldexp(double) would narrow a long double)
    Number v = 0;
    for (int k = kLimbs - 1; k >= 0; --k) v += ldexp(Number(limb_[k]), 64 * k + kUnitExp);
    return v;
  }

 private:
  uint64_t limb_[kLimbs] = {};
  bool nan_ = false, inf_ = false;

  static constexpr uint64_t add_carry(uint64_t a, uint64_t b, uint64_t& carry) {
    const uint64_t s = a + b, t = s + carry;
    carry = uint64_t(s < a) + uint64_t(t < s);
    return t;
  }
  void add_wide(unsigned __int128 v, int pos);
  constexpr bool bit(int i) const { return i >= 0 && ((limb_[i / 64] >> (i % 64)) & 1); }
  constexpr int top_bit() const {
    for (int k = kLimbs - 1; k >= 0; --k)
      if (limb_[k]) return 64 * k + highest_bit(limb_[k]);
    return -1;
  }
  constexpr uint64_t bits64(int lo) const {  // the 64 bits from bit lo >= 0 up
    const int k = lo / 64, sh = lo % 64;
    const uint64_t next = k + 1 < kLimbs ? limb_[k + 1] : 0;
    return sh ? (limb_[k] >> sh) | (next << (64 - sh)) : limb_[k];
  }
  constexpr uint64_t bits(int lo, int n) const {  // n <= 25 bits from bit lo >= 0 up
    return bits64(lo) & ((uint64_t(1) << n) - 1);
  }
  constexpr bool any_below(int i) const {  // any bit below bit i
    if (i <= 0) return false;
    const int k = i / 64;
    if (limb_[k] & ((uint64_t(1) << (i % 64)) - 1)) return true;
    for (int j = 0; j < k; ++j)
      if (limb_[j]) return true;
    return false;
  }
};

}  // namespace ulpgate::norm
