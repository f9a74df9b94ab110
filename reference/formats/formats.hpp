// Number formats with exact semantics (spec/formats.md): one templated rounding core, one traits
// block per format. Every conversion is named by its rounding and its overflow policy.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ulpgate {

enum class Format : uint8_t { e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, ue8m0, bf16, fp16, fp32 };

// How a format spends its top exponent and its sign (the only structural differences).
enum class Family : uint8_t {
  ieee,   // top exponent = Inf (mantissa 0) and NaN; signed zero (e5m2, bf16, fp16, fp32)
  fn,     // no Inf; only s.1111.111 is NaN (e4m3fn)
  fnuz,   // no Inf, no -0; 0x80 is the only NaN (e4m3fnuz, e5m2fnuz)
  e8m0,   // unsigned powers of two, no zero, no subnormals; 0xFF is NaN (ue8m0)
};

template <Format F> struct FormatTraits;
#define ULPGATE_FORMAT(F, NAME, EBITS, MBITS, BIAS, FAMILY, NAN)                   \
  template <> struct FormatTraits<Format::F> {                                     \
    static constexpr const char* name = NAME;                                      \
    static constexpr int ebits = EBITS, mbits = MBITS, bias = BIAS;                \
    static constexpr Family family = Family::FAMILY;                               \
    static constexpr uint32_t canonical_nan = NAN;                                 \
  };
ULPGATE_FORMAT(e4m3fn, "e4m3fn", 4, 3, 7, fn, 0x7F)
ULPGATE_FORMAT(e4m3fnuz, "e4m3fnuz", 4, 3, 8, fnuz, 0x80)
ULPGATE_FORMAT(e5m2, "e5m2", 5, 2, 15, ieee, 0x7F)
ULPGATE_FORMAT(e5m2fnuz, "e5m2fnuz", 5, 2, 16, fnuz, 0x80)
ULPGATE_FORMAT(ue8m0, "ue8m0", 8, 0, 127, e8m0, 0xFF)
ULPGATE_FORMAT(bf16, "bf16", 8, 7, 127, ieee, 0x7FC0)
ULPGATE_FORMAT(fp16, "fp16", 5, 10, 15, ieee, 0x7E00)
ULPGATE_FORMAT(fp32, "fp32", 8, 23, 127, ieee, 0x7FC00000)
#undef ULPGATE_FORMAT

// Everything the rounding core needs, derived from a traits block.
struct FormatInfo {
  Format id;
  const char* name;
  int ebits, mbits, bias;
  Family family;
  uint32_t canonical_nan;
  bool is_signed;       // has a sign bit
  bool has_subnormals;  // exponent field 0 means subnormal (false only for ue8m0)
  int emin;             // exponent of the smallest normal
  uint32_t max_mag;     // magnitude code of the largest finite value
  int bits;             // storage width

  static constexpr FormatInfo make(Format id, const char* name, int ebits, int mbits, int bias,
                                   Family family, uint32_t nan) {
    const bool e8 = family == Family::e8m0;
    const uint32_t all = (1u << (ebits + mbits)) - 1;
    const uint32_t max_mag = family == Family::ieee ? (((1u << ebits) - 1) << mbits) - 1
                             : family == Family::fn ? all - 1
                             : family == Family::fnuz ? all
                                                      : all - 1;
    return {id, name, ebits, mbits, bias, family, nan, !e8, !e8, e8 ? -bias : 1 - bias, max_mag,
            ebits + mbits + (e8 ? 0 : 1)};
  }
};

template <Format F>
constexpr FormatInfo info_of() {
  using T = FormatTraits<F>;
  return FormatInfo::make(F, T::name, T::ebits, T::mbits, T::bias, T::family, T::canonical_nan);
}

inline constexpr Format kAllFormats[] = {Format::e4m3fn, Format::e4m3fnuz, Format::e5m2,
                                         Format::e5m2fnuz, Format::ue8m0, Format::bf16,
                                         Format::fp16, Format::fp32};
inline constexpr Format kEightBitFormats[] = {Format::e4m3fn, Format::e4m3fnuz, Format::e5m2,
                                              Format::e5m2fnuz, Format::ue8m0};

