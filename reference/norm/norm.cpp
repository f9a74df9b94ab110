#include "reference/norm/norm.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>

#include <boost/multiprecision/cpp_bin_float.hpp>

#include "reference/formats/name_table.hpp"
#include "reference/parallel.hpp"

namespace ulpgate::norm {
namespace {

namespace mp = boost::multiprecision;
// Wide enough to hold every exact value compared below without rounding (see IdealRow).
using Exact = mp::number<mp::cpp_bin_float<1024, mp::digit_base_2>>;

constexpr NameTable<Op, 4> kOps{{{{Op::rms, "norm.rms"},
                                  {Op::rms_add, "norm.rms-add"},
                                  {Op::rms_quant, "norm.rms-quant"},
                                  {Op::rms_add_quant, "norm.rms-add-quant"}}}};

using element::round_to;
using element::widen;

}  // namespace

// ---- r ----------------------------------------------------------------------------------------

row_r::Rule r_rule(const Profile& p) { return {p.mean == MeanOp::divide, p.eps_added}; }

float profile_r(const Profile& p, const ExactSum& s, int64_t h) { return row_r::profile_r(r_rule(p), s, h); }

IdealRow::IdealRow(const ExactSum& squares, const Profile& p, int64_t h) : d_(squares), h_(h) {
  d_.add_scaled(p.eps_added, h);
  r_ = row_r::ideal_r(d_, h);
}

int IdealRow::compare(float z, float w, double b) const {
  const Exact zz = Exact(z) * Exact(z), ww = Exact(w) * Exact(w);
  const Exact lhs = zz * ww * Exact(h_), rhs = Exact(b) * Exact(b) * d_.value<Exact>();
  return lhs > rhs ? 1 : lhs < rhs ? -1 : 0;
}

uint16_t IdealRow::y(Format dt, float z, float w) const {
  const uint32_t fast = element::ideal_y(dt, z, w, r_, 0x1p-40);
  if (fast != element::kNearBoundary) return uint16_t(fast);
  const auto t_code = [dt](double x) { return uint32_t(round_to(dt, x)); };
  const auto t_boundary = [dt](uint32_t a, uint32_t b) {
    const double va = decode(dt, a), vb = decode(dt, b);
    return std::isinf(vb) ? va + (va - decode(dt, a - 1)) / 2 : (va + vb) / 2;  // max -> Inf at max + ulp/2
  };
  return uint16_t(code(double(z) * r_ * double(w), z, w, t_code, t_boundary));
}

namespace {

// ---- checks -------------------------------------------------------------------------------------

bool valid_group_layout(quant::Layout l) {
  using enum quant::Layout;
  return l == row || l == col || l == col_tma || l == ue8m0_packed;
}

void check(const Spec& spec, const Inputs& in) {
  if (const std::string p = spec.problem(); !p.empty()) throw UsageError(std::string(op_name(spec.op)) + ": " + p);
  const size_t n = size_t(spec.m * spec.h);
  if (in.x.size() != n || in.weight.size() != size_t(spec.h) || (spec.has_residual() && in.residual.size() != n))
    throw UsageError(std::string(op_name(spec.op)) + ": input sizes do not match the shape " +
                     std::to_string(spec.m) + "x" + std::to_string(spec.h));
}

// fn(row, its z, their exact sum of squares) for every row, rows split over the cores (fn writes
// only its row's outputs).
template <class Fn>
void for_each_row(const Spec& spec, const Inputs& in, Fn&& fn) {
  const int64_t serial = std::max<int64_t>(1, (int64_t(1) << 15) / spec.h);
  const element::Steps steps = spec.steps();  // once, not an out-of-line call an element
  parallel_for_large(spec.m, serial, [&](int64_t r0, int64_t r1) {
    std::vector<float> z(size_t(spec.h));
    for (int64_t row = r0; row < r1; ++row) {
      ExactSum s;
      for (int64_t i = 0; i < spec.h; ++i) {
        const auto at = size_t(row * spec.h + i);
        z[size_t(i)] = element::z_of(steps, in.x[at], steps.has_residual ? in.residual[at] : 0.0f);
        s.add_square(z[size_t(i)]);
      }
      fn(row, std::span<const float>(z), s);
    }
  });
}

// Codes between two codes of a format (inclusive, ascending magnitude): values of one sign.
std::vector<uint16_t> codes_between(Format f, uint16_t a, uint16_t b) {
  if (a == b || is_nan(f, a) || is_nan(f, b)) return {a};
  const uint16_t sign = uint16_t(1u << (info(f).bits - 1)), ma = a & ~sign, mb = b & ~sign;
  std::vector<uint16_t> out;
  for (uint32_t m = std::min(ma, mb); m <= std::max(ma, mb); ++m) out.push_back(uint16_t(m | (a & sign)));
  if (a & sign) std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

std::string_view op_name(Op op) { return kOps.name(op); }
Op parse_op(std::string_view name) { return kOps.parse(name, "op"); }

bool Spec::rounds_residual() const {
  const bool fp32_z = quantizes() && static_scale == 0 && profile->dynamic_quant_z_fp32;
  return has_residual() && profile->round_residual && !fp32_z;
}

quant::Profile Spec::quant_row() const { return profile->quant_profile(static_scale != 0, gs != 0); }

quant::Spec Spec::quant_spec(const quant::Profile& qp) const {
  quant::Spec q;
  q.op = static_scale != 0 ? quant::Op::tensor : gs == 0 ? quant::Op::token : quant::Op::group;
  q.profile = &qp;
  q.format = format;
  q.gs = gs;
  q.layout = static_scale != 0 ? quant::Layout::row : layout;
  q.ue8m0 = ue8m0;
  q.m = m;
  q.k = h;
  q.static_scale = static_scale;
  q.amax_cap = scale_ub;
  return q;
}

std::string Spec::problem() const {
  if (!profile) return "no profile";
  if (dtype != Format::bf16 && dtype != Format::fp16)
    return "dtype " + std::string(format_name(dtype)) + " is not supported (bf16, fp16)";
  if (m < 0 || h <= 0) return "shape " + std::to_string(m) + "x" + std::to_string(h) + " is empty";
  if (!quantizes()) return {};
  if (!profile->quantizes()) return "profile " + std::string(profile->name) + " has no fused quantization";
  if (!(static_scale >= 0) || !(scale_ub >= 0) || std::isinf(static_scale) || std::isinf(scale_ub))
    return "static scale and scale_ub must be positive and finite";
  if (scale_ub != 0 && (gs != 0 || static_scale != 0)) return "scale_ub caps a per-token amax: it needs per-token scales";
  if (static_scale != 0) {
    if (gs != 0) return "a static scale is per tensor: it has no group size";
    const auto rows = quant::tensor_profiles();
    if (std::none_of(rows.begin(), rows.end(), [&](const quant::Profile& r) { return r.name == profile->static_row(); }))
      return "profile " + std::string(profile->name) + " has no static per-tensor quantization";
    const quant::Profile qp = quant_row();
    return quant_spec(qp).problem();
  }
  if (gs != 0 && gs != 64 && gs != 128) return "group size " + std::to_string(gs) + " is not 0 (per token), 64 or 128";
  if (gs == 0 && layout != quant::Layout::token) return "per-token scales (gs 0) need layout token";
  if (gs != 0 && !valid_group_layout(layout))
    return "layout " + std::string(quant::layout_name(layout)) + " is not a group layout (row, col, col-tma, ue8m0-packed)";
  if (gs != 0 && h % gs != 0)
    return "H = " + std::to_string(h) + " is not a multiple of the group size " + std::to_string(gs);
  const quant::Profile qp = quant_row();
  return quant_spec(qp).problem();
}

element::Steps Spec::steps() const {
  return {dtype, profile->rounding == Rounding::twice, has_residual(), rounds_residual(), profile->quantize_rounded};
}

float profile_z(const Spec& spec, const Inputs& in, size_t i) {
  return element::z_of(spec.steps(), in.x[i], spec.has_residual() ? in.residual[i] : 0.0f);
}

Element normalize_element(const Spec& spec, float x, float residual, float w, float r) {
  const float z = element::z_of(spec.steps(), x, residual);
  return {output_at(spec, z, w, r), normalized_at(spec, z, w, r)};
}

uint16_t output_at(const Spec& spec, float z, float w, float r) { return element::output_at(spec.steps(), z, w, r); }

float normalized_at(const Spec& spec, float z, float w, float r) { return element::quantizer_input(spec.steps(), z, w, r); }

Result normalize_profile(const Spec& spec, const Inputs& in) {
  check(spec, in);
  const size_t n = size_t(spec.m * spec.h);
  const element::Steps steps = spec.steps();
  Result res;
  res.r.resize(size_t(spec.m));
  if (!spec.quantizes()) res.y.resize(n);
  if (spec.has_residual()) {
    res.residual.resize(n);
    parallel_for_each(int64_t(n), int64_t(1) << 16, [&](int64_t i) {
      res.residual[size_t(i)] = element::residual_out(steps, in.x[size_t(i)], in.residual[size_t(i)]);
    });
  }
  std::vector<float>& quantizer_input = res.v;
  quantizer_input.resize(spec.quantizes() ? n : 0);
  for_each_row(spec, in, [&](int64_t row, std::span<const float> z, const ExactSum& s) {
    const float r = profile_r(*spec.profile, s, spec.h);
    res.r[size_t(row)] = r;
    for (int64_t i = 0; i < spec.h; ++i) {
      const size_t at = size_t(row * spec.h + i);
      const float zi = z[size_t(i)], wi = in.weight[size_t(i)];
      if (spec.quantizes()) quantizer_input[at] = element::quantizer_input(steps, zi, wi, r);
      else res.y[at] = element::output_at(steps, zi, wi, r);
    }
  });
  if (spec.quantizes()) {
    const quant::Profile qp = spec.quant_row();
    res.quant = quant::quantize_profile(spec.quant_spec(qp), quantizer_input);
  }
  return res;
}

namespace {

// The code quant's ideal rounding gives a non-finite value or scale (IEEE division is exact
// there, so quant::quantize_ideal's own steps are ideal): one element through it.
uint8_t nonfinite_code(const quant::Spec& qs, float x, float s) {
  quant::Spec one = qs;
  one.op = quant::Op::token;
  one.m = one.k = 1;
  one.gs = 0;
  one.layout = quant::Layout::token;
  return quant::quantize_ideal(one, std::span<const float>(&x, 1), std::span<const float>(&s, 1))[0];
}

}  // namespace

Ideal normalize_ideal(const Spec& spec, const Inputs& in, const Result& profile_result) {
  check(spec, in);
  const size_t n = size_t(spec.m * spec.h);
  const Profile& p = *spec.profile;
  Ideal id;
  id.r.resize(size_t(spec.m));
  id.exact.resize(n);
  if (spec.quantizes()) id.codes.resize(n);
  else id.y.resize(n);

  std::optional<quant::Profile> qp;
  quant::Spec qs;
  if (spec.quantizes()) {
    qp = spec.quant_row();
    qs = spec.quant_spec(*qp);
  }
  for_each_row(spec, in, [&](int64_t row, std::span<const float> z, const ExactSum& squares) {
    const IdealRow er(squares, p, spec.h);
    id.r[size_t(row)] = er.r();
    for (int64_t i = 0; i < spec.h; ++i) {
      const size_t at = size_t(row * spec.h + i);
      const float zi = z[size_t(i)], wi = in.weight[size_t(i)];
      const double v = double(zi) * er.r() * double(wi);  // relative error < 2^-51: see Ideal::exact
      id.exact[at] = v;
      if (!spec.quantizes()) {
        id.y[at] = er.y(spec.dtype, zi, wi);
        continue;
      }
      const quant::ScaleShape ss = qs.scale_shape();
      const float s = profile_result.quant.scales[size_t(row / qs.tile_rows() * ss.g + i / qs.tile_cols())];
      if (!std::isfinite(v) || !std::isfinite(s) || !(s > 0)) {
        id.codes[at] = nonfinite_code(qs, float(v), s);
        continue;
      }
      const double clamp = qp->clamp ? double(qs.fp8_max()) : 0.0;
      const Conversion cast{spec.format, qp->cast};
      const auto q_code = [&](double x) { return quant::ideal_code(x, s, clamp, cast); };
      const auto q_boundary = [&](uint32_t a, uint32_t b) {
        return double(s) * ((decode(spec.format, a) + decode(spec.format, b)) / 2);  // exact
      };
      id.codes[at] = uint8_t(er.code(v, zi, wi, q_code, q_boundary));
    }
  });
  return id;
}

// ---- the comparator's bounds --------------------------------------------------------------------

// Derivation (u = 2^-24; S the exact sum of the squares, all >= 0; v = S / H + eps):
// - Summation: a tree whose longest leaf-to-root path has `depth` roundings gives
//   S' = S (1 + t), |t| <= gamma = depth u / (1 - depth u) (Higham, Accuracy and Stability of
//   Numerical Algorithms, 2nd ed., eq. 4.4 with nonnegative terms: sum |x_i| = S).
// - The mean: fl(S' / H) one rounding, fl(S' * fl(1/H)) two; none when H is a power of two.
//   + eps: one rounding. As every term is >= 0, v' = v (1 + e) with |e| <= (1 + gamma)(1 + u)^k - 1.
// - Underflow: subnormal steps add absolute errors <= 2^-150 each (sums are then exact); at most
//   (H + depth) / H + 1 <= 4 of them per unit of v after the division, relative to v >= eps:
//   2^-148 / eps.
// - r = v'^(-1/2): (1 - e)^(-1/2) - 1 <= e / (2 (1 - e)) (the worse side).
// - rsqrt: k ulps, and ulp(r) <= 2^-23 r: a factor (1 + k 2^-23) (k = 1/2: correctly rounded).
// The double evaluation of this formula rounds a few times; the final factor (1 + 2^-40) covers it.
double r_rel_error_bound(const Profile& p, int64_t h, int64_t depth) {
  const double u = 0x1p-24, d = double(depth);
  const double gamma = d * u / (1 - d * u);
  const bool pow2 = h > 0 && (h & (h - 1)) == 0;
  const int mean_roundings = pow2 ? 0 : p.mean == MeanOp::divide ? 1 : 2;
  const double e = (1 + gamma) * std::pow(1 + u, mean_roundings + 1) - 1 + 0x1p-148 / p.eps_added;
  const double r_err = e / (2 * (1 - e));
  const double rsqrt_err = rsqrt_ulps(p.rsqrt) * 0x1p-23;
  return ((1 + r_err) * (1 + rsqrt_err) - 1) * (1 + 0x1p-40);
}

RRange admissible_r(double exact_r, double rel) {
  if (!std::isfinite(exact_r) || exact_r == 0) return {float(exact_r), float(exact_r)};
  const double lo = exact_r * (1 - rel), hi = exact_r * (1 + rel);
  float flo = float(lo), fhi = float(hi);
  if (double(flo) < lo) flo = std::nextafter(flo, HUGE_VALF);
  if (double(fhi) > hi) fhi = std::nextafter(fhi, 0.0f);
  return {flo, fhi};
}

// Each step is monotone in r (r > 0; z, w fixed), so the outputs over [lo, hi] are bounded by the
// two ends. No T value between them is skipped by a rounding to T of an fp32 product: one step
// of r moves fl(z r) by at most 3 fp32 ulps, and a rounding interval of T spans >= 2^13 of them.
std::vector<uint16_t> admissible_y(const Spec& spec, float z, float w, RRange r) {
  const Format dt = spec.dtype;
  if (spec.profile->rounding == Rounding::once)
    return codes_between(dt, output_at(spec, z, w, r.lo), output_at(spec, z, w, r.hi));
  std::vector<uint16_t> out;
  for (uint16_t b : codes_between(dt, round_to(dt, z * r.lo), round_to(dt, z * r.hi))) {
    const uint16_t y = round_to(dt, double(widen(dt, b)) * double(w));
    if (out.empty() || out.back() != y) out.push_back(y);  // monotone: equal codes are adjacent
  }
  return out;
}

bool Admissible::contains(float v) const {
  if (values.empty()) return lo <= v && v <= hi;
  return std::find(values.begin(), values.end(), v) != values.end();
}

Admissible admissible_normalized(const Spec& spec, float z, float w, RRange r) {
  Admissible a;
  if (spec.profile->quantize_rounded) {
    for (uint16_t y : admissible_y(spec, z, w, r)) a.values.push_back(widen(spec.dtype, y));
    std::sort(a.values.begin(), a.values.end());
    a.lo = a.values.front();
    a.hi = a.values.back();
    return a;
  }
  const float x = normalized_at(spec, z, w, r.lo), y = normalized_at(spec, z, w, r.hi);
  a.lo = std::min(x, y);
  a.hi = std::max(x, y);
  return a;
}

}  // namespace ulpgate::norm
