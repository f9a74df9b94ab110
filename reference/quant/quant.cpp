#include "reference/quant/quant.hpp"

#include "reference/formats/name_table.hpp"
#include "reference/quant/element.hpp"
#include "reference/parallel.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace ulpgate::quant {
namespace {

constexpr NameTable<Op, 6> kOps{{{{Op::group, "quant.group"},
                                  {Op::token, "quant.token"},
                                  {Op::block, "quant.block"},
                                  {Op::mx, "quant.mx"},
                                  {Op::tensor, "quant.tensor"},
                                  {Op::silu_mul, "quant.silu-mul"}}}};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

using element::ClampRule;

// exp2(ceil(log2 s)) in fp32, with a correctly rounded log2f as the model of the libm call: just
// above a power of two log2 rounds to the integer, so the "ceiling" stays down (R6).
float pow2_by_log2(float s, bool exp_clamp) {
  if (std::isnan(s) || std::isinf(s) || s <= 0) return element::pow2_by_bits(s, exp_clamp);
  const float l = float(std::log2(double(s)));
  int e = int(std::ceil(l));
  if (exp_clamp) e = std::clamp(e, -126, 127);
  return std::ldexp(1.0f, std::max(e, -127));
}

// Clamp (per the profile's NaN policy) then cast: the last two steps of every path.
template <Format F>
uint8_t clamp_and_cast(const Profile& p, float max, float q) {
  return uint8_t(encode<F>(element::clamp(clamp_rule(p), q, max), Conversion{F, p.cast}));
}

// fn(row, scale index, first column, end column) for every group of rows [r0, r1).
template <class Fn>
void for_each_group_in(const Spec& spec, int64_t r0, int64_t r1, Fn&& fn) {
  const int64_t tr = spec.tile_rows(), tc = spec.tile_cols(), g = spec.scale_shape().g;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t gi = 0; gi < g; ++gi) fn(r, (r / tr) * g + gi, gi * tc, std::min(spec.k, (gi + 1) * tc));
}

// Every group, rows split over the cores: for loops in which each group writes only its own
// elements (a 32768 x 7168 case is 2^28 of them). Whole tiles per thread where `whole_tiles`
// (a tile's groups share one result: the amax of a 128 x 128 block).
template <class Fn>
void for_each_group(const Spec& spec, Fn&& fn, bool whole_tiles = false) {
  const int64_t tr = whole_tiles ? spec.tile_rows() : 1, tiles = (spec.m + tr - 1) / tr;
  const int64_t serial = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, spec.k * tr));
  parallel_for_large(tiles, serial, [&](int64_t t0, int64_t t1) {
    for_each_group_in(spec, t0 * tr, std::min(spec.m, t1 * tr), fn);
  });
}

constexpr int32_t kInfBits = 0x7F800000;

// The largest |x| of a run as fp32 bits: |x|'s bit patterns order like its values, so an integer
// max finds it (int32_t: SSE2 vectorizes a signed max, not an unsigned one). NaNs are dropped,
// or kept (their patterns exceed Inf's).
int32_t max_abs_bits(const float* x, int64_t n, bool ignore_nan) {
  int32_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t a = std::bit_cast<int32_t>(x[i]) & 0x7FFFFFFF;
    const int32_t kept = ignore_nan && a > kInfBits ? 0 : a;
    m = kept > m ? kept : m;
  }
  return m;
}


// The generic codes loop: any cast the formats core supports.
template <Format F>
void quantize_codes_generic(const Spec& spec, std::span<const float> x, std::span<const float> amax,
                            std::span<const float> scales, std::span<uint8_t> codes) {
  const Profile& p = *spec.profile;
  const float max = spec.fp8_max();
  for_each_group(spec, [&](int64_t r, int64_t si, int64_t c0, int64_t c1) {
    const Factor f = group_factor(spec, amax[size_t(si)], scales[size_t(si)]);
    for (int64_t c = c0; c < c1; ++c) {
      const size_t i = size_t(r * spec.k + c);
      codes[i] = clamp_and_cast<F>(p, max, f.apply(x[i]));
    }
  });
}

