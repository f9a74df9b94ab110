#include "harness/quant/quant_case.hpp"

#include <charconv>
#include <cstring>

namespace ulpgate::quant {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

int64_t parse_int(std::string_view text, std::string_view what, std::string_view id) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0)
    throw UsageError("case '" + std::string(id) + "': bad " + std::string(what) + " '" +
                     std::string(text) + "' (expected a non-negative integer)");
  return v;
}

std::string_view strip_prefix(std::string_view s, std::string_view prefix, std::string_view what,
                              std::string_view id) {
  if (s.substr(0, prefix.size()) != prefix)
    throw UsageError("case '" + std::string(id) + "': " + std::string(what) + " segment '" +
                     std::string(s) + "' must start with '" + std::string(prefix) + "'");
  return s.substr(prefix.size());
}

}  // namespace

std::string Case::id() const {
  std::string scales(layout_name(spec.layout));
  if (spec.ue8m0 && !is_ue8m0_layout(spec.layout) && spec.op != Op::mx) scales += ".ue8m0";
  return std::string(op_name(spec.op)) + "/" + std::string(spec.profile->name) + "/" +
         std::string(format_name(spec.format)) + "/" + std::string(format_name(input)) + "/" +
         std::to_string(spec.m) + "x" + std::to_string(spec.k) + "/gs" + std::to_string(spec.gs) +
         "/" + scales + "/" + dist.str() + "/s" + std::to_string(seed);
}

Case Case::parse(std::string_view id) {
  const auto seg = split(id, '/');
  if (seg.size() != 9)
    throw UsageError("case '" + std::string(id) +
                     "': expected 9 segments op/profile/format/input/MxK/gsN/scales/distribution/sN, got " +
                     std::to_string(seg.size()));
  Case c;
  c.spec.op = parse_op(seg[0]);
  c.spec.profile = &profile(seg[1]);
  c.spec.format = parse_format(seg[2]);
  c.input = parse_format(seg[3]);
  if (c.input != Format::bf16 && c.input != Format::fp16 && c.input != Format::fp32)
    throw UsageError("case '" + std::string(id) + "': input must be bf16, fp16 or fp32");
  const auto mk = split(seg[4], 'x');
  if (mk.size() != 2) throw UsageError("case '" + std::string(id) + "': shape '" + std::string(seg[4]) + "' is not MxK");
  c.spec.m = parse_int(mk[0], "M", id);
  c.spec.k = parse_int(mk[1], "K", id);
  c.spec.gs = int(parse_int(strip_prefix(seg[5], "gs", "group", id), "group size", id));
  std::string_view scales = seg[6];
  if (scales.ends_with(".ue8m0")) {
    c.spec.ue8m0 = true;
    scales.remove_suffix(6);
  }
  c.spec.layout = parse_layout(scales);
  c.spec.ue8m0 = c.spec.ue8m0 || is_ue8m0_layout(c.spec.layout) || c.spec.op == Op::mx;
  c.dist = Distribution::parse(seg[7]);
  c.seed = uint64_t(parse_int(strip_prefix(seg[8], "s", "seed", id), "seed", id));
  if (const std::string p = c.spec.problem(); !p.empty())
    throw UsageError("case '" + std::string(id) + "': " + p);
  return c;
}

Inputs Case::inputs() const {
  const size_t n = size_t(spec.m * spec.k);
  const Rng rng(id(), seed);
  Inputs in;
  in.values.resize(n);
  fill(in.values, dist, rng, 0, input);
  const int width = input == Format::fp32 ? 4 : 2;
  in.raw.resize(n * size_t(width));
  for (size_t i = 0; i < n; ++i) {
    if (width == 4) {
      std::memcpy(&in.raw[4 * i], &in.values[i], 4);
      continue;
    }
    // Round to the input dtype, then widen back exactly: values[] is what the kernel reads.
    const uint16_t h = input == Format::bf16 ? float_to_bf16(in.values[i]) : float_to_fp16(in.values[i]);
    in.values[i] = input == Format::bf16 ? bf16_to_float(h) : fp16_to_float(h);
    std::memcpy(&in.raw[2 * i], &h, 2);
  }
  return in;
}

Expected expected(const Case& c, const Inputs& in) {
  Expected e;
  e.profile = quantize_profile(c.spec, in.values);
  e.ideal = quantize_ideal(c.spec, in.values, e.profile.scales);
  return e;
}

}  // namespace ulpgate::quant