// Calls fn(std::integral_constant<Format, F>{}) for the runtime format f.
template <class Fn>
constexpr decltype(auto) dispatch(Format f, Fn&& fn) {
  switch (f) {
    case Format::e4m3fn: return fn(std::integral_constant<Format, Format::e4m3fn>{});
    case Format::e4m3fnuz: return fn(std::integral_constant<Format, Format::e4m3fnuz>{});
    case Format::e5m2: return fn(std::integral_constant<Format, Format::e5m2>{});
    case Format::e5m2fnuz: return fn(std::integral_constant<Format, Format::e5m2fnuz>{});
    case Format::ue8m0: return fn(std::integral_constant<Format, Format::ue8m0>{});
    case Format::bf16: return fn(std::integral_constant<Format, Format::bf16>{});
    case Format::fp16: return fn(std::integral_constant<Format, Format::fp16>{});
    case Format::fp32: break;
  }
  return fn(std::integral_constant<Format, Format::fp32>{});
}

constexpr FormatInfo info(Format f) {
  return dispatch(f, [](auto c) { return info_of<decltype(c)::value>(); });
}

// ---- conversion descriptor ---------------------------------------------------------------

enum class Rounding : uint8_t {
  rne,  // nearest, ties to even
  rz,   // toward zero
  rp,   // toward +Inf
  rm,   // toward -Inf
  rn,   // nearest, ties away from zero ("ties up" for ue8m0)
};

enum class Overflow : uint8_t {
  satfinite,       // rounded |x| > max -> +-max; Inf -> +-max; NaN -> NaN
  nosat,           // rounded overflow -> Inf (ieee) / NaN (fn, fnuz, e8m0)
  clamp_first,     // fminf(fmaxf(x, -max), max) before converting: NaN -> -max
  clamp_first_nan, // clamp with NaN-propagating min/max: NaN stays NaN
  hip_host,        // HIP host code, saturating: |x| > max decided before rounding; Inf -> NaN (fn, fnuz)
  hip_host_nosat,  // HIP host code, non-saturating: |x| > max before rounding -> nosat result
};

// ue8m0-only edge policies (spec/formats.md "Edge cases"); defaults follow CUDA.
struct E8m0Edges {
  bool zero_is_nan = false;      // 0 -> 0xFF (ml_dtypes) instead of 0x00
  bool negative_is_nan = false;  // x < 0 -> 0xFF (ml_dtypes) instead of |x|
  uint8_t min_code = 0;          // DeepGEMM clamps the exponent to [1, 254]
  uint8_t max_code = 254;
  bool operator==(const E8m0Edges&) const = default;
};

struct Conversion {
  Format format = Format::e4m3fn;
  Overflow overflow = Overflow::satfinite;
  Rounding rounding = Rounding::rne;
  E8m0Edges edges{};
  bool operator==(const Conversion&) const = default;

