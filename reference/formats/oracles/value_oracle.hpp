// Oracle (c): rounding in value space, written from spec/formats.md with no bit tricks.
// Each format's finite values are built from its encoding rules and sorted on the value line;
// an input is placed between its two neighbours and the choice is made by comparing exact
// distances. Overflow is decided after rounding, on the grid extended by one step beyond max
// (the value the encoding rules would give the next magnitude code), and only then does the
// overflow policy apply.
//
// Templated on the number type T:
//  - a Boost.Multiprecision type (cpp_rational) is exact by construction: the proof level;
//  - double is exact here too, and fast: every grid value has at most 4 significant bits and an
//    exponent in [-17, 128], every input (fp32, bf16, fp16 widen exactly; fp64 is itself) is a
//    double, and distances are compared as 2|x| vs lo + hi (same ordering as |x|-lo vs hi-|x|),
//    where 2|x| is an exact scaling (|x| < 2^129 whenever it is compared) and lo + hi has at most
//    6 significant bits. So no operation rounds and every comparison is exact. A test checks
//    the two instantiations agree on the boundary set.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <boost/multiprecision/cpp_int.hpp>

#include "reference/formats/formats.hpp"

namespace ulpgate::oracles {

// The encoding rules of spec/formats.md, restated here (not taken from FormatTraits) so that a
// wrong traits block is caught.
struct SpecFormat {
  int ebits, mbits, bias;
  bool is_signed, subnormals;
  enum Specials { ieee, nan_all_ones, nan_0x80, nan_0xff } specials;
};

inline SpecFormat spec_format(Format f) {
  switch (f) {
    case Format::e4m3fn: return {4, 3, 7, true, true, SpecFormat::nan_all_ones};
    case Format::e4m3fnuz: return {4, 3, 8, true, true, SpecFormat::nan_0x80};
    case Format::e5m2: return {5, 2, 15, true, true, SpecFormat::ieee};
    case Format::e5m2fnuz: return {5, 2, 16, true, true, SpecFormat::nan_0x80};
    case Format::ue8m0: return {8, 0, 127, false, false, SpecFormat::nan_0xff};
    default: throw UsageError("the value oracle covers the 8-bit formats only");
  }
}

template <class T>
T pow2(int e) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::ldexp(T(1), e);
  } else {
    const boost::multiprecision::cpp_int one = 1;
    return e >= 0 ? T(one << e) : T(1) / T(one << -e);
  }
}

// An input: NaN, ±Inf, or a finite value with its sign (so -0 is kept).
template <class T>
struct Input {
  enum Kind { finite, inf, nan } kind = finite;
  bool negative = false;
  T magnitude = 0;
};

// IEEE interchange decoding of a source value's fields (ebits, mbits) into an exact T.
template <class T>
Input<T> input_from_fields(uint64_t bits, int ebits, int mbits) {
  if constexpr (std::is_same_v<T, double>) {
    if (ebits == 8 && mbits == 23) {  // fp32 into double: let the hardware widen it (exact, fast)
      float f;
      const uint32_t u = uint32_t(bits);
      std::memcpy(&f, &u, sizeof f);
      if (std::isnan(f)) return {Input<T>::nan, std::signbit(f), 0};
      if (std::isinf(f)) return {Input<T>::inf, std::signbit(f), 0};
      return {Input<T>::finite, std::signbit(f), std::fabs(double(f))};
    }
  }
  const uint64_t frac = bits & ((uint64_t(1) << mbits) - 1);
  const int efield = int((bits >> mbits) & ((uint64_t(1) << ebits) - 1));
  const int bias = (1 << (ebits - 1)) - 1;
  Input<T> in;
  in.negative = (bits >> (ebits + mbits)) & 1;
  if (efield == (1 << ebits) - 1) {
    in.kind = frac ? Input<T>::nan : Input<T>::inf;
  } else if (efield == 0) {
    in.magnitude = T(frac) * pow2<T>(1 - bias - mbits);
  } else {
    in.magnitude = T(frac + (uint64_t(1) << mbits)) * pow2<T>(efield - bias - mbits);
  }
  return in;
}

template <class T>
class ValueOracle {
 public:
  explicit ValueOracle(Format f) : f_(f), spec_(spec_format(f)) { build_grid(); }

  uint32_t convert(Input<T> x, const Conversion& c) const {
    const bool e8m0 = f_ == Format::ue8m0;
    if (x.kind == Input<T>::nan) {
      if (c.overflow != Overflow::clamp_first) return nan_code();
      x = {Input<T>::finite, true, max()};  // fminf(fmaxf(NaN, -max), max) = -max
    }
    if (e8m0 && x.negative && (x.kind == Input<T>::inf || x.magnitude != 0) && c.edges.negative_is_nan)
      return nan_code();
    if (e8m0) x.negative = false;  // no sign bit: |x|
    if (x.kind == Input<T>::inf) return inf_input(x.negative, c.overflow);
    if (e8m0 && x.magnitude == 0) return c.edges.zero_is_nan ? nan_code() : c.edges.min_code;
    if (clamps_first(c.overflow) && x.magnitude > max()) x.magnitude = max();
    if (hip(c.overflow) && x.magnitude > max()) return overflow(x.negative, c.overflow);

    size_t i = round_on_grid(x.magnitude, x.negative, c.rounding);
    const size_t beyond = grid_.size() - 1;
    if (e8m0 && i < c.edges.min_code) i = c.edges.min_code;  // DeepGEMM's exponent clamp
    if (e8m0 && i > c.edges.max_code && i < beyond) i = c.edges.max_code;
    if (i == beyond) return overflow(x.negative, c.overflow);  // rounded to the step beyond max
    return with_sign(code_[i], x.negative);
  }

