// RMSNorm ops (spec/norm.md): norm.rms, norm.rms-add (the updated residual is an output too),
// norm.rms-quant (fp8 quantization of the normalized output: per token, optionally with vLLM's
// scale_ub; per group with any quant.group scale layout incl. ue8m0-packed; or per tensor with a
// static scale) and norm.rms-add-quant (the same after the residual add, the residual written back). Two results per case: the profile-exact output
// (the profile's roundings with the exact r) and the ideal (each output rounded once from the
// exact value, r in multiprecision), with the exact values kept for measuring distances.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reference/formats/formats.hpp"
#include "reference/norm/element.hpp"
#include "reference/norm/exact_sum.hpp"
#include "reference/norm/profile.hpp"
#include "reference/norm/row_r.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::norm {

enum class Op : uint8_t { rms, rms_add, rms_quant, rms_add_quant };
std::string_view op_name(Op op);  // "norm.rms", "norm.rms-add", "norm.rms-quant", "norm.rms-add-quant"
Op parse_op(std::string_view name);  // throws UsageError

struct Spec {
  Op op = Op::rms;
  const Profile* profile = nullptr;
  Format dtype = Format::bf16;  // x, residual, weight and y (bf16 or fp16)
  int64_t m = 0, h = 0;         // rows (tokens) x hidden size
  // rms-quant only: the quantizer's output format, group size (0: per token) and scale layout.
  Format format = Format::e4m3fn;
  int gs = 0;
  quant::Layout layout = quant::Layout::token;
  bool ue8m0 = false;           // scales rounded to powers of two (always for ue8m0-packed)
  float static_scale = 0;       // > 0: one static per-tensor scale (an input; no scale written)
  float scale_ub = 0;           // > 0: per token, the amax is capped here first (vLLM's scale_ub)
  bool fp32_weight = false;     // the weight tensor is fp32 (allreduce.rms: vLLM passes fp32 norm
                                // weights); the arithmetic takes fp32 weights either way

  bool has_residual() const { return op == Op::rms_add || op == Op::rms_add_quant; }
  bool quantizes() const { return op == Op::rms_quant || op == Op::rms_add_quant; }
  // Whether z = x + residual is rounded to T before it is squared and normalized (false without
  // a residual).
  bool rounds_residual() const;
  // The quant row the fused step follows: the profile's, its per-tensor row for a static scale,
  // its group row for per-group scales where it names one.
  quant::Profile quant_row() const;
  // The quantizer's spec (quant.token, quant.group or static quant.tensor over [M, H]) with
  // quant_row(): scale geometry, layout and storage are exactly quant's. `qp` must outlive it.
  quant::Spec quant_spec(const quant::Profile& qp) const;
  // Empty when the spec is valid, else what is wrong (dtype, H not a multiple of gs, ...).
  std::string problem() const;
  // What the per-element steps (element.hpp) need of it.
  element::Steps steps() const;
};

// Raw tensors of one case as a kernel sees them. Sizes: x, residual, y, residual_out: M*H
// elements of dtype; weight: H; codes: M*H; scales: the quant layout's storage bytes.
struct Buffers {
  std::span<const std::byte> x, residual, weight;
  std::span<std::byte> y, residual_out;
  std::span<uint8_t> codes, scales;
};

// The inputs widened exactly to fp32 (residual empty unless rms-add).
struct Inputs {
  std::vector<float> x, residual, weight;
};

// NaN and Inf inputs (IEEE semantics, in both results): a NaN in a row makes its sum of squares,
// r and every output NaN (rms-quant: amax ignores NaN, so the scale is the floor's and every code
// the clamped NaN, -max); an Inf makes the sum Inf and r = 0: finite elements give +-0, the Inf
// element Inf * 0 = NaN. Other rows are unaffected. M = 0 gives empty outputs.
struct Result {
  std::vector<uint16_t> y;         // [M*H] bits of dtype (rms, rms-add; empty for rms-quant)
  std::vector<uint16_t> residual;  // [M*H] bits of dtype: the updated residual T(x + residual)
                                   // (rms-add, every profile)
  quant::Result quant;             // codes, logical scales and storage (rms-quant)
  std::vector<float> v;            // [M*H] rms-quant: the fp32 values the quantizer saw
  std::vector<float> r;            // [M] the fp32 r the profile-exact result used
};

// One element of the profile's arithmetic for a given fp32 r: normalize_profile applies it to
// every element with its row's r, and comparators apply it at the ends of the r interval a
// kernel may use (both outputs are monotone in r; under round-twice not every code between the
// two ends occurs: admissible_y lists those that do). x, residual (ignored unless the op has one)
// and w are the element's inputs.
struct Element {
  uint16_t y;  // the output's bits in dtype
  float v;     // the value the quantizer sees (rms-quant): T(y) or the fp32 value, per profile
};
Element normalize_element(const Spec& spec, float x, float residual, float w, float r);

// The profile's roundings, step by step in fp32, with r = the correctly rounded fp32 value of
// 1/sqrt(fl(fl(sum z^2) / H) + eps) where the sum of squares is exact and rounded once (the
// profile's mean op and eps_added apply). A GPU kernel differs from this only by its accumulation
// order and its rsqrt error: r_rel_error_bound and admissible_y/admissible_normalized budget both.
// Throws UsageError (the spec's problem(), or input sizes that do not match the shape).
Result normalize_profile(const Spec& spec, const Inputs& in);