  // "FORMAT[:policy[:rounding[:flag,flag]]]", flags: zero-nan, neg-nan, clamp-1-254.
  static Conversion parse(std::string_view text);  // throws UsageError
  std::string str() const;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Format parse_format(std::string_view name);  // throws UsageError naming the valid choices
std::string_view format_name(Format f);
std::string_view overflow_name(Overflow o);
std::string_view rounding_name(Rounding r);
std::string valid_formats();

// ---- the rounding core --------------------------------------------------------------------

namespace detail {

// A finite nonzero input as sign * sig * 2^(exp - (p - 1)), sig's leading one at bit p - 1.
struct Decomposed {
  bool sign;
  int exp;
  uint64_t sig;
  int p;
};

template <class Src>
struct SrcBits;
template <>
struct SrcBits<float> {
  using U = uint32_t;
  static constexpr int mbits = 23, ebits = 8, bias = 127;
};
template <>
struct SrcBits<double> {
  using U = uint64_t;
  static constexpr int mbits = 52, ebits = 11, bias = 1023;
};

enum class Kind : uint8_t { zero, finite, inf, nan };

template <class Src>
constexpr Kind decompose(Src x, Decomposed& d) {
  using B = SrcBits<Src>;
  const auto u = std::bit_cast<typename B::U>(x);
  const int efield = int((u >> B::mbits) & ((1u << B::ebits) - 1));
  const uint64_t frac = uint64_t(u) & ((uint64_t(1) << B::mbits) - 1);
  d.sign = (u >> (B::mbits + B::ebits)) != 0;
  if (efield == (1 << B::ebits) - 1) return frac ? Kind::nan : Kind::inf;
  if (efield == 0) {
    if (frac == 0) return Kind::zero;
    const int lz = std::countl_zero(frac) - (63 - B::mbits);  // normalise a subnormal
    d.sig = frac << lz;
    d.exp = 1 - B::bias - lz;
  } else {
    d.sig = frac | (uint64_t(1) << B::mbits);
    d.exp = efield - B::bias;
  }
  d.p = B::mbits + 1;
  return Kind::finite;
}

// sig * 2^(exp - p + 1) in units of 2^qe, truncated; the dropped bits are summarised as
// (half bit, sticky) so any drop distance is safe.
struct Truncated {
  uint64_t kept;
  bool half, sticky;
};
constexpr Truncated truncate_to_quantum(const Decomposed& d, int qe) {
  const int drop = qe - (d.exp - d.p + 1);
  if (drop <= 0) return {d.sig << -drop, false, false};  // exact; callers keep this below 2^63
  const uint64_t kept = drop >= 64 ? 0 : d.sig >> drop;
  const bool half = drop <= 64 && ((d.sig >> (drop - 1)) & 1);
  const bool sticky = drop >= 65 ? d.sig != 0 : (d.sig & ((uint64_t(1) << (drop - 1)) - 1)) != 0;
  return {kept, half, sticky};
}

// Whether rounding r moves a truncated magnitude one code up. `odd` is the parity of the
// truncated *code* (not of the significand): ties-to-even means the even code, which for ue8m0
// (no mantissa bits) is the even exponent.
constexpr bool rounds_up(Rounding r, bool negative, const Truncated& t, bool odd) {
  if (!t.half && !t.sticky) return false;
  switch (r) {
    case Rounding::rne: return t.half && (t.sticky || odd);
    case Rounding::rn: return t.half;
    case Rounding::rz: return false;
    case Rounding::rp: return !negative;
    case Rounding::rm: return negative;
  }
  return false;
}

}  // namespace detail

// Codes of the special values of a format.
template <Format F>
constexpr uint32_t max_code(bool negative) {
  constexpr FormatInfo fi = info_of<F>();
  return fi.max_mag | (negative && fi.is_signed ? 1u << (fi.bits - 1) : 0u);
}
template <Format F>
constexpr uint32_t inf_code(bool negative) {  // ieee only
  constexpr FormatInfo fi = info_of<F>();
  return (fi.max_mag + 1) | (negative ? 1u << (fi.bits - 1) : 0u);
}
template <Format F>
constexpr uint32_t zero_code(bool negative) {
  constexpr FormatInfo fi = info_of<F>();
  return negative && fi.family != Family::fnuz ? 1u << (fi.bits - 1) : 0u;
}

// What a rounded overflow (or |x| > max for hip-host) becomes.
template <Format F>
constexpr uint32_t overflow_code(bool negative, Overflow o) {
  constexpr FormatInfo fi = info_of<F>();
  const bool nosat = o == Overflow::nosat || o == Overflow::hip_host_nosat;
  if (!nosat) return max_code<F>(negative);
  return fi.family == Family::ieee ? inf_code<F>(negative) : fi.canonical_nan;
}

template <Format F>
constexpr uint32_t inf_input_code(bool negative, Overflow o) {
  constexpr FormatInfo fi = info_of<F>();
  switch (o) {
    case Overflow::satfinite:
    case Overflow::clamp_first:
    case Overflow::clamp_first_nan: return max_code<F>(negative);
    case Overflow::nosat:
    case Overflow::hip_host:
    case Overflow::hip_host_nosat: break;
  }
  return fi.family == Family::ieee ? inf_code<F>(negative) : fi.canonical_nan;
}

// clamp-first turns NaN into -max (fminf(fmaxf(NaN, -max), max)), which is then converted:
// ue8m0 has no sign, so -max becomes max, or NaN under neg-nan.
template <Format F>
constexpr uint32_t nan_input_code(const Conversion& c) {
  constexpr FormatInfo fi = info_of<F>();
  if (c.overflow != Overflow::clamp_first) return fi.canonical_nan;
  if constexpr (fi.family == Family::e8m0)
    return c.edges.negative_is_nan ? fi.canonical_nan : std::min<uint32_t>(fi.max_mag, c.edges.max_code);
  return max_code<F>(true);
}

// Largest unbiased exponent of a finite value.
template <Format F>
constexpr int emax() {
  constexpr FormatInfo fi = info_of<F>();
  return fi.emin + int(fi.max_mag >> fi.mbits) - (fi.has_subnormals ? 1 : 0);
}

namespace detail {

// Magnitude code of |x| rounded on the format's grid extended without bound above max
// (so a result > max_mag means the rounded value overflowed).
template <Format F>
constexpr int64_t rounded_magnitude(const Decomposed& d, Rounding r) {
  constexpr FormatInfo fi = info_of<F>();
  if (d.exp < fi.emin && !fi.has_subnormals) return 0;  // nothing below the smallest power
  if (d.exp > emax<F>()) return int64_t(fi.max_mag) + 1;  // >= 2^(emax+1) under any rounding
  const int e = d.exp < fi.emin ? fi.emin : d.exp;
  const Truncated t = truncate_to_quantum(d, e - fi.mbits);
  const int64_t code = (int64_t(e - fi.emin) << fi.mbits) + int64_t(t.kept) -
                       (fi.has_subnormals ? 0 : int64_t(1) << fi.mbits);
  return code + rounds_up(r, d.sign, t, code & 1);
}

// |x| > max, decided on the exact value (what HIP's host code does before rounding).
template <Format F>
constexpr bool exceeds_max(Decomposed d) {
  d.sign = false;
  const int64_t down = rounded_magnitude<F>(d, Rounding::rz);
  const int64_t up = rounded_magnitude<F>(d, Rounding::rp);
  return down > int64_t(info_of<F>().max_mag) || (down == int64_t(info_of<F>().max_mag) && up != down);
}

}  // namespace detail

// Converts a float or double to format F (bf16/fp16 inputs widen exactly to float first).
template <Format F, class Src>
constexpr uint32_t encode(Src x, const Conversion& c) {
  constexpr FormatInfo fi = info_of<F>();
  detail::Decomposed d{};
  const detail::Kind kind = detail::decompose(x, d);
  if (kind == detail::Kind::nan) return nan_input_code<F>(c);
  if constexpr (fi.family == Family::e8m0) {
    if (d.sign && kind != detail::Kind::zero && c.edges.negative_is_nan) return fi.canonical_nan;
    d.sign = false;  // no sign bit: |x|
    if (kind == detail::Kind::zero) return c.edges.zero_is_nan ? fi.canonical_nan : c.edges.min_code;
  }
  if (kind == detail::Kind::inf) return inf_input_code<F>(d.sign, c.overflow);
  if (kind == detail::Kind::zero) return zero_code<F>(d.sign);
  const bool hip = c.overflow == Overflow::hip_host || c.overflow == Overflow::hip_host_nosat;
  if (hip && detail::exceeds_max<F>(d)) return overflow_code<F>(d.sign, c.overflow);

  int64_t mag = detail::rounded_magnitude<F>(d, c.rounding);
  if constexpr (fi.family == Family::e8m0) {
    if (mag < c.edges.min_code) mag = c.edges.min_code;
    if (mag > c.edges.max_code && mag <= int64_t(fi.max_mag)) mag = c.edges.max_code;
  }
  if (mag > int64_t(fi.max_mag)) return overflow_code<F>(d.sign, c.overflow);
  if (mag == 0) return zero_code<F>(d.sign);
  return uint32_t(mag) | (d.sign ? 1u << (fi.bits - 1) : 0u);
}

// Runtime-dispatched forms.
uint32_t encode(float x, const Conversion& c);
uint32_t encode(double x, const Conversion& c);

// ---- the fast fp32 -> fp8 path ------------------------------------------------------------
// The conversions every quantization kernel ends with (RNE, satfinite or nosat, into a signed
// fp8 format with subnormals) for fp32 inputs, bit for bit as encode<F>, but as integer arithmetic
// on the input's bits with no data-dependent branch, so a loop of them vectorizes. Checked against
// encode<F> over all 2^32 inputs (suites/reference/fast_rne_test.cpp).

template <Format F>
constexpr bool has_fast_rne() {
  constexpr FormatInfo fi = info_of<F>();
  return fi.bits == 8 && fi.is_signed && fi.has_subnormals;
}

constexpr bool has_fast_rne(const Conversion& c) {
  const bool format_ok = dispatch(c.format, [](auto f) { return has_fast_rne<decltype(f)::value>(); });
  return format_ok && c.rounding == Rounding::rne &&
         (c.overflow == Overflow::satfinite || c.overflow == Overflow::nosat);
}

template <Format F>
class FastRneCast {
  static_assert(has_fast_rne<F>());
  static constexpr FormatInfo fi = info_of<F>();
  static constexpr int drop = 23 - fi.mbits;                       // fp32 mantissa bits dropped
  static constexpr uint32_t min_normal = uint32_t(127 + fi.emin) << 23;  // fp32 bits of 2^emin
  static constexpr uint32_t rebias = uint32_t(127 - fi.bias) << fi.mbits;
  // 2^(emin - mbits + 23): its fp32 ulp is the format's subnormal quantum.
  static constexpr float subnormal_magic =
      std::bit_cast<float>(uint32_t(127 + fi.emin - fi.mbits + 23) << 23);
  static constexpr uint32_t sign_bit = 1u << (fi.bits - 1);

