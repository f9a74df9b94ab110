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

void ExactSum::add_wide(u128 v, int pos) {
  if (pos < 0) {
    if (v & ((u128(1) << -pos) - 1)) throw UsageError("eps is too small for the exact sum of squares");
    v >>= -pos;
    pos = 0;
  }
  int length = 0;
  while (length < 128 && (v >> length) != 0) ++length;
  if (pos + length > 64 * kLimbs - 1) throw UsageError("sum of squares beyond the exact accumulator");
  add_bits(v, pos);
  if (limb_[kLimbs - 1] >> 63) throw UsageError("sum of squares beyond the exact accumulator");
}

}  // namespace ulpgate::norm
