// Input distributions for cases, built only from integer draws and exactly rounded IEEE
// operations (integer sums, ldexp, single multiplies/adds, conversions; no libm transcendental,
// no std:: distributions), so a case's inputs are the same bits with any compiler, libc or
// machine. Element j of a distribution depends only on (key, j): fill() any slice in any order.
//
// Text form (fits inside a case id; uses only [a-z0-9._=+-]):
//
//   distribution := kind ( "_" key "=" number )*
//   kind         := normal | uniform | outliers | zeros | near-overflow | pow2-boundary | ties
//   number       := a decimal as std::to_chars prints a double (shortest round trip):
//                   2, 0.5, -3, 1e-05, 1e+30
//
// Keys (a key is accepted only by the kinds listed; defaults are omitted when printing, and
// keys print in the order of this table, so str() is canonical):
//
//   key     kinds           default  meaning
//   sigma   normal,outliers 1        standard deviation (Irwin-Hall sum of 12 uniforms, |z| <= 6)
//   mean    normal          0        added after scaling
//   lo, hi  uniform         -1, 1    range [lo, hi] (hi reached only by rounding)
//   every   outliers        1000     exactly one outlier in each aligned block of `every` elements
//   mag     outliers        10000    outlier magnitude = sigma * mag * (1 + u), u in [0, 1)
//   max     near-overflow,  448      values +-max * (1 + spread * k / 16), k uniform in [-16, 16];
//           ties                     ties: the amax element of each 32-block is +-max * scale
//   spread  near-overflow   0.0625
//   scale   pow2-boundary,  1        values +-scale * 2^e and the target format's neighbours;
//           ties                     ties: elements are +-scale * (e4m3 grid midpoints)
//   emin    pow2-boundary   -8       e uniform in [emin, emax]
//   emax    pow2-boundary   8
//   nan     all             0        injection periods: exactly one NaN (Inf, subnormal) in each
//   inf     all             0        aligned block of N elements, 0 = none; NaN wins over Inf
//   den     all             0        over subnormal, so the NaN count is always exact
//
// Examples: normal, normal_sigma=2, outliers_every=256_mag=1000, near-overflow_max=240,
// pow2-boundary_scale=448_emin=-4_emax=4, uniform_lo=0_hi=8_nan=64_den=100.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/rng.hpp"
#include "reference/formats/formats.hpp"

namespace ulpgate {

enum class DistKind : uint8_t { normal, uniform, outliers, zeros, near_overflow, pow2_boundary, ties };

std::string_view dist_kind_name(DistKind k);

struct Distribution {
  DistKind kind = DistKind::normal;
  double sigma = 1, mean = 0;
  double lo = -1, hi = 1;
  double every = 1000, mag = 10000;
  double max = 448, spread = 0.0625;
  double scale = 1, emin = -8, emax = 8;
  double nan = 0, inf = 0, den = 0;

  bool operator==(const Distribution&) const = default;

  static Distribution parse(std::string_view text);  // throws UsageError
  std::string str() const;                           // canonical text form
  void validate() const;                             // throws UsageError naming the bad key
};

// The value of element `index` for a target input format (fp32, bf16 or fp16): boundary
// neighbours and injected subnormals are those of the target, so they survive its rounding.
float sample(const Distribution& d, const Rng& rng, uint64_t index, Format target = Format::fp32);

// out[i] = sample(d, rng, offset + i, target).
void fill(std::span<float> out, const Distribution& d, const Rng& rng, uint64_t offset = 0,
          Format target = Format::fp32);

// The same for fp32 on the calling thread alone (for callers that split their work themselves).
void fill_here(std::span<float> out, const Distribution& d, const Rng& rng, uint64_t offset);

// bf16 / fp16 inputs: the samples rounded with the formats core (RNE).
void fill_bf16(std::span<uint16_t> out, const Distribution& d, const Rng& rng, uint64_t offset = 0);
void fill_fp16(std::span<uint16_t> out, const Distribution& d, const Rng& rng, uint64_t offset = 0);

// A tensor of n elements of dtype (fp32, bf16 or fp16): the raw little-endian bytes a kernel reads
// and the same values widened exactly to fp32 (samples rounded to dtype with RNE).
struct RawTensor {
  std::vector<std::byte> raw;
  std::vector<float> values;
};
RawTensor fill_tensor(size_t n, const Distribution& d, const Rng& rng, Format dtype);
// Its parts: the raw bytes alone (what a case holds whole when it is judged a slab of rows at a
// time), and the exact fp32 values of raw elements of dtype (a slab's, for the host reference).
std::vector<std::byte> fill_raw(size_t n, const Distribution& d, const Rng& rng, Format dtype);
// The same elements [offset, offset + out.size() / bytes an element) into out.
void fill_raw_at(std::span<std::byte> out, const Distribution& d, const Rng& rng, uint64_t offset, Format dtype);
std::vector<float> widened(std::span<const std::byte> raw, Format dtype);
// Element i of raw elements of dtype, widened exactly to fp32.
inline float raw_value(std::span<const std::byte> raw, Format dtype, size_t i) {
  const size_t width = dtype == Format::fp32 ? 4 : 2;
  uint32_t bits = 0;
  std::memcpy(&bits, raw.data() + i * width, width);  // little endian
  return widen_exact(dtype, bits);
}

}  // namespace ulpgate
