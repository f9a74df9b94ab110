#include "harness/allreduce/allreduce_case.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "harness/core/generators.hpp"
#include "harness/core/id_text.hpp"

namespace ulpgate::allreduce {
using namespace id_text;

namespace {

constexpr uint64_t kSharedExponents = 1 << 20;  // a stream no rank index reaches
constexpr std::string_view kSegments = "allreduce/variant/dtype/wN/count[@offset[+tail]]/placement/input/sN";

[[noreturn]] void bad(std::string_view id, std::string_view what) {
  throw UsageError("case '" + std::string(id) + "': " + std::string(what));
}

View parse_view(std::string_view text, std::string_view id) {
  View v;
  const size_t at = text.find('@');
  v.count = parse_int(text.substr(0, at), "count", id);
  if (at == std::string_view::npos) return v;
  const std::string_view rest = text.substr(at + 1);
  const size_t plus = rest.find('+');
  v.offset = parse_int(rest.substr(0, plus), "view offset", id);
  if (plus != std::string_view::npos) v.tail = parse_int(rest.substr(plus + 1), "view tail", id);
  return v;
}

bool parse_placement(std::string_view text, std::string_view id) {
  if (text == "in-place") return true;
  if (text == "out-of-place") return false;
  bad(id, "bad placement '" + std::string(text) + "' (expected in-place or out-of-place)");
}

// Exactly summable in any order: k 2^e with |k| <= 2^p / 8 and e per element in [-8, e_max]
// (spec/allreduce.md). `exponents` is the same stream for every rank: the exponent is shared, so
// the partial sums of up to 8 ranks are integers below 2^p times 2^e, exact in the element type;
// e_max keeps 2^(p + e) finite (fp16: 4, so that NCCL's fp16 partial sums at world 4 do not
// overflow where the full sum would not; the others: 8).
std::vector<uint32_t> exact_rank(const Spec& s, const Rng& values, const Rng& exponents) {
  const FormatInfo& fi = info(s.dtype);
  const int p = fi.mbits + 1, e_max = std::min(8, ((1 << fi.ebits) - 2 - fi.bias) - p);
  const int64_t k_max = int64_t(1) << (p - 3);
  std::vector<uint32_t> out(size_t(s.view.count));
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t k = int64_t(values.below(i, uint64_t(2 * k_max + 1))) - k_max;
    const int e = int(exponents.below(i, uint64_t(e_max + 9))) - 8;
    out[i] = encode(std::ldexp(double(k), e), Conversion{s.dtype, Overflow::nosat, Rounding::rne});
  }
  return out;
}

}  // namespace

std::vector<uint32_t> element_bits(const RawTensor& t, Format dtype) {
  std::vector<uint32_t> out(t.values.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = dtype == Format::fp32 ? std::bit_cast<uint32_t>(t.values[i])
                                   : uint32_t(uint8_t(t.raw[2 * i])) | uint32_t(uint8_t(t.raw[2 * i + 1])) << 8;
  return out;
}

std::string view_text(const View& v) {
  std::string s = std::to_string(v.count);
  if (v.offset || v.tail) s += "@" + std::to_string(v.offset);
  if (v.tail) s += "+" + std::to_string(v.tail);
  return s;
}

std::string Case::id() const {
  return "allreduce/" + std::string(spec.variant->name) + "/" + std::string(format_name(spec.dtype)) + "/w" +
         std::to_string(spec.world) + "/" + view_text(spec.view) + "/" + (spec.in_place ? "in-place" : "out-of-place") +
         "/" + input + "/s" + std::to_string(seed);
}

Case Case::parse(std::string_view id) {
  const auto seg = split(id, '/');
  if (seg.size() != 8)
    bad(id, "expected 8 segments " + std::string(kSegments) + ", got " + std::to_string(seg.size()));
  if (seg[0] != "allreduce") bad(id, "the op is allreduce");
  Case c;
  try {
    c.spec.variant = &variant(seg[1]);
    c.spec.dtype = parse_format(seg[2]);
  } catch (const UsageError& e) {
    bad(id, e.what());
  }
  const int64_t world = parse_int(strip_prefix(seg[3], "w", "world size", id), "world size", id);
  c.spec.world = int(std::min<int64_t>(world, 1 << 20));
  c.spec.view = parse_view(seg[4], id);
  c.spec.in_place = parse_placement(seg[5], id);
  c.input = std::string(seg[6]);
  if (!c.exact_inputs()) {
    try {
      c.input = Distribution::parse(seg[6]).str();
    } catch (const UsageError& e) {
      bad(id, "bad input segment '" + std::string(seg[6]) + "': " + e.what());
    }
  }
  c.seed = uint64_t(parse_int(strip_prefix(seg[7], "s", "seed", id), "seed", id));
  if (const std::string p = c.spec.problem(); !p.empty()) bad(id, p);
  return c;
}

Inputs Case::inputs() const {
  const Rng rng("allreduce/" + std::string(format_name(spec.dtype)) + "/w" + std::to_string(spec.world) + "/" +
                    std::to_string(spec.view.count) + "/" + input,
                seed);
  Inputs in;
  for (int r = 0; r < spec.world; ++r) {
    const Rng rank = rng.stream(uint64_t(r));
    if (exact_inputs()) {
      in.push_back(exact_rank(spec, rank, rng.stream(kSharedExponents)));
      continue;
    }
    in.push_back(element_bits(fill_tensor(size_t(spec.view.count), Distribution::parse(input), rank, spec.dtype), spec.dtype));
  }
  return in;
}

}  // namespace ulpgate::allreduce
