#include "harness/moe/quant_case.hpp"

#include "harness/core/generators.hpp"
#include "harness/core/id_text.hpp"
#include "harness/moe/moe_case.hpp"

namespace ulpgate::moe {
using namespace id_text;

namespace {

constexpr std::string_view kSegments = "moe.quant/profile/format/input/layout[.aN]/GxTxK/gsN/scales/distribution/sN";

// A quiet NaN of the input dtype, as its bytes.
std::vector<std::byte> nan_element(Format input) {
  const uint32_t bits = input == Format::fp32 ? 0x7fc00000u : input == Format::bf16 ? 0x7fc0u : 0x7e00u;
  std::vector<std::byte> b(input == Format::fp32 ? 4 : 2);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::byte(bits >> (8 * i));
  return b;
}

size_t row_bytes(const QuantCase& c) { return size_t(c.spec.base.k) * (c.input == Format::fp32 ? 4 : 2); }

}  // namespace

std::string QuantCase::id() const {
  // The dense id's segments with its MxK replaced by the layout and GxTxK.
  const std::string dense_id = quant::Case{spec.expert_spec(0), input, dist, seed}.id();
  const auto dense = split(dense_id, '/');
  std::string id = std::string(spec.op_name());
  for (size_t i = 1; i < dense.size(); ++i) {
    if (i == 4)
      id += "/" + rows_segment(spec) + "/" + std::to_string(spec.experts()) + "x" + std::to_string(tokens) + "x" +
            std::to_string(spec.base.k);
    else
      id += "/" + std::string(dense[i]);
  }
  return id;
}

QuantCase QuantCase::parse(std::string_view id) {
  const auto seg = split(id, '/');
  const std::string quoted = "case '" + std::string(id) + "': ";
  if (seg.size() != 10)
    throw UsageError(quoted + "expected 10 segments " + std::string(kSegments) + ", got " + std::to_string(seg.size()));
  const quant::Op op = [&] {
    try {
      return quant::parse_grouped_op(seg[0]);
    } catch (const UsageError& e) {
      throw UsageError(quoted + e.what());
    }
  }();
  const auto dims = split(seg[5], 'x');
  if (dims.size() != 3) throw UsageError(quoted + "shape '" + std::string(seg[5]) + "' is not GxTxK");
  QuantCase c;
  const int64_t g = parse_int(dims[0], "G", id);
  c.tokens = parse_int(dims[1], "T", id);
  std::string dense(quant::op_name(op));
  for (size_t i = 1; i < seg.size(); ++i)
    dense += i == 4 ? "/1x" + std::string(dims[2]) : i == 5 ? "" : "/" + std::string(seg[i]);
  try {
    const quant::Case d = quant::Case::parse(dense);
    c.spec.base = d.spec, c.input = d.input, c.dist = d.dist, c.seed = d.seed;
  } catch (const UsageError& e) {
    throw UsageError(quoted + "as its experts' dense case: " + e.what());
  }
  static_cast<ExpertRows&>(c.spec) = parse_rows(seg[4], g, c.tokens, c.seed, id);
  if (const std::string p = c.spec.problem(); !p.empty()) throw UsageError(quoted + p);
  return c;
}

quant::Case QuantCase::expert_case(int64_t e) const {
  return {spec.expert_spec(e), input, dist, seed * 1000003 + uint64_t(e)};
}

QuantInputs QuantCase::inputs() const {
  QuantInputs in;
  const std::vector<std::byte> nan = nan_element(input);
  const size_t row = row_bytes(*this);
  in.raw.resize(size_t(spec.rows()) * row);
  for (size_t i = 0; i < in.raw.size(); ++i) in.raw[i] = nan[i % nan.size()];
  for (int64_t e = 0; e < spec.experts(); ++e) {
    const int64_t count = spec.tokens[size_t(e)];
    expert_case(e).input_rows().fill(0, count, std::span(in.raw).subspan(size_t(spec.first_row(e)) * row, size_t(count) * row));
  }
  in.row_map = spec.layout == GroupLayout::masked ? spec.masked_m() : spec.row_experts();
  return in;
}

quant::Inputs QuantCase::expert_inputs(const QuantInputs& in, int64_t e, bool values) const {
  const size_t row = row_bytes(*this);
  const auto first = in.raw.begin() + ptrdiff_t(size_t(spec.first_row(e)) * row);
  quant::Inputs x{{first, first + ptrdiff_t(size_t(spec.tokens[size_t(e)]) * row)}, {}};
  if (values) x.values = widened(x.raw, input);
  return x;
}

}  // namespace ulpgate::moe
