// Knuth's TwoSum, written once for the references and the device kernels (constexpr: the device
// references run it too). No product: FMA contraction cannot make it inexact.
#pragma once

namespace ulpgate {

// s = RN(a + b) and r = a + b - s exactly (six operations, any order of magnitudes, exact
// whenever a + b does not overflow).
struct Sum2 {
  double s, r;
};
constexpr Sum2 two_sum(double a, double b) {
  const double s = a + b, bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}

}  // namespace ulpgate
