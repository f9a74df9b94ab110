#include "harness/core/generators.hpp"

#include <bit>
#include <charconv>
#include <cstring>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "reference/parallel.hpp"

namespace ulpgate {

namespace {

constexpr std::string_view kKindNames[] = {"normal", "uniform",       "outliers",     "zeros",
                                           "near-overflow", "pow2-boundary", "ties"};

constexpr unsigned bit(DistKind k) { return 1u << unsigned(k); }
constexpr unsigned kAllKinds = 0x7F;

// One row per key; the order of this table is the canonical print order.
struct ParamSpec {
  std::string_view key;
  double Distribution::*field;
  unsigned kinds;
};
constexpr ParamSpec kParams[] = {
    {"sigma", &Distribution::sigma, bit(DistKind::normal) | bit(DistKind::outliers)},
    {"mean", &Distribution::mean, bit(DistKind::normal)},
    {"lo", &Distribution::lo, bit(DistKind::uniform)},
    {"hi", &Distribution::hi, bit(DistKind::uniform)},
    {"every", &Distribution::every, bit(DistKind::outliers)},
    {"mag", &Distribution::mag, bit(DistKind::outliers)},
    {"max", &Distribution::max, bit(DistKind::near_overflow) | bit(DistKind::ties)},
    {"spread", &Distribution::spread, bit(DistKind::near_overflow)},
    {"scale", &Distribution::scale, bit(DistKind::pow2_boundary) | bit(DistKind::ties)},
    {"emin", &Distribution::emin, bit(DistKind::pow2_boundary)},
    {"emax", &Distribution::emax, bit(DistKind::pow2_boundary)},
    {"nan", &Distribution::nan, kAllKinds},
    {"inf", &Distribution::inf, kAllKinds},
    {"den", &Distribution::den, kAllKinds},
};

// Independent RNG streams per purpose, so no two purposes share a counter.
enum Stream : uint64_t { kValue = 1, kSign, kNan, kInf, kDen, kOutlier };

// The streams of one fill, derived once (each derivation is a hash).
struct Streams {
  Rng value, sign, nan, inf, den, outlier;
  explicit Streams(const Rng& rng)
      : value(rng.stream(kValue)), sign(rng.stream(kSign)), nan(rng.stream(kNan)),
        inf(rng.stream(kInf)), den(rng.stream(kDen)), outlier(rng.stream(kOutlier)) {}
};

std::string valid_keys(DistKind k) {
  std::string s;
  for (const ParamSpec& p : kParams)
    if (p.kinds & bit(k)) s += (s.empty() ? "" : ", ") + std::string(p.key);
  return s;
}

std::string number_text(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

[[noreturn]] void bad(const Distribution& d, std::string_view what) {
  throw UsageError("distribution '" + d.str() + "': " + std::string(what));
}

bool is_integer_in(double v, double lo, double hi) {
  return std::isfinite(v) && v == std::floor(v) && v >= lo && v <= hi;
}

constexpr double kMaxPeriod = 9007199254740992.0;  // 2^53: exact in double and uint64

// ---- sampling ---------------------------------------------------------------------------

float random_sign(const Streams& rng, uint64_t index, float v) {
  return (rng.sign.at(index) & 1) ? -v : v;
}

// True when element `index` is the chosen one of its aligned block of `period` elements.
bool injected(const Rng& stream, double period, uint64_t index) {
  if (period == 0) return false;
  const auto n = uint64_t(period);
  return stream.below(index / n, n) == index % n;
}

// Irwin-Hall: 12 uniform 16-bit integers k_i, u_i = (k_i + 1/2) / 2^16, z = sum u_i - 6.
// Mean exactly 0, variance 1 - 2^-32, |z| < 6; computed as an exact integer then scaled.
double standard_normal_like(const Rng& values, uint64_t index) {
  // The four 16-bit parts of each draw summed in two 32-bit lanes (six parts a lane at most: no
  // carry between them), the lanes added last: the same integer as twelve shifts and masks.
  constexpr uint64_t kEvenParts = 0x0000FFFF0000FFFFull;
  uint64_t lanes = 0;
  for (uint64_t w = 0; w < 3; ++w) {
    const uint64_t bits = values.at(3 * index + w);
    lanes += (bits & kEvenParts) + ((bits >> 16) & kEvenParts);
  }
  const auto sum = int32_t((lanes & 0xFFFFFFFF) + (lanes >> 32));  // < 2^20: int32 widens to double in vectors
  return double(sum + 6 - 6 * 65536) * 0x1p-16;  // exact
}

float normal_value(double sigma, double mean, const Rng& values, uint64_t index) {
  const double scaled = sigma * standard_normal_like(values, index);  // one rounding
  return float(scaled + mean);  // kept as separate statements: no fused multiply-add
}

// Normal samples without injections (most of every case's inputs), from element `offset` on, in a
// loop of their own. Built twice, for AVX2 and for any x86-64, the loader picking one: AVX2's
// 64-bit lanes draw four elements at once, where SSE2 has no vector form of the loop. The same
// bits either way: integer arithmetic and IEEE roundings, and AVX2 enables no FMA to fuse them.
#if defined(__x86_64__) && defined(__GNUC__)
[[gnu::target_clones("avx2", "default")]]
#endif
void plain_normals(std::span<float> out, double sigma, double mean, const Rng& values, uint64_t offset) {
  for (size_t i = 0; i < out.size(); ++i) out[i] = normal_value(sigma, mean, values, offset + i);
}

float uniform_value(const Distribution& d, const Streams& rng, uint64_t index) {
  const double width = d.hi - d.lo;
  const double offset = width * rng.value.dyadic(index, 24);
  return float(d.lo + offset);
}

float outlier_value(const Distribution& d, const Streams& rng, uint64_t index) {
  const auto n = uint64_t(d.every);
  const Rng& outliers = rng.outlier;
  const uint64_t block = index / n;
  if (outliers.below(2 * block, n) != index % n) return normal_value(d.sigma, 0, rng.value, index);
  const double big = d.sigma * d.mag;
  const double grown = 1.0 + outliers.dyadic(2 * block + 1, 24);  // exact
  return random_sign(rng, index, float(big * grown));
}

float near_overflow_value(const Distribution& d, const Streams& rng, uint64_t index) {
  const int64_t k = int64_t(rng.value.below(index, 33)) - 16;
  const double step = std::ldexp(d.spread * double(k), -4);
  const double factor = 1.0 + step;
  return random_sign(rng, index, float(d.max * factor));
}

// The neighbour `step` (-1, 0, +1) of positive v on the target's grid (v rounded to it first);
// a step off the finite range or below zero stays at v.
float grid_neighbour(float v, int step, Format target) {
  if (target == Format::fp32) {
    const float n = std::bit_cast<float>(std::bit_cast<uint32_t>(v) + uint32_t(step));
    return std::isfinite(n) && v != 0 ? n : v;
  }
  const uint32_t code = encode(v, Conversion{target, Overflow::nosat});
  const uint32_t moved = code + uint32_t(step);
  if (code == 0 || classify(target, moved) == CodeClass::inf || classify(target, code) == CodeClass::inf)
    return decode_f32(target, code);
  return decode_f32(target, moved);
}

float pow2_boundary_value(const Distribution& d, const Streams& rng, uint64_t index, Format target) {
  const Rng& values = rng.value;
  const auto span = uint64_t(d.emax - d.emin) + 1;
  const int e = int(d.emin) + int(values.below(2 * index, span));
  const int step = int(values.below(2 * index + 1, 3)) - 1;
  const float boundary = float(std::ldexp(d.scale, e));
  return random_sign(rng, index, grid_neighbour(boundary, step, target));
}

// Exact fp8 rounding ties: element 0 of every aligned block of 32 is +-max * scale, so any
// group's amax is max * scale and a division profile's scale is exactly `scale` (a power of two
// in the catalog); every other element is +-scale times a midpoint between two neighbours of a
// 3-bit-mantissa grid (e4m3), so x / s lands exactly on a tie. 4 significant bits: exact in bf16.
float tie_value(const Distribution& d, const Streams& rng, uint64_t index) {
  if (index % 32 == 0) return random_sign(rng, index, float(d.max * d.scale));
  const int k = int(rng.value.below(2 * index, 8));           // which pair in the binade
  const int p = int(rng.value.below(2 * index + 1, 14)) - 6;  // binade 2^-6 .. 2^7
  const double midpoint = std::ldexp(16.0 + 2 * k + 1, p - 4);  // (1 + (2k+1)/16) * 2^p
  return random_sign(rng, index, float(std::min(midpoint, d.max) * d.scale));
}

// A random nonzero subnormal of the target format.
float subnormal_value(const Streams& rng, uint64_t index, Format target) {
  const int mbits = info(target).mbits;
  const uint64_t mantissa = 1 + rng.den.at(index) % ((uint64_t(1) << mbits) - 1);
  return random_sign(rng, index, decode_f32(target, uint32_t(mantissa)));
}

float base_value(const Distribution& d, const Streams& rng, uint64_t index, Format target) {
  switch (d.kind) {
    case DistKind::normal: return normal_value(d.sigma, d.mean, rng.value, index);
    case DistKind::uniform: return uniform_value(d, rng, index);
    case DistKind::outliers: return outlier_value(d, rng, index);
    case DistKind::zeros: return 0.0f;
    case DistKind::near_overflow: return near_overflow_value(d, rng, index);
    case DistKind::ties: return tie_value(d, rng, index);
    case DistKind::pow2_boundary: break;
  }
  return pow2_boundary_value(d, rng, index, target);
}

float sample_with(const Distribution& d, const Streams& rng, uint64_t index, Format target) {
  if (injected(rng.nan, d.nan, index)) return std::numeric_limits<float>::quiet_NaN();
  if (injected(rng.inf, d.inf, index))
    return random_sign(rng, index, std::numeric_limits<float>::infinity());
  if (injected(rng.den, d.den, index)) return subnormal_value(rng, index, target);
  return base_value(d, rng, index, target);
}

void check_target(Format target) {
  if (target != Format::fp32 && target != Format::bf16 && target != Format::fp16)
    throw std::invalid_argument("generators produce fp32, bf16 or fp16 inputs, not " +
                                std::string(format_name(target)));
}

}  // namespace

std::string_view dist_kind_name(DistKind k) { return kKindNames[int(k)]; }

Distribution Distribution::parse(std::string_view text) {
  const size_t kind_end = text.find('_');
  const std::string_view kind_text = text.substr(0, kind_end);
  Distribution d;
  bool known = false;
  for (int k = 0; k < int(std::size(kKindNames)); ++k)
    if (kind_text == kKindNames[k]) d.kind = DistKind(k), known = true;
  if (!known)
    throw UsageError("distribution '" + std::string(text) + "': unknown kind '" +
                     std::string(kind_text) +
                     "' (valid: normal, uniform, outliers, zeros, near-overflow, pow2-boundary, ties)");

  unsigned seen = 0;
  std::string_view rest = kind_end == std::string_view::npos ? "" : text.substr(kind_end + 1);
  while (kind_end != std::string_view::npos) {
    const size_t end = rest.find('_');
    const std::string_view item = rest.substr(0, end);
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const auto where = "distribution '" + std::string(text) + "': ";
    if (eq == std::string_view::npos)
      throw UsageError(where + "expected key=value, got '" + std::string(item) + "'");
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& p : kParams)
      if (p.key == key && (p.kinds & bit(d.kind))) spec = &p;
    if (!spec)
      throw UsageError(where + "'" + std::string(key) + "' is not a parameter of " +
                       std::string(kind_text) + " (valid: " + valid_keys(d.kind) + ")");
    const unsigned mask = 1u << (spec - kParams);
    if (seen & mask) throw UsageError(where + "'" + std::string(key) + "' given twice");
    seen |= mask;
    const std::string_view value = item.substr(eq + 1);
    double v = 0;
    const auto res = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || res.ec != std::errc() || res.ptr != value.data() + value.size())
      throw UsageError(where + "'" + std::string(key) + "' needs a number, got '" +
                       std::string(value) + "'");
    d.*(spec->field) = v;
    if (end == std::string_view::npos) break;
    rest = rest.substr(end + 1);
  }
  d.validate();
  return d;
}

