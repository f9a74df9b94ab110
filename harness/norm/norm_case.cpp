#include "harness/norm/norm_case.hpp"

#include <tuple>

#include "harness/core/id_text.hpp"

namespace ulpgate::norm {
using namespace id_text;

namespace {

// The quantizer's segments of an rms-quant id: "e4m3fn/token", "e4m3fn/token.ub=10" (vLLM's
// scale_ub), "e4m3fn/static=0.0123" (a static per-tensor scale) or "e4m3fn/gs128/row.ue8m0".
std::string quant_segments(const Spec& s) {
  std::string out = std::string(format_name(s.format)) + "/";
  if (s.static_scale != 0) return out + "static=" + float_text(s.static_scale);
  if (s.gs == 0) return out + "token" + (s.scale_ub != 0 ? ".ub=" + float_text(s.scale_ub) : "");
  std::string scales(quant::layout_name(s.layout));
  if (s.ue8m0 && !quant::is_ue8m0_layout(s.layout)) scales += ".ue8m0";
  return out + "gs" + std::to_string(s.gs) + "/" + scales;
}

// The id without its profile: what the inputs are keyed on.
std::string input_key(const Case& c) {
  const Spec& s = c.spec;
  std::string key = std::string(op_name(s.op)) + "/" + std::string(format_name(s.dtype)) + "/" +
                    std::to_string(s.m) + "x" + std::to_string(s.h) + "/";
  if (s.quantizes()) key += quant_segments(s) + "/";
  return key + c.dist.str();
}

}  // namespace

std::string Case::id() const {
  std::string out = std::string(op_name(spec.op)) + "/" + std::string(spec.profile->name) + "/" +
                    std::string(format_name(spec.dtype)) + "/" + std::to_string(spec.m) + "x" + std::to_string(spec.h) + "/";
  if (spec.quantizes()) out += quant_segments(spec) + "/";
  return out + dist.str() + "/s" + std::to_string(seed);
}

Case Case::parse(std::string_view id) {
  const auto seg = split(id, '/');
  Case c;
  c.spec.op = parse_op(seg[0]);
  // One quantizer segment after the format (token, token.ub=S, static=S), or gsN/scales.
  const bool one_segment = c.spec.quantizes() && seg.size() > 5 &&
                           (seg[5] == "token" || seg[5].starts_with("token.ub=") || seg[5].starts_with("static="));
  const size_t want = !c.spec.quantizes() ? 6 : one_segment ? 8 : 9;
  if (seg.size() != want)
    throw UsageError("case '" + std::string(id) + "': expected " + std::to_string(want) + " segments " +
                     (!c.spec.quantizes() ? "op/profile/dtype/MxH/distribution/sN"
                      : one_segment       ? "op/profile/dtype/MxH/format/{token,token.ub=S,static=S}/distribution/sN"
                                          : "op/profile/dtype/MxH/format/gsN/scales/distribution/sN") +
                     ", got " + std::to_string(seg.size()));
  c.spec.profile = &profile(seg[1]);
  c.spec.dtype = parse_format(seg[2]);
  std::tie(c.spec.m, c.spec.h) = parse_shape(seg[3], id);
  size_t next = 4;
  if (c.spec.quantizes()) {
    c.spec.format = parse_format(seg[next++]);
    if (one_segment) {
      const std::string_view q = seg[next++];
      c.spec.gs = 0;
      c.spec.layout = quant::Layout::token;
      if (q.starts_with("static="))
        c.spec.static_scale = parse_positive_float(q.substr(7), "static scale", id);
      else if (q != "token")
        c.spec.scale_ub = parse_positive_float(q.substr(9), "scale_ub", id);
    } else {
      c.spec.gs = parse_group_size(seg[next++], id);
      std::string_view scales = seg[next++];
      if (scales.ends_with(".ue8m0")) {
        c.spec.ue8m0 = true;
        scales.remove_suffix(6);
      }
      c.spec.layout = quant::parse_layout(scales);
      c.spec.ue8m0 = c.spec.ue8m0 || quant::is_ue8m0_layout(c.spec.layout);
    }
  }
  c.dist = Distribution::parse(seg[next++]);
  c.seed = uint64_t(parse_int(strip_prefix(seg[next], "s", "seed", id), "seed", id));
  if (const std::string p = c.spec.problem(); !p.empty()) throw UsageError("case '" + std::string(id) + "': " + p);
  return c;
}

RowInputs Case::input_rows() const {
  const Rng rng(input_key(*this), seed);
  RawTensor w = fill_tensor(size_t(spec.h), Distribution::parse(kWeightDistribution), rng.stream(2), spec.dtype);
  const auto rows = [&](uint64_t stream, bool has) {
    return InputRows{has ? spec.m : 0, size_t(spec.h) * 2,
                     [d = dist, r = rng.stream(stream), t = spec.dtype, h = spec.h](int64_t row0, int64_t, std::span<std::byte> out) {
                       fill_raw_at(out, d, r, uint64_t(row0 * h), t);  // out holds the rows to row1
                     }};
  };
  return {rows(1, true), rows(3, spec.has_residual()), std::move(w.raw), std::move(w.values)};
}

Tensors RowInputs::whole() const {
  const auto all = [](const InputRows& rows) {
    std::vector<std::byte> t(size_t(rows.m) * rows.row_bytes);
    rows.fill(0, rows.m, t);
    return t;
  };
  return {all(x), all(residual), weight, {{}, {}, weight_values}};
}

Tensors Case::raw_inputs() const {
  const Rng rng(input_key(*this), seed);
  const size_t n = size_t(spec.m * spec.h);
  RawTensor w = fill_tensor(size_t(spec.h), Distribution::parse(kWeightDistribution), rng.stream(2), spec.dtype);
  Tensors t{fill_raw(n, dist, rng.stream(1), spec.dtype), {}, std::move(w.raw), {{}, {}, std::move(w.values)}};
  if (spec.has_residual()) t.residual = fill_raw(n, dist, rng.stream(3), spec.dtype);
  return t;
}

Tensors Case::inputs() const {
  Tensors t = raw_inputs();
  t.values.x = widened(t.x, spec.dtype);
  t.values.residual = widened(t.residual, spec.dtype);
  return t;
}

Expected expected(const Case& c, const Inputs& in) {
  Expected e;
  e.profile = normalize_profile(c.spec, in);
  e.ideal = normalize_ideal(c.spec, in, e.profile);
  return e;
}

}  // namespace ulpgate::norm
