#include "reference/formats/formats.hpp"

#include "reference/formats/name_table.hpp"

#include <array>
#include <cstdio>
#include <limits>
#include <sstream>

namespace ulpgate {
namespace {

constexpr NameTable<Format, 8> kFormatNames{{{{Format::e4m3fn, "e4m3fn"},
                                              {Format::e4m3fnuz, "e4m3fnuz"},
                                              {Format::e5m2, "e5m2"},
                                              {Format::e5m2fnuz, "e5m2fnuz"},
                                              {Format::ue8m0, "ue8m0"},
                                              {Format::bf16, "bf16"},
                                              {Format::fp16, "fp16"},
                                              {Format::fp32, "fp32"}}}};
constexpr NameTable<Overflow, 6> kOverflowNames{{{{Overflow::satfinite, "satfinite"},
                                                  {Overflow::nosat, "nosat"},
                                                  {Overflow::clamp_first, "clamp-first"},
                                                  {Overflow::clamp_first_nan, "clamp-first-nan"},
                                                  {Overflow::hip_host, "hip-host"},
                                                  {Overflow::hip_host_nosat, "hip-host-nosat"}}}};
constexpr NameTable<Rounding, 5> kRoundingNames{{{{Rounding::rne, "rne"},
                                                  {Rounding::rz, "rz"},
                                                  {Rounding::rp, "rp"},
                                                  {Rounding::rm, "rm"},
                                                  {Rounding::rn, "rn"}}}};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

void parse_edges(std::string_view flags, Conversion& c) {
  for (std::string_view f : split(flags, ',')) {
    if (f == "zero-nan") c.edges.zero_is_nan = true;
    else if (f == "neg-nan") c.edges.negative_is_nan = true;
    else if (f == "clamp-1-254") c.edges.min_code = 1;
    else
      throw UsageError("unknown ue8m0 flag '" + std::string(f) +
                       "' (valid: zero-nan, neg-nan, clamp-1-254)");
  }
}

}  // namespace

std::string_view format_name(Format f) { return kFormatNames.name(f); }
std::string_view overflow_name(Overflow o) { return kOverflowNames.name(o); }
std::string_view rounding_name(Rounding r) { return kRoundingNames.name(r); }
std::string valid_formats() { return kFormatNames.choices(); }
Format parse_format(std::string_view name) { return kFormatNames.parse(name, "format"); }

Conversion Conversion::parse(std::string_view text) {
  const auto parts = split(text, ':');
  if (parts.size() > 4)
    throw UsageError("conversion '" + std::string(text) +
                     "' has too many fields (expected FORMAT[:policy[:rounding[:flags]]])");
  Conversion c;
  c.format = parse_format(parts[0]);
  c.rounding = c.format == Format::ue8m0 ? Rounding::rp : Rounding::rne;
  if (parts.size() > 1 && !parts[1].empty()) c.overflow = kOverflowNames.parse(parts[1], "overflow policy");
  if (parts.size() > 2 && !parts[2].empty()) c.rounding = kRoundingNames.parse(parts[2], "rounding");
  if (parts.size() > 3) {
    if (c.format != Format::ue8m0)
      throw UsageError("flags '" + std::string(parts[3]) + "' apply to ue8m0 only");
    parse_edges(parts[3], c);
  }
  return c;
}

std::string Conversion::str() const {
  std::string s = std::string(format_name(format)) + ":" + std::string(overflow_name(overflow)) +
                  ":" + std::string(rounding_name(rounding));
  std::string flags;
  auto add = [&](const char* f) { flags += (flags.empty() ? "" : ",") + std::string(f); };
  if (edges.zero_is_nan) add("zero-nan");
  if (edges.negative_is_nan) add("neg-nan");
  if (edges.min_code == 1) add("clamp-1-254");
  return flags.empty() ? s : s + ":" + flags;
}

uint32_t encode(float x, const Conversion& c) {
  return dispatch(c.format, [&](auto f) { return encode<decltype(f)::value>(x, c); });
}
uint32_t encode(double x, const Conversion& c) {
  return dispatch(c.format, [&](auto f) { return encode<decltype(f)::value>(x, c); });
}

double decode(Format f, uint32_t code) {
  return dispatch(f, [&](auto k) { return decode<decltype(k)::value>(code); });
}
float decode_f32(Format f, uint32_t code) { return float(decode(f, code)); }
CodeClass classify(Format f, uint32_t code) {
  return dispatch(f, [&](auto k) { return classify<decltype(k)::value>(code); });
}
bool is_nan(Format f, uint32_t code) { return classify(f, code) == CodeClass::nan; }

std::array<uint8_t, 256> nan_codes(Format f) {
  std::array<uint8_t, 256> nan{};
  for (uint32_t code = 0; code < 256; ++code) nan[code] = is_nan(f, code);
  return nan;
}

std::string_view class_name(CodeClass k) {
  constexpr std::string_view names[] = {"zero", "subnormal", "normal", "inf", "nan"};
  return names[int(k)];
}

std::optional<int64_t> ordinal(Format f, uint32_t code) {
  return dispatch(f, [&](auto k) { return ordinal<decltype(k)::value>(code); });
}
std::optional<int64_t> ulp_distance(Format f, uint32_t a, uint32_t b) {
  return dispatch(f, [&](auto k) { return ulp_distance<decltype(k)::value>(a, b); });
}

double ulp_of(Format wide, double exact) {
  const FormatInfo fi = info(wide);
  const double a = std::fabs(exact);
  int e = a == 0 ? fi.emin : std::ilogb(a);
  if (a != 0 && a == std::ldexp(1.0, e)) e -= 1;  // at a power of two, the ulp below
  if (e < fi.emin) e = fi.emin;
  return std::ldexp(1.0, e - fi.mbits);
}

double ulp_error(Format wide, double actual, double exact) {
  if (!std::isfinite(actual)) return std::isfinite(exact) || std::isnan(actual) || actual != exact
                                        ? std::numeric_limits<double>::infinity()
                                        : 0.0;
  return std::fabs(actual - exact) / ulp_of(wide, exact);
}

namespace {

std::string hexfloat(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

std::string decimal(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

// The two grid neighbours of |x| below overflow, for explaining a rounding decision.
std::string rounding_story(double x, const Conversion& c, uint32_t code, double decoded) {
  const FormatInfo fi = info(c.format);
  const double ax = std::fabs(x);
  const bool hip = c.overflow == Overflow::hip_host || c.overflow == Overflow::hip_host_nosat;
  if (std::isnan(x))
    return c.overflow == Overflow::clamp_first ? "NaN clamped by fminf(fmaxf(x, -max), max) to -max"
                                               : "NaN input gives the canonical NaN";
  if (std::isinf(x)) {
    if (is_nan(c.format, code)) return "Inf input has no encoding under this policy: NaN";
    if (classify(c.format, code) == CodeClass::inf) return "Inf stays Inf";
    return "Inf saturated to the largest finite value";
  }
  if (is_nan(c.format, code)) {
    if (fi.family == Family::e8m0 && x == 0) return "zero has no ue8m0 encoding under zero-nan: NaN";
    if (fi.family == Family::e8m0 && x < 0) return "negative input under neg-nan: NaN";
    if (hip) return "|x| exceeds the largest finite value before rounding (HIP host code): NaN";
    return "overflow: the value rounds above the largest finite value and the policy gives NaN";
  }
  if (classify(c.format, code) == CodeClass::inf)
    return hip ? "|x| exceeds the largest finite value before rounding (HIP host code): Inf"
               : "overflow to Inf (non-saturating)";
  const double max = decode(c.format, fi.max_mag);
  const double mag = std::fabs(decoded);
  if (mag == max && ax > max) {
    const uint32_t rne = encode(x, Conversion{c.format, Overflow::nosat, c.rounding, c.edges});
    if (std::fabs(decode(c.format, rne)) != max)
      return hip ? "saturated: |x| exceeds the largest finite value before rounding (HIP host code)"
                 : "saturated: the value rounds above the largest finite value";
    // The step beyond max on the grid extended past it; their midpoint is the overflow tie.
    const double beyond = fi.family == Family::e8m0 ? 2 * max : 2 * max - decode(c.format, fi.max_mag - 1);
    if (ax == (max + beyond) / 2 && c.rounding == Rounding::rne)
      return "a tie between the largest finite value and the step beyond it: rounded down to the even code";
    return "above the largest finite value, but rounds down to it";
  }
  if (mag == ax) return "exact: the value is on the format's grid";
  if (fi.family == Family::e8m0 && (c.edges.min_code != 0 || c.edges.max_code != 254) &&
      (code == c.edges.min_code || code == c.edges.max_code))
    return "exponent clamped to the policy's range";
  std::string dir = mag > ax ? "rounded up" : "rounded down";
  // Is x exactly halfway between two grid points? Compare with the other neighbour.
  const Conversion up{c.format, Overflow::nosat, Rounding::rp, c.edges};
  const Conversion dn{c.format, Overflow::nosat, Rounding::rz, c.edges};
  const double hi = std::fabs(decode(c.format, encode(ax, up)));
  const double lo = std::fabs(decode(c.format, encode(ax, dn)));
  const bool tie = std::isfinite(hi) && hi - ax == ax - lo;
  std::string mode = std::string(rounding_name(c.rounding));
  if (tie && c.rounding == Rounding::rne) return dir + " at a tie, to the even code";
  if (tie) return dir + " at a tie (" + mode + ")";
  if (c.rounding == Rounding::rne || c.rounding == Rounding::rn) return dir + " to the nearest value";
  return dir + " (directed rounding " + mode + ")";
}

}  // namespace

Explanation explain(double x, const Conversion& c) {
  const uint32_t code = encode(x, c);
  const double v = decode(c.format, code);
  return {code, v, rounding_story(x, c, code, v) + " [" + decimal(x) + " = " + hexfloat(x) + "]"};
}

}  // namespace ulpgate