std::string Distribution::str() const {
  static const Distribution defaults{};
  std::string s(dist_kind_name(kind));
  for (const ParamSpec& p : kParams)
    if ((p.kinds & bit(kind)) && this->*(p.field) != defaults.*(p.field))
      s += "_" + std::string(p.key) + "=" + number_text(this->*(p.field));
  return s;
}

void Distribution::validate() const {
  for (const ParamSpec& p : kParams)
    if (!std::isfinite(this->*(p.field))) bad(*this, std::string(p.key) + " must be finite");
  if (sigma < 0) bad(*this, "sigma must be >= 0");
  if (lo > hi) bad(*this, "lo must be <= hi");
  if (!is_integer_in(every, 1, kMaxPeriod)) bad(*this, "every must be an integer >= 1");
  if (mag <= 0) bad(*this, "mag must be > 0");
  if (max <= 0) bad(*this, "max must be > 0");
  if (spread < 0 || spread > 1) bad(*this, "spread must be in [0, 1]");
  if (scale <= 0) bad(*this, "scale must be > 0");
  if (!is_integer_in(emin, -300, 300) || !is_integer_in(emax, -300, 300) || emin > emax)
    bad(*this, "emin <= emax must be integers in [-300, 300]");
  if (!is_integer_in(nan, 0, kMaxPeriod) || !is_integer_in(inf, 0, kMaxPeriod) ||
      !is_integer_in(den, 0, kMaxPeriod))
    bad(*this, "nan, inf and den are periods: integers >= 0 (0 = none)");
}

