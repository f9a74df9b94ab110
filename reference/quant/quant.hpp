// Quantization ops (spec/quant.md): per-token-group, per-token, 128x128 block and MXFP8. One
// tile-grouped core serves all four; a profile row selects the arithmetic. Two results per case:
// the profile-exact output (the profile's fp32 steps) and the ideal output (the exact quotient
// x / s rounded once, with the profile's stored scale s).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "reference/formats/formats.hpp"
#include "reference/quant/element.hpp"
#include "reference/quant/layout.hpp"
#include "reference/quant/profile.hpp"
#include "reference/quant/scale_rule.hpp"

namespace ulpgate::quant {

enum class Op : uint8_t { group, token, block, mx, tensor, silu_mul };
std::string_view op_name(Op op);  // "quant.group", ...
Op parse_op(std::string_view name);

struct Spec {
  Op op = Op::group;
  const Profile* profile = nullptr;
  Format format = Format::e4m3fn;
  int gs = 128;              // group size along K (group: 32/64/128; mx: 32; block: 128)
  Layout layout = Layout::row;
  bool ue8m0 = false;        // scales rounded to powers of two (always for mx and ue8m0 layouts)
  int64_t m = 0, k = 0;      // activation [M, K] (for block: weight [N, K]; silu-mul: its output,
                             // the input is [M, 2K], gate then up in each row)
  // quant.tensor: 0 = dynamic (the scale from the tensor's amax), else the static scale given
  // (an input: the kernel writes no scale).
  float static_scale = 0;
  // > 0: each group's amax is first capped here (vLLM's per-token scale_ub: min(amax, ub)).
  float amax_cap = 0;

  int64_t tile_rows() const { return op == Op::block ? 128 : op == Op::tensor ? std::max<int64_t>(m, 1) : 1; }
  int64_t tile_cols() const { return op == Op::token || op == Op::tensor ? k : gs; }
  // A static scale is an input, written by no kernel but TransformerEngine's: its cast takes the
  // multiplier m = fl(1/S) (its `scale`) and writes scale_inv = fl(1/m) (static_writes_inverse).
  bool writes_scales() const { return static_scale == 0 || static_writes_inverse(); }
  bool static_writes_inverse() const { return static_scale != 0 && profile && profile->quant_op == QuantOp::ratio; }
  int64_t input_cols() const { return op == Op::silu_mul ? 2 * k : k; }  // elements per input row
  // Bytes of scale storage the kernel writes (0 for a static scale).
  int64_t scale_bytes() const;
  ScaleShape scale_shape() const;
  float fp8_max() const { return profile->fp8_max(format); }
  bool pow2_scales() const { return ue8m0 || mx_scales() || is_ue8m0_layout(layout); }
  // A block of 32 shares an MX scale (spec/formats.md): quant.mx, and a silu-mul row with an MX rule.
  bool mx_scales() const { return op == Op::mx || (op == Op::silu_mul && profile && profile->mx != MxRule::none); }
  // Empty when the spec is valid, else what is wrong (K not a multiple of gs, ...).
  std::string problem() const;

 private:
  std::string tensor_problem() const;
};

struct Result {
  std::vector<uint8_t> codes;    // [M * K] fp8 codes, row-major
  std::vector<float> scales;     // [scale_shape] fp32 scale values, row-major (logical)
  std::vector<uint8_t> storage;  // scales as stored in spec.layout (with padding)
};

// The profile's arithmetic, step by step in fp32.
Result quantize_profile(const Spec& spec, std::span<const float> x);
// The same with each group's amax taken over amax_of instead of x (quant.silu-mul's SGLang row:
// the scale from the fp32 y, the codes from y as stored).
Result quantize_profile(const Spec& spec, std::span<const float> amax_of, std::span<const float> x);
// Codes of the exact quotient x / s rounded once (same scales, clamp and cast as the profile).
std::vector<uint8_t> quantize_ideal(const Spec& spec, std::span<const float> x,
                                    std::span<const float> scales);

// The profile row of an op: quant.tensor's own rows, else the group kernels' (throws UsageError).
const Profile& profile_for(Op op, std::string_view name);

// The scale one group gets from its amax under the spec's profile (exposed for tests/kernels);
// a static scale whatever the amax.
float group_scale(const Spec& spec, float amax);
using element::amax_of_bits;  // the amax a max over |x|'s fp32 bits stands for
// Each group's (tile's) amax = max |x| under the profile's NaN policy, row-major over scale_shape().
std::vector<float> group_amax(const Spec& spec, std::span<const float> x);

using element::Factor;  // what each element of a group is divided by or multiplied with
bool divides(const Spec& spec);  // every group's Factor divides (power-of-two or divide profiles)
Factor group_factor(const Spec& spec, float amax, float s);
// The values group_scale and group_factor take from the spec and its profile (scale_rule.hpp), for
// the device reference.
element::ScaleRule scale_rule(const Spec& spec);
// The clamp before the cast under the profile's NaN policy (element.hpp).
element::ClampRule clamp_rule(const Profile& p);

// The profile's code of one element x of a group with this amax and stored scale s: what
// quantize_profile computes per element (for comparators that vary x, amax or s).
uint8_t quantize_value(const Spec& spec, float x, float amax, float s);
// The profile's clamp and cast of a quotient q (the last steps of quantize_value).
uint8_t code_of_quotient(const Spec& spec, float q);

// The code of the exact quotient x / s, rounded once with RNE, clamped to +-clamp_max first when
// clamp_max > 0, then cast with `cast`. Needs no multiprecision: s times an fp8 grid point or
// midpoint is exact in fp64.
uint32_t ideal_code(double x, double s, double clamp_max, const Conversion& cast);

// Is a one-code deviation between `a` and `b` explained by the quotient's proven error? True when
// the exact x / s lies within rel_err of the rounding boundary between the two codes.
bool justified_flip(Format f, uint32_t a, uint32_t b, double x, double s, double rel_err);

}  // namespace ulpgate::quant