 public:
  constexpr explicit FastRneCast(Overflow overflow)
      : overflow_pos_(overflow_code<F>(false, overflow)), overflow_neg_(overflow_code<F>(true, overflow)) {
    if (!has_fast_rne(Conversion{F, overflow, Rounding::rne}))
      throw std::invalid_argument("FastRneCast: satfinite or nosat only");
  }

  constexpr uint32_t operator()(float x) const {
    const uint32_t u = std::bit_cast<uint32_t>(x), a = u & 0x7FFFFFFFu, mag = magnitude(a);
    // The grid goes on past max, so a code above max_mag is an overflow, as in the core.
    const uint32_t code = mag > fi.max_mag ? (u >> 31 ? overflow_neg_ : overflow_pos_)  // Inf too
                                           : with_sign(u, mag);
    return a > 0x7F800000u ? fi.canonical_nan : code;
  }

  // The code of an x that is no NaN and at most the format's max in magnitude (so no overflow):
  // the rounding alone, which the device reference's common path takes without the tests above.
  static constexpr uint32_t in_range(float x) {
    const uint32_t u = std::bit_cast<uint32_t>(x);
    return with_sign(u, magnitude(u & 0x7FFFFFFFu));
  }

 private:
  // The code of magnitude code mag with the sign of fp32 bits u.
  static constexpr uint32_t with_sign(uint32_t u, uint32_t mag) {
    const bool signed_zero_exists = fi.family != Family::fnuz;  // fnuz: 0x80 is NaN, not -0
    return (u >> 31) != 0 && (mag != 0 || signed_zero_exists) ? mag | sign_bit : mag;
  }

