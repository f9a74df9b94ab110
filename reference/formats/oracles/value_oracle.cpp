// Oracle (c) instantiated for double (fast sweeps) and cpp_rational (proof level).
#include "reference/formats/oracles/value_oracle.hpp"

#include <array>

#include <boost/multiprecision/cpp_int.hpp>

#include "reference/formats/oracles/oracle.hpp"

namespace ulpgate::oracles {
namespace {

using Rational = boost::multiprecision::cpp_rational;

bool is_eight_bit(Format f) {
  return std::find(std::begin(kEightBitFormats), std::end(kEightBitFormats), f) !=
         std::end(kEightBitFormats);
}

// One grid per format, built once (thread-safe static initialisation).
template <class T>
const ValueOracle<T>& oracle_for(Format f) {
  static const std::array<ValueOracle<T>, 5> oracles{
      ValueOracle<T>(Format::e4m3fn), ValueOracle<T>(Format::e4m3fnuz), ValueOracle<T>(Format::e5m2),
      ValueOracle<T>(Format::e5m2fnuz), ValueOracle<T>(Format::ue8m0)};
  return oracles[size_t(f)];  // the 8-bit formats come first in enum Format
}

template <class T>
Input<T> input_of(Source s, uint64_t bits) {
  switch (s) {
    case Source::bf16: return input_from_fields<T>(bits, 8, 7);
    case Source::fp16: return input_from_fields<T>(bits, 5, 10);
    case Source::fp32: return input_from_fields<T>(bits, 8, 23);
    case Source::fp64: break;
  }
  return input_from_fields<T>(bits, 11, 52);
}

template <class T>
uint32_t convert(Source s, uint64_t bits, const Conversion& c) {
  return oracle_for<T>(c.format).convert(input_of<T>(s, bits), c);
}

bool defines(const Conversion& c) { return is_eight_bit(c.format); }

}  // namespace

static_assert(size_t(Format::e4m3fn) == 0 && size_t(Format::ue8m0) == 4);

Oracle value_oracle() { return {"value", &defines, &convert<double>}; }
Oracle exact_value_oracle() { return {"value-exact", &defines, &convert<Rational>}; }

}  // namespace ulpgate::oracles