// One run of a group with the quotient step, clamp rule and cast fixed at compile time: no
// branch per element, so the loop vectorizes. The cast is a copy: read through a reference, its
// constants could alias the uint8_t stores and would be reloaded per element.
template <Format F, bool Divide, ClampRule R>
void quantize_run(const float* x, uint8_t* codes, int64_t n, float v, float max, FastRneCast<F> cast) {
  for (int64_t i = 0; i < n; ++i) {
    const float q = Divide ? x[i] / v : x[i] * v;
    codes[i] = uint8_t(cast(element::clamp<R>(q, max)));
  }
}

template <Format F, bool Divide, ClampRule R>
void quantize_groups_fast(const Spec& spec, std::span<const float> x, std::span<const float> amax,
                          std::span<const float> scales, std::span<uint8_t> codes) {
  const float max = spec.fp8_max();
  const FastRneCast<F> cast(spec.profile->cast);
  for_each_group(spec, [&](int64_t r, int64_t si, int64_t c0, int64_t c1) {
    const Factor f = group_factor(spec, amax[size_t(si)], scales[size_t(si)]);
    const size_t i = size_t(r * spec.k + c0);
    quantize_run<F, Divide, R>(&x[i], &codes[i], c1 - c0, f.v, max, cast);
  });
}

template <Format F, bool Divide>
void quantize_groups_fast(const Spec& spec, std::span<const float> x, std::span<const float> amax,
                          std::span<const float> scales, std::span<uint8_t> codes) {
  switch (clamp_rule(*spec.profile)) {
    case ClampRule::none:
      return quantize_groups_fast<F, Divide, ClampRule::none>(spec, x, amax, scales, codes);
    case ClampRule::nan_to_min:
      return quantize_groups_fast<F, Divide, ClampRule::nan_to_min>(spec, x, amax, scales, codes);
    case ClampRule::finite_only:
      return quantize_groups_fast<F, Divide, ClampRule::finite_only>(spec, x, amax, scales, codes);
    case ClampRule::nan_to_max:
      return quantize_groups_fast<F, Divide, ClampRule::nan_to_max>(spec, x, amax, scales, codes);
  }
}

// The fp8 codes of every element: the fast path where the cast has one (every profile today),
// else the generic core.
template <Format F>
void quantize_codes(const Spec& spec, std::span<const float> x, std::span<const float> amax,
                    std::span<const float> scales, std::span<uint8_t> codes) {
  if constexpr (has_fast_rne<F>()) {
    if (has_fast_rne(Conversion{F, spec.profile->cast}))
      return divides(spec) ? quantize_groups_fast<F, true>(spec, x, amax, scales, codes)
                           : quantize_groups_fast<F, false>(spec, x, amax, scales, codes);
  }
  quantize_codes_generic<F>(spec, x, amax, scales, codes);
}

}  // namespace

bool divides(const Spec& spec) {
  return spec.pow2_scales() || spec.profile->quant_op == QuantOp::divide;
}

element::ScaleRule scale_rule(const Spec& spec) {
  const Profile& p = *spec.profile;
  element::ScaleRule r;
  r.max = spec.fp8_max();
  r.amax_floor = p.amax_floor;
  r.scale_floor = p.scale_floor;
  r.fp32_scale_floor = p.fp32_scale_floor;
  r.amax_cap = spec.amax_cap;
  r.static_scale = spec.static_scale;
  r.static_inverse = spec.static_writes_inverse();
  r.pow2 = spec.pow2_scales();
  r.exp_clamp = p.exp_clamp;
  r.divides = divides(spec);
  r.scale_op = p.scale_op;
  r.pow2_rule = p.pow2;
  r.quant_op = p.quant_op;
  r.mx = spec.mx_scales() ? p.mx : MxRule::none;
  r.mx_emax = spec.format == Format::e5m2 ? emax<Format::e5m2>() : emax<Format::e4m3fn>();
  r.mx_mbits = spec.format == Format::e5m2 ? 2 : 3;
  return r;
}

Factor group_factor(const Spec& spec, float amax, float s) { return scale_rule(spec).factor(amax, s); }

element::ClampRule clamp_rule(const Profile& p) {
  if (!p.clamp) return ClampRule::none;
  if (p.nan == NanPolicy::propagate) return ClampRule::finite_only;
  return p.nan_to_max ? ClampRule::nan_to_max : ClampRule::nan_to_min;
}

