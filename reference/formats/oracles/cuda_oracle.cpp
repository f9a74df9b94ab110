// Oracle (a): CUDA's own host conversion functions from cuda_fp8.h (compiled as plain host C++;
// no GPU). They define e4m3fn and e5m2 with RNE under __NV_SATFINITE / __NV_NOSAT, and ue8m0
// with cudaRoundZero / cudaRoundPosInf (zero -> 0x00, negative -> |x|: CUDA's edge rules).
// clamp-first is the literal composition fminf(fmaxf(x, -max), max) followed by a conversion
// that cannot overflow; clamp-first-nan keeps NaN out of the clamp.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <cuda_fp8.h>

#include "reference/formats/oracles/oracle.hpp"

namespace ulpgate::oracles {
namespace {

bool defines(const Conversion& c) {
  const bool policy = c.overflow == Overflow::satfinite || c.overflow == Overflow::nosat ||
                      c.overflow == Overflow::clamp_first || c.overflow == Overflow::clamp_first_nan;
  if (c.format == Format::ue8m0)
    return policy && (c.rounding == Rounding::rz || c.rounding == Rounding::rp) && c.edges == E8m0Edges{};
  return policy && c.rounding == Rounding::rne && (c.format == Format::e4m3fn || c.format == Format::e5m2);
}

__nv_saturation_t saturation(Overflow o) { return o == Overflow::nosat ? __NV_NOSAT : __NV_SATFINITE; }
cudaRoundMode rounding(Rounding r) { return r == Rounding::rz ? cudaRoundZero : cudaRoundPosInf; }
__nv_fp8_interpretation_t kind(Format f) { return f == Format::e4m3fn ? __NV_E4M3 : __NV_E5M2; }

float max_finite(Format f) {
  return f == Format::e4m3fn ? 448.0f : f == Format::e5m2 ? 57344.0f : std::ldexp(1.0f, 127);
}

template <class U, class V>
V bit_cast_to(U u) {
  V v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

float widen(Source s, uint64_t bits) {
  if (s == Source::bf16) return bit_cast_to<uint32_t, float>(uint32_t(bits) << 16);
  if (s == Source::fp16) {
    __half_raw h;
    h.x = uint16_t(bits);
    return __internal_halfraw_to_float(h);  // CUDA's own widening
  }
  return bit_cast_to<uint32_t, float>(uint32_t(bits));
}

uint32_t convert_float(float x, const Conversion& c) {
  if (c.format == Format::ue8m0) return __nv_cvt_float_to_e8m0(x, saturation(c.overflow), rounding(c.rounding));
  return __nv_cvt_float_to_fp8(x, saturation(c.overflow), kind(c.format));
}

uint32_t convert_native(Source s, uint64_t bits, const Conversion& c) {
  const __nv_saturation_t sat = saturation(c.overflow);
  switch (s) {
    case Source::bf16: {
      __nv_bfloat16_raw b;
      b.x = uint16_t(bits);
      if (c.format == Format::ue8m0) return __nv_cvt_bfloat16raw_to_e8m0(b, sat, rounding(c.rounding));
      return __nv_cvt_bfloat16raw_to_fp8(b, sat, kind(c.format));
    }
    case Source::fp16: {
      if (c.format == Format::ue8m0) return convert_float(widen(s, bits), c);  // no halfraw e8m0 entry
      __half_raw h;
      h.x = uint16_t(bits);
      return __nv_cvt_halfraw_to_fp8(h, sat, kind(c.format));
    }
    case Source::fp32: return convert_float(widen(s, bits), c);
    case Source::fp64: {
      const double x = bit_cast_to<uint64_t, double>(bits);
      if (c.format == Format::ue8m0) return __nv_cvt_double_to_e8m0(x, sat, rounding(c.rounding));
      return __nv_cvt_double_to_fp8(x, sat, kind(c.format));
    }
  }
  return 0;
}

uint32_t convert(Source s, uint64_t bits, const Conversion& c) {
  if (c.overflow != Overflow::clamp_first && c.overflow != Overflow::clamp_first_nan)
    return convert_native(s, bits, c);
  const double x = s == Source::fp64 ? bit_cast_to<uint64_t, double>(bits) : widen(s, bits);
  if (std::isnan(x) && c.overflow == Overflow::clamp_first_nan) return convert_native(s, bits, c);
  // fminf(fmaxf(x, -max), max) as CUDA's fmaxf computes it: any NaN gives -max. (glibc's fmax
  // returns NaN for a *signaling* NaN, IEEE 754-2008 maxNum, so it is not used here.)
  const double m = max_finite(c.format);
  const double clamped = std::isnan(x) ? -m : std::min(std::max(x, -m), m);
  if (s == Source::fp64) return convert_native(s, bit_cast_to<double, uint64_t>(clamped), c);
  return convert_float(float(clamped), c);  // exact: the clamp returns x or ±max
}

}  // namespace

Oracle cuda_oracle() { return {"cuda", &defines, &convert}; }

}  // namespace ulpgate::oracles