  // |x|'s magnitude code from its bits a (no NaN), RNE; above max_mag where x overflows.
  static constexpr uint32_t magnitude(uint32_t a) {
    // Normal range: adding half a quantum less one, plus the kept lsb (ties to even), carries
    // into the kept bits (and on into the exponent) exactly when RNE rounds up.
    const uint32_t normal = ((a + (1u << (drop - 1)) - 1 + ((a >> drop) & 1)) >> drop) - rebias;
    // Subnormal range: one fp32 addition rounds |x| to the subnormal quantum with RNE (fp32
    // subnormal inputs give 0 either way, so flush-to-zero modes cannot change the result).
    const uint32_t subnormal = std::bit_cast<uint32_t>(std::bit_cast<float>(a) + subnormal_magic) -
                               std::bit_cast<uint32_t>(subnormal_magic);
    // Selected by a mask, not ?:, so both are computed: a branch would sink the addition into
    // it, and a (possibly trapping) fp32 addition under a branch keeps loops from vectorizing.
    const uint32_t is_subnormal = 0u - uint32_t(a < min_normal);
    return (subnormal & is_subnormal) | (normal & ~is_subnormal);
  }

  uint32_t overflow_pos_, overflow_neg_;
};

// The fast path into bf16 and fp16 (RNE, nosat: overflow to Inf) from a double or a float (exactly
// widened): the per-element roundings of the RMSNorm reference and the input generators. Integer
// arithmetic on the double's bits in the normal range, one fp64 addition in the subnormal range;
// bit for bit encode<F> (suites/reference/fast_rne_test.cpp).
template <Format F>
constexpr uint32_t fast_rne_nosat16(double x) {
  static_assert(F == Format::bf16 || F == Format::fp16);
  constexpr FormatInfo fi = info_of<F>();
  constexpr int drop = 52 - fi.mbits;
  constexpr uint64_t min_normal = uint64_t(1023 + fi.emin) << 52;
  // 2^(emin - mbits + 52): its fp64 ulp is the format's subnormal quantum.
  constexpr double magic = std::bit_cast<double>(uint64_t(1023 + fi.emin - fi.mbits + 52) << 52);
  const uint64_t u = std::bit_cast<uint64_t>(x), a = u & ~(uint64_t(1) << 63);
  if (a > (uint64_t(0x7FF) << 52)) return fi.canonical_nan;
  uint64_t mag;
  if (a < min_normal) {
    mag = std::bit_cast<uint64_t>(std::bit_cast<double>(a) + magic) - std::bit_cast<uint64_t>(magic);
  } else {  // half a quantum less one, plus the kept lsb (ties to even), carries exactly when RNE rounds up
    mag = ((a + (uint64_t(1) << (drop - 1)) - 1 + ((a >> drop) & 1)) >> drop) - (uint64_t(1023 - fi.bias) << fi.mbits);
  }
  if (mag > fi.max_mag) mag = fi.max_mag + 1;  // Inf
  return uint32_t(mag) | (uint32_t(u >> 63) << (fi.bits - 1));
}

// The element types of the references that a device also runs (RMSNorm, the all-reduce), constexpr
// and free of library math: bf16 / fp16 / fp32 bits widened exactly to float, and a double rounded
// into them (RNE, overflow to Inf, NaN canonical: encode's nosat).
constexpr float widen_exact(Format f, uint32_t bits) {
  if (f == Format::fp32) return std::bit_cast<float>(bits);
  if (f == Format::bf16) return std::bit_cast<float>((bits & 0xFFFFu) << 16);
  const uint32_t sign = (bits & 0x8000u) << 16, e = (bits >> 10) & 0x1Fu, m = bits & 0x3FFu;
  if (e == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (m << 13));
  if (e == 0) return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(float(m) * 0x1p-24f));  // exact
  return std::bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}