float sample(const Distribution& d, const Rng& rng, uint64_t index, Format target) {
  return sample_with(d, Streams(rng), index, target);
}

namespace {

// out[i] = as(sample_with(..., offset + i)). Samples are counter-based: any split over threads gives
// the same tensor (below 65536 elements, one thread).
template <class T, class As>
void sample_into(std::span<T> out, const Distribution& d, const Rng& rng, uint64_t offset, Format target, As as,
                 bool on_every_core = true) {
  d.validate();
  const Streams streams(rng);
  const bool plain_normal = d.kind == DistKind::normal && d.nan == 0 && d.inf == 0 && d.den == 0;
  parallel_for_large(int64_t(out.size()), on_every_core ? int64_t(1) << 16 : INT64_MAX, [&](int64_t begin, int64_t end) {
    if (!plain_normal) {
      for (auto i = size_t(begin); i < size_t(end); ++i) out[i] = as(sample_with(d, streams, offset + i, target));
    } else if constexpr (std::is_same_v<T, float> && std::is_same_v<As, std::identity>) {
      plain_normals(out.subspan(size_t(begin), size_t(end - begin)), d.sigma, d.mean, streams.value, offset + uint64_t(begin));
    } else {  // rounded from a block of fp32 samples in the cache
      float block[1024];
      for (auto i = size_t(begin); i < size_t(end); i += std::size(block)) {
        const std::span<float> part(block, std::min(std::size(block), size_t(end) - i));
        plain_normals(part, d.sigma, d.mean, streams.value, offset + i);
        for (size_t j = 0; j < part.size(); ++j) out[i + j] = as(part[j]);
      }
    }
  });
}

}  // namespace