  const std::vector<T>& grid() const { return grid_; }  // finite magnitudes, then the step beyond
  T max() const { return grid_[grid_.size() - 2]; }

 private:
  static bool clamps_first(Overflow o) { return o == Overflow::clamp_first || o == Overflow::clamp_first_nan; }
  static bool hip(Overflow o) { return o == Overflow::hip_host || o == Overflow::hip_host_nosat; }
  static bool saturates(Overflow o) { return o != Overflow::nosat && o != Overflow::hip_host_nosat; }

  int mag_codes() const { return 1 << (spec_.ebits + spec_.mbits); }
  uint32_t sign_bit() const { return spec_.is_signed ? 1u << (spec_.ebits + spec_.mbits) : 0; }

  // Is magnitude code m a finite value under the format's special-value rule?
  bool finite_code(int m) const {
    switch (spec_.specials) {
      case SpecFormat::ieee: return (m >> spec_.mbits) != (1 << spec_.ebits) - 1;
      case SpecFormat::nan_all_ones: return m != mag_codes() - 1;
      case SpecFormat::nan_0x80: return true;  // 0x80 carries the sign bit: not a magnitude
      case SpecFormat::nan_0xff: return m != 0xFF;
    }
    return false;
  }

  // The encoding rule: 2^(e - bias) * 1.frac, or 2^(1 - bias) * 0.frac when e = 0 (with
  // subnormals); the value the rule gives code max+1 is the step beyond max.
  T value_of(int m) const {
    const int e = m >> spec_.mbits, frac = m & ((1 << spec_.mbits) - 1);
    if (spec_.subnormals && e == 0) return T(frac) * pow2<T>(1 - spec_.bias - spec_.mbits);
    return T(frac + (1 << spec_.mbits)) * pow2<T>(e - spec_.bias - spec_.mbits);
  }

  void build_grid() {
    int m = 0;
    for (; m < mag_codes() && finite_code(m); ++m) {
      grid_.push_back(value_of(m));
      code_.push_back(uint32_t(m));
    }
    grid_.push_back(value_of(m));  // one step beyond max
    code_.push_back(uint32_t(m));
    if (!std::is_sorted(grid_.begin(), grid_.end())) throw std::logic_error("grid not monotonic");
  }

  // Index into grid_ of the rounded magnitude (the last index means "overflowed").
  size_t round_on_grid(const T& a, bool negative, Rounding r) const {
    const auto above = std::upper_bound(grid_.begin(), grid_.end(), a);
    if (above == grid_.begin()) return 0;  // below the smallest value (ue8m0 only): the smallest
    const size_t lo = size_t(above - grid_.begin()) - 1;
    if (grid_[lo] == a || lo == grid_.size() - 1) return lo;  // exact, or past the step beyond
    const size_t hi = lo + 1;
    // |x| - lo vs hi - |x|, compared exactly as 2|x| vs lo + hi.
    const T twice = a + a, sum = grid_[lo] + grid_[hi];
    const bool toward_larger_magnitude = r == Rounding::rp ? !negative : negative;
    switch (r) {
      case Rounding::rz: return lo;
      case Rounding::rp:
      case Rounding::rm: return toward_larger_magnitude ? hi : lo;
      case Rounding::rn:
      case Rounding::rne:
        if (twice < sum) return lo;
        if (twice > sum) return hi;
        if (r == Rounding::rn) return hi;           // tie: away from zero
        return code_[lo] % 2 == 0 ? lo : hi;         // tie: the even code
    }
    return lo;
  }

  uint32_t nan_code() const {
    switch (spec_.specials) {
      case SpecFormat::ieee:
      case SpecFormat::nan_all_ones: return uint32_t(mag_codes() - 1);  // 0x7F
      case SpecFormat::nan_0x80: return 0x80;
      case SpecFormat::nan_0xff: return 0xFF;
    }
    return 0;
  }
  uint32_t inf_code(bool negative) const {  // exponent all ones, mantissa 0 (ieee only)
    return uint32_t(((1 << spec_.ebits) - 1) << spec_.mbits) | (negative ? sign_bit() : 0);
  }
  uint32_t with_sign(uint32_t mag, bool negative) const {
    if (mag == 0 && spec_.specials == SpecFormat::nan_0x80) return 0;  // fnuz has no -0
    return mag | (negative ? sign_bit() : 0);
  }
  uint32_t max_code(bool negative) const { return with_sign(code_[code_.size() - 2], negative); }

  // A rounded overflow (or, for hip-host, |x| > max before rounding).
  uint32_t overflow(bool negative, Overflow o) const {
    if (saturates(o)) return max_code(negative);
    return spec_.specials == SpecFormat::ieee ? inf_code(negative) : nan_code();
  }
  // ±Inf as input: saturating policies give ±max except hip-host, which keeps Inf where the
  // format has one and gives NaN otherwise, like nosat.
  uint32_t inf_input(bool negative, Overflow o) const {
    if (saturates(o) && o != Overflow::hip_host) return max_code(negative);
    return spec_.specials == SpecFormat::ieee ? inf_code(negative) : nan_code();
  }

  Format f_;
  SpecFormat spec_;
  std::vector<T> grid_;
  std::vector<uint32_t> code_;
};

}  // namespace ulpgate::oracles
