// One element of the all-reduce reference (spec/allreduce.md) from the ranks' values at it: the
// exact sum rounded once (nearest, and to odd for the rounding into the element type), the sum of
// magnitudes the error bound scales, and a documented order's fp32 sum rounded once. constexpr and
// free of the standard library's math calls, so that the device reference
// (kernels/allreduce/reference_kernels.hpp) runs this same source as allreduce.cpp.
#pragma once

#include <bit>
#include <cstdint>

#include "reference/formats/formats.hpp"
#include "reference/two_sum.hpp"

namespace ulpgate::allreduce::element {

// +-2^k as a double, for k in the normal range.
constexpr double pow2(int k) { return std::bit_cast<double>(uint64_t(1023 + k) << 52); }

// The exact sum of up to 8 finite fp32 values: a signed fixed-point integer in units of 2^-149 (the
// least fp32 subnormal), digits of 32 bits in 64-bit slots. The largest term is below 2^277 units,
// eight of them below 2^280: nine digits hold any such sum, and a term adds one part below 2^32 to
// each of two digits, so no digit overflows before the carries are taken.
class ExactSum {
 public:
  static constexpr int kDigits = 9, kUnitExp = -149;

  constexpr void add(float v) {
    const uint32_t b = std::bit_cast<uint32_t>(v), biased = (b >> 23) & 0xFFu;
    const uint64_t m = (b & 0x7FFFFFu) | (biased ? 0x800000u : 0u);
    if (m == 0) return;
    const int pos = int(biased ? biased : 1u) - 1;  // |v| = m 2^(pos - 149)
    const uint64_t shifted = m << (pos % 32);       // below 2^55
    const int64_t lo = int64_t(shifted & 0xFFFFFFFFu), hi = int64_t(shifted >> 32);
    const bool negative = b >> 31;
    digit_[pos / 32] += negative ? -lo : lo;
    digit_[pos / 32 + 1] += negative ? -hi : hi;
  }

  struct Rounded {
    double nearest, odd;  // RNE and round to odd, to 53 bits; +0 for a zero sum
  };
  constexpr Rounded rounded() const {
    uint32_t mag[kDigits] = {};
    const bool negative = magnitude(mag);
    int k = kDigits - 1;
    while (k >= 0 && mag[k] == 0) --k;
    if (k < 0) return {0.0, 0.0};
    const int top = 32 * k + highest_bit(mag[k]);
    const int lsb = top < 52 ? 0 : top - 52;  // the kept 53 bits (all of a smaller sum)
    const uint64_t q = bits(mag, lsb, top - lsb + 1);
    const bool half = lsb > 0 && bits(mag, lsb - 1, 1), below = lsb > 1 && any_below(mag, lsb - 1);
    const double scale = pow2(lsb + kUnitExp), sign = negative ? -1.0 : 1.0;
    const uint64_t nearest = q + (half && (below || (q & 1u)) ? 1u : 0u), odd = q | (half || below ? 1u : 0u);
    return {sign * double(nearest) * scale, sign * double(odd) * scale};  // exact: <= 54 bits times 2^k
  }

 private:
  int64_t digit_[kDigits] = {};

