#include "harness/quant/quant_case.hpp"

#include <tuple>

#include "harness/core/id_text.hpp"
#include "reference/quant/silu.hpp"

namespace ulpgate::quant {
using namespace id_text;

namespace {

// quant.tensor's group segment: "dynamic", or "static=S".
std::string tensor_segment(float static_scale) {
  return static_scale == 0 ? "dynamic" : "static=" + float_text(static_scale);
}

float parse_tensor_segment(std::string_view seg, std::string_view id) {
  if (seg == "dynamic") return 0;
  return parse_positive_float(strip_prefix(seg, "static=", "dynamic or static=SCALE", id), "static scale", id);
}

}  // namespace

std::string Case::id() const {
  std::string scales(layout_name(spec.layout));
  if (spec.ue8m0 && !is_ue8m0_layout(spec.layout) && !spec.mx_scales()) scales += ".ue8m0";
  return std::string(op_name(spec.op)) + "/" + std::string(spec.profile->name) + "/" +
         std::string(format_name(spec.format)) + "/" + std::string(format_name(input)) + "/" +
         std::to_string(spec.m) + "x" + std::to_string(spec.k) + "/" +
         (spec.op == Op::tensor ? tensor_segment(spec.static_scale) : "gs" + std::to_string(spec.gs)) + "/" + scales + "/" + dist.str() + "/s" + std::to_string(seed);
}

Case Case::parse(std::string_view id) {
  const auto seg = split(id, '/');
  if (seg.size() != 9)
    throw UsageError("case '" + std::string(id) +
                     "': expected 9 segments op/profile/format/input/MxK/gsN/scales/distribution/sN, got " +
                     std::to_string(seg.size()));
  Case c;
  c.spec.op = parse_op(seg[0]);
  c.spec.profile = &profile_for(c.spec.op, seg[1]);
  c.spec.format = parse_format(seg[2]);
  c.input = parse_format(seg[3]);
  if (c.input != Format::bf16 && c.input != Format::fp16 && c.input != Format::fp32)
    throw UsageError("case '" + std::string(id) + "': input must be bf16, fp16 or fp32");
  std::tie(c.spec.m, c.spec.k) = parse_shape(seg[4], id);
  if (c.spec.op == Op::tensor)
    c.spec.static_scale = parse_tensor_segment(seg[5], id);
  else
    c.spec.gs = parse_group_size(seg[5], id);
  std::string_view scales = seg[6];
  if (scales.ends_with(".ue8m0")) {
    c.spec.ue8m0 = true;
    scales.remove_suffix(6);
  }
  c.spec.layout = parse_layout(scales);
  c.spec.ue8m0 = c.spec.ue8m0 || is_ue8m0_layout(c.spec.layout) || c.spec.mx_scales();
  c.dist = Distribution::parse(seg[7]);
  c.seed = uint64_t(parse_int(strip_prefix(seg[8], "s", "seed", id), "seed", id));
  if (const std::string p = c.spec.problem(); !p.empty())
    throw UsageError("case '" + std::string(id) + "': " + p);
  return c;
}

Inputs Case::raw_inputs() const { return {fill_raw(size_t(spec.m * spec.input_cols()), dist, Rng(id(), seed), input), {}}; }

InputRows Case::input_rows() const {
  const int64_t cols = spec.input_cols();
  return {spec.m, size_t(cols) * (input == Format::fp32 ? 4 : 2),
          [d = dist, rng = Rng(id(), seed), in = input, cols](int64_t row0, int64_t, std::span<std::byte> out) {
            fill_raw_at(out, d, rng, uint64_t(row0 * cols), in);  // out holds the rows to row1
          }};
}

Inputs Case::inputs() const {
  Inputs in = raw_inputs();
  in.values = widened(in.raw, input);
  return in;
}

Expected expected(const Case& c, const Inputs& in) {
  Expected e;
  if (c.spec.op == Op::silu_mul) {
    e.y = silu_mul_values(c.spec, in.values);
    e.profile = silu_mul_quantized(c.spec, c.input, e.y);
    e.ideal = silu_mul_ideal(c.spec, in.values, e.profile.scales);
    return e;
  }
  e.profile = quantize_profile(c.spec, in.values);
  e.ideal = quantize_ideal(c.spec, in.values, e.profile.scales);
  return e;
}

}  // namespace ulpgate::quant