constexpr uint32_t round_nosat(Format f, double v) {
  if (f == Format::bf16) return fast_rne_nosat16<Format::bf16>(v);
  if (f == Format::fp16) return fast_rne_nosat16<Format::fp16>(v);
  return v != v ? info_of<Format::fp32>().canonical_nan : std::bit_cast<uint32_t>(static_cast<float>(v));
}

// ---- bits -----------------------------------------------------------------------------------

// The index of v's highest set bit (v != 0). No intrinsic: the device references run it too.
constexpr int highest_bit(uint64_t v) {
  int i = 0;
  for (int step = 32; step > 0; step /= 2)
    if (v >> (i + step)) i += step;
  return i;
}

// ---- decoding and classification ----------------------------------------------------------

enum class CodeClass : uint8_t { zero, subnormal, normal, inf, nan };
std::string_view class_name(CodeClass k);

template <Format F>
constexpr CodeClass classify(uint32_t code) {
  constexpr FormatInfo fi = info_of<F>();
  const uint32_t mag_mask = (1u << (fi.ebits + fi.mbits)) - 1;
  const uint32_t mag = code & mag_mask;
  const bool neg = fi.is_signed && (code >> (fi.bits - 1)) & 1;
  switch (fi.family) {
    case Family::e8m0: return code == 0xFF ? CodeClass::nan : CodeClass::normal;
    case Family::fnuz:
      if (code == 0x80) return CodeClass::nan;
      break;
    case Family::fn:
      if (mag == mag_mask) return CodeClass::nan;
      break;
    case Family::ieee:
      if (mag > fi.max_mag + 1) return CodeClass::nan;
      if (mag == fi.max_mag + 1) return CodeClass::inf;
      break;
  }
  (void)neg;
  if (mag == 0) return CodeClass::zero;
  return (mag >> fi.mbits) == 0 ? CodeClass::subnormal : CodeClass::normal;
}

