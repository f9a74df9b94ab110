// An exact sum of dyadic terms +-m 2^e (products of fp32 scales and exact block sums in the GEMM
// ideal, the ranks' inputs in the all-reduce ideal), rounded once at the end: the "exact sum,
// rounded once" that every ideal reference of spec/ is.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace ulpgate {

using u128 = unsigned __int128;

// +-mant 2^exp with an odd mant (or 0), exactly, for a finite double: an fp32 scale then has a
// mant below 2^24, an exact block sum one below 2^53.
struct Dyadic {
  bool neg;
  uint64_t mant;
  int exp;
};
inline Dyadic dyadic(double x) {
  const uint64_t u = std::bit_cast<uint64_t>(x);
  const int field = int((u >> 52) & 0x7FF);
  const uint64_t frac = u & ((uint64_t(1) << 52) - 1);
  Dyadic d{(u >> 63) != 0, field ? frac | (uint64_t(1) << 52) : frac, field ? field - 1075 : -1074};
  if (d.mant) {
    const int tz = std::countr_zero(d.mant);
    d.mant >>= tz, d.exp += tz;
  }
  return d;
}

// An exact sum of terms +-m 2^e in fixed point with unit 2^kUnitExp: 32-bit digits held in int64
// limbs, so signed additions need no carry propagation until the end (a limb absorbs 2^31 of
// them). Range: a term's lowest bit is at least 2^-332 (fp32 scales >= 2^-149 each, block sums in
// units >= 2^-34 of e5m2fnuz), its value below 2^(128 + 128 + 53 - 18); sums of up to 2^20 terms
// stay below 2^312, inside [2^-352, 2^416).
class ExactSum {
 public:
  static constexpr int kDigits = 24, kUnitExp = -352;

  void add(bool neg, u128 mag, int exp) {
    const int pos = exp - kUnitExp;
    if (pos < 0) throw std::logic_error("exact sum: a term below the exact accumulator's unit");
    const int at = pos / 32, sh = pos % 32;
    const u128 low = mag << sh;
    const uint64_t top = sh ? uint64_t(mag >> (128 - sh)) : 0;
    const uint64_t chunks[5] = {uint64_t(low) & kMask, uint64_t(low >> 32) & kMask, uint64_t(low >> 64) & kMask,
                                uint64_t(low >> 96) & kMask, top};
    for (int j = 0; j < 5; ++j) {
      if (!chunks[j]) continue;
      if (at + j >= kDigits) throw std::logic_error("exact sum: a term above the exact accumulator's range");
      digit_[at + j] += neg ? -int64_t(chunks[j]) : int64_t(chunks[j]);
      lo_ = std::min(lo_, at + j), hi_ = std::max(hi_, at + j);
    }
  }

  struct Rounded {
    double nearest, odd;  // RNE and round to odd, to 53 bits
  };
  // The sum rounded, and the accumulator cleared.
  Rounded take() {
    if (hi_ < 0) return {0, 0};
    const auto [negative, end] = normalize();
    const Rounded r = magnitude_rounded(end);
    std::fill(digit_.begin() + lo_, digit_.begin() + end, 0);
    lo_ = kDigits, hi_ = -1;
    return negative ? Rounded{-r.nearest, -r.odd} : r;
  }

 private:
  static constexpr uint64_t kMask = 0xFFFFFFFFu;
  std::array<int64_t, kDigits> digit_{};
  int lo_ = kDigits, hi_ = -1;

  // Carries propagated: digits [lo_, end) hold 32-bit digits of |sum| and the sign is returned.
  std::pair<bool, int> normalize() {
    int64_t carry = 0;
    int i = lo_;
    for (; i < kDigits && (i <= hi_ || (carry != 0 && carry != -1)); ++i) {
      const int64_t v = digit_[i] + carry;
      digit_[i] = v & int64_t(kMask);
      carry = v >> 32;  // arithmetic: the sign extends
    }
    if (carry != 0 && carry != -1) throw std::logic_error("exact sum: exact accumulator overflow");
    if (carry == 0) return {false, i};
    int64_t c = 1;  // two's complement negation of the digits below 2^(32 i)
    for (int j = lo_; j < i; ++j) {
      const int64_t v = (~digit_[j] & int64_t(kMask)) + c;
      digit_[j] = v & int64_t(kMask);
      c = v >> 32;
    }
    if (c) {  // the sum was exactly -2^(32 i)
      if (i == kDigits) throw std::logic_error("exact sum: exact accumulator overflow");
      digit_[i++] = c;
    }
    return {true, i};
  }

  bool bit(int pos) const { return pos >= 0 && ((digit_[pos / 32] >> (pos % 32)) & 1); }
  uint64_t bits(int pos, int count) const {  // count <= 53 bits from pos up (pos >= 0): 3 digits
    u128 v = 0;
    for (int d = (pos + count - 1) / 32; d >= pos / 32; --d) v = (v << 32) | u128(digit_[d]);
    return uint64_t(v >> (pos % 32)) & ((uint64_t(1) << count) - 1);
  }
  bool any_below(int pos) const {
    if (pos <= 0) return false;
    if (digit_[pos / 32] & ((int64_t(1) << (pos % 32)) - 1)) return true;
    for (int d = lo_; d < pos / 32; ++d)
      if (digit_[d]) return true;
    return false;
  }

  Rounded magnitude_rounded(int end) const {
    int h = end - 1;
    while (h >= lo_ && digit_[h] == 0) --h;
    if (h < lo_) return {0, 0};
    const int top = 32 * h + 63 - std::countl_zero(uint64_t(digit_[h]));
    const int low = std::max(top - 52, 0);
    const uint64_t kept = bits(low, top - low + 1);
    const bool half = bit(low - 1), sticky = any_below(low - 1);
    const double unit = std::bit_cast<double>(uint64_t(low + kUnitExp + 1023) << 52);
    const uint64_t nearest = kept + (half && (sticky || (kept & 1)));
    return {double(nearest) * unit, double(kept | uint64_t(half || sticky)) * unit};
  }
};

}  // namespace ulpgate
