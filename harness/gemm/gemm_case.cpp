#include "harness/gemm/gemm_case.hpp"

#include "harness/core/id_text.hpp"
#include "harness/gemm/inputs.hpp"
#include "reference/formats/name_table.hpp"

namespace ulpgate::gemm {
using namespace id_text;

namespace {

constexpr NameTable<Structure, 3> kStructures{
    {{{Structure::cancel, "cancel"}, {Structure::zero_blocks, "zero-blocks"}, {Structure::scale_edges, "scale-edges"}}}};

constexpr std::string_view kSegments = "op/profile/A.B[.ue8m0]/out/MxNxK/input/sN";

std::string shape_text(const Spec& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

// Runs parse(text); a UsageError becomes one that quotes the id and names the segment.
template <class Parse>
auto segment(std::string_view id, std::string_view name, std::string_view text, Parse parse) {
  try {
    return parse(text);
  } catch (const UsageError& e) {
    throw UsageError("case '" + std::string(id) + "': bad " + std::string(name) + " segment '" + std::string(text) +
                     "': " + e.what());
  }
}

// "e4m3fn.e5m2" or "e4m3fn.e4m3fn.ue8m0" into the spec.
void parse_formats(Spec& s, std::string_view text) {
  const auto parts = split(text, '.');
  if (parts.size() < 2 || parts.size() > 3 || (parts.size() == 3 && parts[2] != "ue8m0"))
    throw UsageError("expected A.B or A.B.ue8m0 (fp8 formats of A and B)");
  s.a_format = parse_format(parts[0]);
  s.b_format = parse_format(parts[1]);
  s.ue8m0 = parts.size() == 3;
}

void parse_out(Spec& s, std::string_view text) {
  s.out = parse_format(text);
  if (s.out != Format::bf16 && s.out != Format::fp32) throw UsageError("the output is bf16 or fp32");
}

// Errors quote the id and name the dimension (id_text).
void parse_dims(Spec& s, std::string_view text, std::string_view id) {
  const auto dims = split(text, 'x');
  if (dims.size() != 3) throw UsageError("case '" + std::string(id) + "': shape '" + std::string(text) + "' is not MxNxK");
  s.m = parse_int(dims[0], "M", id);
  s.n = parse_int(dims[1], "N", id);
  s.k = parse_int(dims[2], "K", id);
}

// Both operands' stream (A its part 1, B its part 2).
Rng operand_stream(const Case& c) { return Rng("gemm/" + shape_text(c.spec) + "/" + c.input.str(), c.seed); }

}  // namespace

std::string Input::str() const { return structure == Structure::none ? dist.str() : std::string(kStructures.name(structure)); }

Input Input::parse(std::string_view text) {
  for (auto& [s, name] : kStructures.rows)
    if (text == name) return {s, {}};
  return {Structure::none, Distribution::parse(text)};
}

std::string Case::id() const {
  return std::string(op_name(spec.op)) + "/" + std::string(spec.profile->name) + "/" +
         std::string(format_name(spec.a_format)) + "." + std::string(format_name(spec.b_format)) +
         (spec.ue8m0 ? ".ue8m0" : "") + "/" + std::string(format_name(spec.out)) + "/" + shape_text(spec) + "/" +
         input.str() + "/s" + std::to_string(seed);
}

Case Case::parse(std::string_view id) {
  const auto seg = split(id, '/');
  if (seg.size() != 7)
    throw UsageError("case '" + std::string(id) + "': expected 7 segments " + std::string(kSegments) + ", got " +
                     std::to_string(seg.size()));
  Case c;
  c.spec.op = segment(id, "op", seg[0], parse_op);
  c.spec.profile = segment(id, "profile", seg[1], [](std::string_view t) { return &profile(t); });
  segment(id, "formats", seg[2], [&](std::string_view t) { return parse_formats(c.spec, t), 0; });
  segment(id, "output", seg[3], [&](std::string_view t) { return parse_out(c.spec, t), 0; });
  parse_dims(c.spec, seg[4], id);
  c.input = segment(id, "input", seg[5], Input::parse);
  c.seed = uint64_t(parse_int(strip_prefix(seg[6], "s", "seed", id), "seed", id));
  if (const std::string p = c.spec.problem(); !p.empty()) throw UsageError("case '" + std::string(id) + "': " + p);
  return c;
}

Operands Case::operands() const { return quantized_operands(spec, input, operand_stream(*this)); }

Quantized Case::operand(Which which) const { return quantized_operand(spec, input, operand_stream(*this), which); }

}  // namespace ulpgate::gemm