// amax = max |x| over each group (over each tile for quant.block): fmaxf folding, or with a
// NaN anywhere the canonical NaN under the propagate policy.
std::vector<float> group_amax(const Spec& spec, std::span<const float> x) {
  const ScaleShape ss = spec.scale_shape();
  std::vector<int32_t> bits(size_t(ss.m * ss.g), 0);  // +0.0f
  const bool ignore_nan = spec.profile->nan == NanPolicy::ignore;
  for_each_group(
      spec,
      [&](int64_t r, int64_t si, int64_t c0, int64_t c1) {
        const int32_t run = max_abs_bits(&x[size_t(r * spec.k + c0)], c1 - c0, ignore_nan);
        bits[size_t(si)] = std::max(bits[size_t(si)], run);
      },
      true);
  std::vector<float> amax(bits.size());
  std::transform(bits.begin(), bits.end(), amax.begin(), [](int32_t b) { return amax_of_bits(uint32_t(b)); });
  return amax;
}

std::string_view op_name(Op op) { return kOps.name(op); }

std::string_view mx_rule_name(MxRule r) {
  constexpr std::string_view names[] = {"none", "floor", "rceil", "ceil", "even", "rn"};
  return names[size_t(r)];
}
Op parse_op(std::string_view name) { return kOps.parse(name, "op"); }

ScaleShape Spec::scale_shape() const { return {ceil_div(m, tile_rows()), ceil_div(k, tile_cols())}; }

int64_t Spec::scale_bytes() const { return writes_scales() ? storage_bytes(layout, scale_shape()) : 0; }

const Profile& profile_for(Op op, std::string_view name) {
  if (op == Op::silu_mul) return row_named(silu_mul_profiles(), name, "silu-mul profile");
  return op == Op::tensor ? tensor_profile(name) : profile(name);
}

std::string Spec::problem() const {
  if (!profile) return "no profile";
  if (!profile->supports(format))
    return "profile " + std::string(profile->name) + " does not support " + std::string(format_name(format));
  if (op == Op::mx && profile->mx == MxRule::none) return "profile " + std::string(profile->name) + " is not an MX profile";
  if (op != Op::mx && op != Op::silu_mul && profile->mx != MxRule::none)
    return "profile " + std::string(profile->name) + " is MX-only";
  if (m < 0 || k <= 0) return "shape " + std::to_string(m) + "x" + std::to_string(k) + " is empty";
  const Scope scope = op == Op::tensor ? Scope::tensor : op == Op::silu_mul ? Scope::silu_mul : Scope::group;
  if (scope != profile->scope)
    return "profile " + std::string(profile->name) + " is not a row of " + std::string(op_name(op));
  if (op == Op::tensor) return tensor_problem();
  if (static_scale != 0) return "a static scale needs quant.tensor";
  if (!(amax_cap >= 0) || std::isinf(amax_cap) || (amax_cap > 0 && mx_scales())) return "an amax cap must be finite, not for MX";
  if (op == Op::silu_mul && mx_scales() && gs != 32)
    return "profile " + std::string(profile->name) + " shares a scale over MX blocks of 32, not " + std::to_string(gs);
  if (op != Op::token && gs <= 0) return "group size " + std::to_string(gs) + " is not positive";
  if (op != Op::token && op != Op::block && k % gs != 0)
    return "K = " + std::to_string(k) + " is not a multiple of the group size " + std::to_string(gs);
  if (layout == Layout::token && op != Op::token) return "layout token needs quant.token";
  if (is_ue8m0_layout(layout) && !pow2_scales()) return "layout needs ue8m0 scales";
  return {};
}

std::string Spec::tensor_problem() const {
  if (layout != Layout::row) return "quant.tensor stores its one scale in the row layout";
  if (pow2_scales()) return "quant.tensor has fp32 scales";
  if (!(static_scale >= 0) || std::isinf(static_scale)) return "a static scale must be positive and finite";
  if (static_scale == 0 && profile->fused_only)
    return "profile " + std::string(profile->name) + " is a fused kernel's static quantizer: it has no dynamic form";
  return {};
}