  // The sum's magnitude as 32-bit digits, least significant first; true when it is negative.
  constexpr bool magnitude(uint32_t (&mag)[kDigits]) const {
    int64_t d[kDigits] = {};
    for (int pass = 0; pass < 2; ++pass) {
      for (int k = 0; k < kDigits; ++k) d[k] = pass ? -digit_[k] : digit_[k];
      for (int k = 0; k + 1 < kDigits; ++k) {
        const int64_t low = d[k] & 0xFFFFFFFF;  // two's complement: the carry is floor(d / 2^32)
        d[k + 1] += (d[k] - low) / (int64_t(1) << 32);
        d[k] = low;
      }
      if (d[kDigits - 1] >= 0) {
        for (int k = 0; k < kDigits; ++k) mag[k] = uint32_t(d[k]);
        return pass == 1;
      }
    }
    return false;  // unreachable: a sum or its negation is >= 0
  }
  // n <= 64 bits from bit lo on.
  static constexpr uint64_t bits(const uint32_t (&mag)[kDigits], int lo, int n) {
    uint64_t out = 0;
    for (int i = 0; i < n;) {
      const int at = lo + i, shift = at % 32, take = 32 - shift < n - i ? 32 - shift : n - i;
      out |= uint64_t((mag[at / 32] >> shift) & (take == 32 ? 0xFFFFFFFFu : (uint32_t(1) << take) - 1u)) << i;
      i += take;
    }
    return out;
  }
  static constexpr bool any_below(const uint32_t (&mag)[kDigits], int i) {
    for (int k = 0; k < i / 32; ++k)
      if (mag[k]) return true;
    return (mag[i / 32] & ((uint32_t(1) << (i % 32)) - 1u)) != 0;
  }
};

constexpr double magnitude(double v) { return std::bit_cast<double>(std::bit_cast<uint64_t>(v) & ~(uint64_t(1) << 63)); }
constexpr bool finite(double v) { return (std::bit_cast<uint64_t>(v) & (uint64_t(0x7FF) << 52)) != (uint64_t(0x7FF) << 52); }

// The ideal at one element: `bits` the exact sum rounded once into the element type (through the
// odd rounding to 53 bits, which rounds as the exact sum does into <= 24 bits), `exact` the exact
// sum to nearest, `abs_sum` the magnitudes added in rank order in double. A non-finite input makes
// all three the IEEE double sum in rank order (NaN, or an infinity), as the kernels' sums are.
struct Ideal {
  uint32_t bits;
  double exact, abs_sum;
};

// The exact sum of the ranks' values from the ExactSum accumulator: the rare case (issue 30: its
// digits live in a device's local memory), where the double sum in rank order was not exact.
constexpr Ideal ideal_by_digits(Format f, const uint32_t* ranks, int world, double abs_sum) {
  ExactSum acc;
  for (int r = 0; r < world; ++r) acc.add(widen_exact(f, ranks[r]));
  const ExactSum::Rounded r = acc.rounded();
  return {round_nosat(f, r.odd), r.nearest, abs_sum};
}

constexpr Ideal ideal(Format f, const uint32_t* ranks, int world) {
  // Each step's rounding error by TwoSum (exact for finite doubles, which cannot overflow here):
  // where every error is zero the double sum is the exact sum, both roundings of it are itself,
  // and no digits are needed. That holds for every sum of values within about 40 binades.
  double ieee = 0, abs_sum = 0;
  bool exact = true;
  for (int r = 0; r < world; ++r) {
    const double x = widen_exact(f, ranks[r]);
    const Sum2 t = two_sum(ieee, x);
    exact = exact && t.r == 0;
    ieee = t.s, abs_sum += magnitude(x);
  }
  if (!finite(abs_sum)) return {round_nosat(f, ieee), ieee, abs_sum};
  if (!exact) return ideal_by_digits(f, ranks, world, abs_sum);
  const double sum = ieee == 0 ? 0.0 : ieee;  // the exact zero is +0, as ExactSum::rounded gives it
  return {round_nosat(f, sum), sum, abs_sum};
}

// Two-shot: which rank owns element i's partition (the message's 16-byte packs shared out in equal
// parts, the remainder to the last rank).
struct Partition {
  int64_t per_pack, part;  // elements per pack; packs per rank (0: the last rank owns every pack)
  int world;
  constexpr int owner(int64_t i) const {
    const int64_t o = part ? (i / per_pack) / part : world - 1;
    return int(o < world - 1 ? o : world - 1);
  }
};

// A documented order's sum at one element: fp32 from rank `first` on, round the ranks, rounded
// once into the element type (fp32: NaN canonical).
constexpr uint32_t ordered(Format f, const uint32_t* ranks, int world, int first) {
  float acc = widen_exact(f, ranks[first]);
  for (int k = 1; k < world; ++k) acc += widen_exact(f, ranks[(first + k) % world]);
  return round_nosat(f, double(acc));
}

// A hop at a time (NCCL's ring): from rank `first` on, each partial sum rounded to the element
// type (RNE, Inf beyond its range) before the next rank's value is added. The double sum of two
// element values rounds to the type as their exact sum does (53 >= 2 x 24 + 2 bits). A NaN sum is
// the GPU adder's NaN, all ones and positive (0x7FFF, 0x7FFFFFFF): NCCL's outputs on an H200 where
// inputs hold NaN or opposite infinities (golden/sm90/allreduce.csv, replayed by the host).
constexpr uint32_t gpu_nan(Format f) { return f == Format::fp32 ? 0x7FFFFFFFu : 0x7FFFu; }
constexpr uint32_t per_hop(Format f, const uint32_t* ranks, int world, int first) {
  uint32_t acc = ranks[first];
  for (int k = 1; k < world; ++k) {
    const double sum = double(widen_exact(f, acc)) + double(widen_exact(f, ranks[(first + k) % world]));
    acc = sum != sum ? gpu_nan(f) : round_nosat(f, sum);
  }
  return acc;
}

}  // namespace ulpgate::allreduce::element
