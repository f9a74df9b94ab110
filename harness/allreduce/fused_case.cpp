#include "harness/allreduce/fused_case.hpp"

#include <algorithm>

#include "harness/core/id_text.hpp"

namespace ulpgate::allreduce {
using namespace id_text;

namespace {

constexpr std::string_view kSegments = "op/variant/wN/dtype/MxH/w.{bf16,fp16,fp32}/[format/quantizer/]distribution/sN";

[[noreturn]] void bad(std::string_view id, std::string_view what) {
  throw UsageError("case '" + std::string(id) + "': " + std::string(what));
}

norm::Op norm_op(std::string_view fused_op) {
  return fused_op == kFusedOps[0] ? norm::Op::rms_add : norm::Op::rms_add_quant;
}

std::string weight_segment(const norm::Spec& s) {
  return "w." + std::string(format_name(s.fp32_weight ? Format::fp32 : s.dtype));
}

// The norm id's segments after its shape: [format/quantizer/]distribution/sN.
std::string norm_tail(const norm::Case& c) {
  const std::string id = c.id();
  size_t at = 0;
  for (int i = 0; i < 4; ++i) at = id.find('/', at) + 1;
  return id.substr(at);
}

}  // namespace

bool is_fused_id(std::string_view id) {
  const std::string_view op = id.substr(0, id.find('/'));
  return std::ranges::find(kFusedOps, op) != std::end(kFusedOps);
}

norm::Case FusedCase::norm_case() const { return norm::Case{spec.norm, dist, seed}; }

std::string FusedCase::id() const {
  const norm::Spec& n = spec.norm;
  return std::string(kFusedOps[n.op == norm::Op::rms_add ? 0 : 1]) + "/" + std::string(spec.variant->name) + "/w" +
         std::to_string(spec.world) + "/" + std::string(format_name(n.dtype)) + "/" + std::to_string(n.m) + "x" +
         std::to_string(n.h) + "/" + weight_segment(n) + "/" + norm_tail(norm_case());
}

FusedCase FusedCase::parse(std::string_view id) {
  const auto seg = split(id, '/');
  if (seg.size() < 8) bad(id, "expected the segments " + std::string(kSegments));
  if (!is_fused_id(id)) bad(id, "the op is allreduce.rms or allreduce.rms-quant");
  FusedCase c;
  try {
    c.spec.variant = &fused_variant(seg[1]);
  } catch (const UsageError& e) {
    bad(id, e.what());
  }
  const int64_t world = parse_int(strip_prefix(seg[2], "w", "world size", id), "world size", id);
  c.spec.world = int(std::min<int64_t>(world, 1 << 20));
  // The rest is the norm stage's id with the variant's norm profile.
  std::string norm_id = std::string(norm::op_name(norm_op(seg[0]))) + "/" + std::string(c.spec.variant->norm_profile) +
                        "/" + std::string(seg[3]) + "/" + std::string(seg[4]);
  for (size_t i = 6; i < seg.size(); ++i) norm_id += "/" + std::string(seg[i]);
  try {
    const norm::Case n = norm::Case::parse(norm_id);
    c.spec.norm = n.spec;
    c.dist = n.dist;
    c.seed = n.seed;
  } catch (const UsageError& e) {
    bad(id, "its norm stage " + std::string(e.what()));
  }
  if (seg[5] == "w.fp32")
    c.spec.norm.fp32_weight = true;
  else if (seg[5] != weight_segment(c.spec.norm))
    bad(id, "bad weights segment '" + std::string(seg[5]) + "' (expected " + weight_segment(c.spec.norm) + " or w.fp32)");
  if (const std::string p = c.spec.problem(); !p.empty()) bad(id, p);
  return c;
}

FusedTensors FusedCase::inputs() const {
  std::string key = id();
  key.erase(key.find('/'), key.find('/', key.find('/') + 1) - key.find('/'));  // without the variant
  const Rng rng(key, seed);
  const norm::Spec& n = spec.norm;
  const size_t count = size_t(n.m * n.h);
  FusedTensors t;
  for (int r = 0; r < spec.world; ++r) {
    t.x.push_back(fill_tensor(count, dist, rng.stream(16 + uint64_t(r)), n.dtype).raw);
  }
  RawTensor residual = fill_tensor(count, dist, rng.stream(3), n.dtype);
  RawTensor weight = fill_tensor(size_t(n.h), Distribution::parse(norm::kWeightDistribution), rng.stream(2),
                                 n.fp32_weight ? Format::fp32 : n.dtype);
  t.residual = std::move(residual.raw);
  t.residual_values = std::move(residual.values);
  t.weight = std::move(weight.raw);
  t.weight_values = std::move(weight.values);
  return t;
}

FusedExpected fused_expected(const FusedCase& c, const FusedTensors& t) {
  FusedExpected e;
  e.sum = fused_sum(c.spec, t.raw_x());
  e.norm_inputs.x.resize(e.sum.size());
  for (size_t i = 0; i < e.sum.size(); ++i) e.norm_inputs.x[i] = decode_f32(c.spec.norm.dtype, e.sum[i]);
  e.norm_inputs.residual = t.residual_values;
  e.norm_inputs.weight = t.weight_values;
  e.norm = norm::expected(c.norm_case(), e.norm_inputs);
  return e;
}

}  // namespace ulpgate::allreduce