// Exact value of a code (every format here is exact in double).
template <Format F>
inline double decode(uint32_t code) {
  constexpr FormatInfo fi = info_of<F>();
  const CodeClass k = classify<F>(code);
  const bool neg = fi.is_signed && ((code >> (fi.bits - 1)) & 1);
  if (k == CodeClass::nan) return std::numeric_limits<double>::quiet_NaN();
  if (k == CodeClass::inf) return neg ? -HUGE_VAL : HUGE_VAL;
  const uint32_t mag = code & ((1u << (fi.ebits + fi.mbits)) - 1);
  const int efield = int(mag >> fi.mbits);
  const uint32_t frac = mag & ((1u << fi.mbits) - 1);
  double v;
  if (!fi.has_subnormals)
    v = std::ldexp(1.0, efield + fi.emin);
  else if (efield == 0)
    v = std::ldexp(double(frac), fi.emin - fi.mbits);
  else
    v = std::ldexp(double(frac | (1u << fi.mbits)), efield - 1 + fi.emin - fi.mbits);
  return neg ? -v : v;
}

template <Format F>
constexpr bool is_nan(uint32_t code) { return classify<F>(code) == CodeClass::nan; }

// Position on the format's ordered value line (+0 and -0 coincide; Inf one step past max).
// NaN has no position.
template <Format F>
constexpr std::optional<int64_t> ordinal(uint32_t code) {
  constexpr FormatInfo fi = info_of<F>();
  if (is_nan<F>(code)) return std::nullopt;
  if constexpr (!fi.is_signed) return int64_t(code);
  constexpr uint32_t sign_bit = 1u << (fi.bits - 1);
  const int64_t mag = code & (sign_bit - 1);  // Inf's magnitude is max_mag + 1: one step past max
  const int64_t neg = -int64_t((code & sign_bit) != 0);  // no branch: signs are random, a branch mispredicts
  return (mag ^ neg) - neg;
}
// Codes between a and b on the value line; both NaN -> 0 (same class); one NaN -> nullopt.
template <Format F>
constexpr std::optional<int64_t> ulp_distance(uint32_t a, uint32_t b) {
  const auto oa = ordinal<F>(a), ob = ordinal<F>(b);
  if (!oa && !ob) return 0;
  if (!oa || !ob) return std::nullopt;
  return *oa > *ob ? *oa - *ob : *ob - *oa;
}

// Runtime-dispatched forms (a comparator's loop over one format dispatches once and calls the
// templates: per element, the dispatch was most of judging a large RMSNorm case).
double decode(Format f, uint32_t code);
float decode_f32(Format f, uint32_t code);  // exact: every code of every format fits in fp32
CodeClass classify(Format f, uint32_t code);
bool is_nan(Format f, uint32_t code);
// Which of the 256 codes of an 8-bit format are its NaNs (1) or not (0): for a judge that tests
// every code, one dispatch on the format instead of one a code.
std::array<uint8_t, 256> nan_codes(Format f);
std::optional<int64_t> ordinal(Format f, uint32_t code);
std::optional<int64_t> ulp_distance(Format f, uint32_t a, uint32_t b);

// |actual - exact| / ulp(exact) for a wide format (bf16, fp16, fp32); at an exact power of two
// the ulp below is used. Inf/NaN actual with finite exact -> +Inf.
double ulp_error(Format wide, double actual, double exact);
double ulp_of(Format wide, double exact);

// bf16 / fp16 helpers (inputs widen exactly; outputs round with RNE, nosat: encode's bits, by
// the fast path, which test_fast_rne_exhaustive holds to encode on every fp32 input).
inline float bf16_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }
inline float fp16_to_float(uint16_t h) { return float(decode<Format::fp16>(h)); }
constexpr uint16_t float_to_bf16(float x) {  // bf16 keeps fp32's exponent: RNE on the bits, subnormals and Inf too
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t(info_of<Format::bf16>().canonical_nan);
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
inline uint16_t float_to_fp16(float x) { return uint16_t(fast_rne_nosat16<Format::fp16>(x)); }

// One conversion explained in words (for `ulpgate convert`).
struct Explanation {
  uint32_t code;
  double decoded;
  std::string why;
};
Explanation explain(double x, const Conversion& c);

}  // namespace ulpgate