void fill(std::span<float> out, const Distribution& d, const Rng& rng, uint64_t offset,
          Format target) {
  check_target(target);
  sample_into(out, d, rng, offset, target, std::identity{});
}

// The same instantiation as fill's: as one of its own, sample_with was not inlined (half the time
// of making GEMM operands was its calls).
void fill_here(std::span<float> out, const Distribution& d, const Rng& rng, uint64_t offset) {
  sample_into(out, d, rng, offset, Format::fp32, std::identity{}, false);
}

void fill_bf16(std::span<uint16_t> out, const Distribution& d, const Rng& rng, uint64_t offset) {
  sample_into(out, d, rng, offset, Format::bf16, [](float v) { return float_to_bf16(v); });  // inlined, not called
}

void fill_fp16(std::span<uint16_t> out, const Distribution& d, const Rng& rng, uint64_t offset) {
  sample_into(out, d, rng, offset, Format::fp16, [](float v) { return float_to_fp16(v); });
}

void fill_raw_at(std::span<std::byte> out, const Distribution& d, const Rng& rng, uint64_t offset, Format dtype) {
  check_target(dtype);
  if (dtype == Format::fp32)
    fill(std::span(reinterpret_cast<float*>(out.data()), out.size() / 4), d, rng, offset, dtype);
  else
    (dtype == Format::bf16 ? fill_bf16 : fill_fp16)(std::span(reinterpret_cast<uint16_t*>(out.data()), out.size() / 2), d,
                                                    rng, offset);
}

std::vector<std::byte> fill_raw(size_t n, const Distribution& d, const Rng& rng, Format dtype) {
  check_target(dtype);
  std::vector<std::byte> raw(n * (dtype == Format::fp32 ? 4 : 2));
  fill_raw_at(raw, d, rng, 0, dtype);
  return raw;
}

std::vector<float> widened(std::span<const std::byte> raw, Format dtype) {
  check_target(dtype);
  std::vector<float> values(raw.size() / (dtype == Format::fp32 ? 4 : 2));
  parallel_for_large(int64_t(values.size()), int64_t(1) << 16, [&](int64_t begin, int64_t end) {
    for (auto i = size_t(begin); i < size_t(end); ++i) values[i] = raw_value(raw, dtype, i);
  });
  return values;
}

RawTensor fill_tensor(size_t n, const Distribution& d, const Rng& rng, Format dtype) {
  RawTensor t{fill_raw(n, d, rng, dtype), {}};
  t.values = widened(t.raw, dtype);
  return t;
}

}  // namespace ulpgate