// z is the profile's (residual rounding is a profile property, checked on its own), the sum of
// squares is exact, r = 1/sqrt(sum / H + eps_added) from a 50-digit value. Each output is rounded
// once from the exact value: where the double product z * r * w lies within 2^-40 (relative) of a
// rounding boundary b, |z r w| vs b is decided exactly (z^2 w^2 H vs b^2 (sum + H eps), exact
// 1024-bit products), so ties and near-ties round as the exact value does.
struct Ideal {
  std::vector<uint16_t> y;      // [M*H] the exact y rounded once to dtype (rms, rms-add)
  std::vector<double> exact;    // [M*H] the exact normalized value z*r*w, to double precision
                                // (relative error < 2^-51, far below an ulp of bf16 or fp16;
                                // rms-quant: of the value the profile quantizes, before rounding)
  std::vector<double> r;        // [M] the exact r, to double precision
  std::vector<uint8_t> codes;   // rms-quant: exact values quantized once with the profile's scales
                                // (quant::ideal_code; the same exact boundary decisions)
};
Ideal normalize_ideal(const Spec& spec, const Inputs& in, const Result& profile_result);

// ---- One row's r, from its exact sum of squares (row_r.hpp: the device reference's source too) --

// The profile's r: fl32(S), the profile's mean, + eps, rsqrt correctly rounded to fp32.
float profile_r(const Profile& p, const ExactSum& squares, int64_t h);
// What profile_r takes of the profile, for a device (row_r::profile_r).
row_r::Rule r_rule(const Profile& p);

// One row of the ideal: r = sqrt(H / D), D = sum z^2 + H eps exact. r in double (correctly
// rounded: row_r::ideal_r) serves every element; where a double-precision product lies within 2^-40
// of a rounding boundary b, |z r w| vs b is decided exactly on squares: z^2 w^2 H vs b^2 D, whose
// operands have at most 101 and 58 + 640 bits, exact in 1024-bit arithmetic.
class IdealRow {
 public:
  IdealRow(const ExactSum& squares, const Profile& p, int64_t h);
  double r() const { return r_; }

  // The sign of |z r w| - b for b > 0, exactly.
  int compare(float z, float w, double b) const;

  // code_of(exact value) where code_of is a monotone rounding of magnitudes and boundary_of(a, b)
  // the exact boundary between two adjacent magnitude codes a < b. v = z r w in double.
  template <class CodeOf, class BoundaryOf>
  uint32_t code(double v, float z, float w, const CodeOf& code_of, const BoundaryOf& boundary_of) const {
    if (!std::isfinite(v) || v == 0) return code_of(v);
    const double a = std::fabs(v);
    const uint32_t lo = code_of(a * (1 - 0x1p-40)), hi = code_of(a * (1 + 0x1p-40));
    if (lo == hi) return code_of(v);
    const double b = boundary_of(lo, hi);
    if (!std::isfinite(b)) return code_of(v);
    const int c = compare(z, w, b);
    const double x = c > 0 ? std::nextafter(b, HUGE_VAL) : c < 0 ? std::nextafter(b, 0.0) : b;
    return code_of(std::copysign(x, v));
  }

  // The exact z r w rounded once to dtype (element::ideal_y, decided exactly near a boundary).
  uint16_t y(Format dtype, float z, float w) const;

 private:
  ExactSum d_;
  int64_t h_;
  double r_;
};

// ---- What a comparator needs to judge a GPU kernel (see norm.cpp for the derivations) --------

// z of element i (row-major [M, H]) as the profile squares and normalizes it: x; rms-add:
// T(x + residual) when the profile rounds the residual, else fl(x + residual).
float profile_z(const Spec& spec, const Inputs& in, size_t i);

// The profile's roundings of one element at a given fp32 r (what a kernel with that r computes):
// the output bits of dtype, and the fp32 value the fused quantizer sees.
uint16_t output_at(const Spec& spec, float z, float w, float r);
float normalized_at(const Spec& spec, float z, float w, float r);

// A rigorous bound on |r' - r| / r, r the exact 1/sqrt(sum z^2 / H + eps), r' what a kernel with
// this profile's mean, eps and rsqrt computes from a sum of squares accumulated in fp32 with at
// most `depth` roundings on the longest path of its summation tree (the sequential additions of
// one thread plus the levels of the block reduction; add one where fp32 squares are rounded
// before they are added, i.e. fp32 z without a fused multiply-add).
double r_rel_error_bound(const Profile& p, int64_t h, int64_t depth);

// The fp32 values a kernel's r may take: every float in [lo, hi] = [r (1 - rel), r (1 + rel)].
// Non-finite or zero r: the single value.
struct RRange {
  float lo, hi;
};
RRange admissible_r(double exact_r, double rel_bound);

// Every output (bits of dtype) output_at gives for some fp32 r' in `r`, ascending by value: all
// codes between the two ends for round-once; for round-twice only the T(b * w) of the codes b
// between T(fl(z lo)) and T(fl(z hi)), which can skip values. One code when the element is not
// sensitive to r within the bound.
std::vector<uint16_t> admissible_y(const Spec& spec, float z, float w, RRange r);

// The values the fused quantizer may see for one element (normalized_at over `r`).
struct Admissible {
  float lo, hi;               // the least and the greatest
  std::vector<float> values;  // every possible value, ascending (the quantizer sees T values);
                              // empty: any fp32 value in [lo, hi] may occur (fp32 quantizer input)
  bool contains(float v) const;
};
Admissible admissible_normalized(const Spec& spec, float z, float w, RRange r);

}  // namespace ulpgate::norm
