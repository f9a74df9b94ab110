// The r each row of a kernel's y implies: y is monotone in r for every element (spec/norm.md), so
// the fp32 values of r that give an element's observed y are an interval, and a row normalized
// with one r leaves a nonempty intersection over its elements. Diagnosis reads what went wrong
// with r from it: eps outside the square root, a wrong element count, a partial sum of squares.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "reference/norm/norm.hpp"

namespace ulpgate::norm {

struct RowR {
  bool informative = false;  // some written element of the row depends on r
  // The greatest of the elements' least r and the least of their greatest r: [lo, hi] are the r
  // that give every element (one_r), else lo is an r some element needs at least and hi one that
  // some element needs at most.
  float lo = 0, hi = 0;
  bool one_r = false;  // lo <= hi: one fp32 r gives every written element of the row
  double exact = 0;    // the profile's exact r of the row
  // The mean square the row's r implies, relative to the profile's: [k_lo, k_hi] (when one_r and
  // the row's mean square is positive; else 1, 1).
  double k_lo = 1, k_hi = 1;
};

// Rows of y (bits of spec.dtype; elements holding `poison` are skipped as never written), each
// with the profile's exact r. `rel`: the kernel's own proven error of r, which widens k.
std::vector<RowR> fit_rows(const Spec& spec, const Inputs& in, std::span<const uint16_t> y,
                           std::span<const double> exact_r, double rel, uint16_t poison);

// Does r lie within the row's interval, widened by rel on both sides?
bool within(const RowR& row, double r, double rel);
// Is every element of the row consistent with an r at least the profile's (less rel), some only
// with one above it (more rel)? What threads normalizing with partial sums of squares show.
bool larger_r(const RowR& row, double rel);

}  // namespace ulpgate::norm