namespace {
// The scale under the rule, with the host's log2 for the rule that takes it.
float scale_of(const element::ScaleRule& rule, float amax) {
  bool rounds = false;
  const float s = rule.scale_unrounded(amax, rounds);
  if (!rounds) return s;
  return rule.pow2_rule == Pow2Rule::exponent_bits ? element::pow2_by_bits(s, rule.exp_clamp)
                                                  : pow2_by_log2(s, rule.exp_clamp);
}
}  // namespace

float group_scale(const Spec& spec, float amax) { return scale_of(scale_rule(spec), amax); }

Result quantize_profile(const Spec& spec, std::span<const float> x) { return quantize_profile(spec, x, x); }

Result quantize_profile(const Spec& spec, std::span<const float> amax_of, std::span<const float> x) {
  Result r;
  const std::vector<float> amax = group_amax(spec, amax_of);
  r.scales.resize(amax.size());
  const element::ScaleRule rule = scale_rule(spec);
  std::transform(amax.begin(), amax.end(), r.scales.begin(), [&](float a) { return scale_of(rule, a); });
  r.codes.resize(size_t(spec.m * spec.k));
  dispatch(spec.format, [&](auto f) {
    if constexpr (info_of<decltype(f)::value>().bits == 8)
      quantize_codes<decltype(f)::value>(spec, x, amax, r.scales, r.codes);
  });
  if (spec.writes_scales()) r.storage = pack(spec.layout, spec.scale_shape(), r.scales);
  return r;
}

uint8_t quantize_value(const Spec& spec, float x, float amax, float s) {
  return code_of_quotient(spec, group_factor(spec, amax, s).apply(x));
}

uint8_t code_of_quotient(const Spec& spec, float q) {
  return dispatch(spec.format, [&](auto f) -> uint8_t {
    if constexpr (info_of<decltype(f)::value>().bits == 8)
      return clamp_and_cast<decltype(f)::value>(*spec.profile, spec.fp8_max(), q);
    return 0;
  });
}

uint32_t ideal_code(double x, double s, double clamp_max, const Conversion& cast) {
  return dispatch(cast.format, [&](auto f) -> uint32_t {
    constexpr Format F = decltype(f)::value;
    if constexpr (has_fast_rne<F>()) {  // the fp8 formats
      if (has_fast_rne(cast))  // every profile's cast: the steps the device reference runs too
        return element::ideal_code(x, s, clamp_max, FastRneCast<F>(cast.overflow));
      return encode<F>(element::ideal_value<F>(x, s, clamp_max), cast);
    }
    throw UsageError("ideal_code: " + std::string(format_name(F)) + " is not an fp8 format");
  });
}

std::vector<uint8_t> quantize_ideal(const Spec& spec, std::span<const float> x, std::span<const float> scales) {
  const Profile& p = *spec.profile;
  const float max = spec.fp8_max();
  const Conversion cast{spec.format, p.cast};
  std::vector<uint8_t> codes(size_t(spec.m * spec.k));
  for_each_group(spec, [&](int64_t r, int64_t si, int64_t c0, int64_t c1) {
    const float s = scales[size_t(si)];
    for (int64_t c = c0; c < c1; ++c) {
      const size_t i = size_t(r * spec.k + c);
      if (std::isfinite(x[i]) && std::isfinite(s) && s > 0)
        codes[i] = uint8_t(ideal_code(x[i], s, p.clamp ? max : 0, cast));
      else  // non-finite operands: IEEE division is exact here, so the profile's steps are ideal
        codes[i] = dispatch(spec.format, [&](auto f) -> uint8_t {
          if constexpr (info_of<decltype(f)::value>().bits == 8)
            return clamp_and_cast<decltype(f)::value>(p, max, x[i] / s);
          return 0;
        });
    }
  });
  return codes;
}

bool justified_flip(Format f, uint32_t a, uint32_t b, double x, double s, double rel_err) {
  const auto d = ulp_distance(f, a, b);
  if (!d || *d != 1 || is_nan(f, a) || is_nan(f, b)) return false;
  const double va = decode(f, a), vb = decode(f, b);
  if (!std::isfinite(va) || !std::isfinite(vb)) return false;
  const double boundary = s * ((va + vb) / 2);  // exact
  return std::fabs(x - boundary) <= rel_err * std::fabs(boundary);
}

}  // namespace ulpgate::quant
