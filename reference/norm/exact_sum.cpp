#include "reference/norm/exact_sum.hpp"

namespace ulpgate::norm {

using u128 = unsigned __int128;

void ExactSum::add_scaled(double v, int64_t h) {
  if (v == 0 || h == 0) return;
  int e;
  const double f = std::frexp(v, &e);
  const auto m = u128(std::ldexp(f, 53));
  add_wide(m * u128(h), e - 53 - kUnitExp);
}

// Adds v 2^pos (in units of 2^-320); bits of v below unit 0 must be zero.
void ExactSum::add_wide(u128 v, int pos) {
  if (pos < 0) {
    if (v & ((u128(1) << -pos) - 1)) throw UsageError("eps is too small for the exact sum of squares");
    v >>= -pos;
    pos = 0;
  }
  const int k = pos / 64, sh = pos % 64;
  const u128 low = v << sh;
  const uint64_t parts[3] = {uint64_t(low), uint64_t(low >> 64), sh ? uint64_t(v >> (128 - sh)) : 0};
  uint64_t carry = 0;
  for (int i = k; i < kLimbs; ++i) {
    limb_[i] = add_carry(limb_[i], i - k < 3 ? parts[i - k] : 0, carry);
    if (i - k >= 2 && carry == 0) return;
  }
  if (carry) throw UsageError("sum of squares beyond the exact accumulator");
}

float ExactSum::to_float() const {
  if (nan_) return std::numeric_limits<float>::quiet_NaN();
  if (inf_) return std::numeric_limits<float>::infinity();
  const int top = top_bit();
  if (top < 0) return 0.0f;
  const int q = std::max(top - 23, -149 - kUnitExp);  // the bit of the fp32 quantum
  const uint64_t kept = bits(q, top - q + 1);
  const bool half = bit(q - 1), sticky = any_below(q - 1);
  const uint64_t rounded = kept + (half && (sticky || (kept & 1)));
  return std::ldexp(float(rounded), q + kUnitExp);  // float(rounded) is exact: <= 2^24
}

int ExactSum::top_bit() const {
  for (int k = kLimbs - 1; k >= 0; --k)
    if (limb_[k]) return 64 * k + 63 - std::countl_zero(limb_[k]);
  return -1;
}

uint64_t ExactSum::bits(int lo, int n) const {  // n <= 25 bits from bit lo up
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 1) | uint64_t(bit(lo + i));
  return v;
}

bool ExactSum::any_below(int i) const {  // any bit below bit i
  if (i <= 0) return false;
  const int k = i / 64;
  if (limb_[k] & ((uint64_t(1) << (i % 64)) - 1)) return true;
  for (int j = 0; j < k; ++j)
    if (limb_[j]) return true;
  return false;
}

}  // namespace ulpgate::norm
