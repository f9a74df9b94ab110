#include "reference/gemm/gemm.hpp"

#include <cmath>

#include "reference/gemm/detail.hpp"

namespace ulpgate::gemm {
namespace {

// Scale geometry per op (spec/gemm.md, the variant table): K per scale block (0: all of K, in the
// epilogue), rows of A and of B per scale row (0: all rows).
struct OpGeometry {
  Op op;
  int64_t kblock, a_rows, b_rows;
};
constexpr OpGeometry kGeometry[] = {
    {Op::tensor, 0, 0, 0},
    {Op::rowwise, 0, 1, 1},
    {Op::block, 128, 1, 128},  // 1x128 groups of A, 128x128 blocks of B
    {Op::mx, 32, 1, 1},        // one ue8m0 per 32 K of each row of A and of B
};
static_assert(kGeometry[int(Op::block)].op == Op::block && kGeometry[int(Op::mx)].op == Op::mx, "rows in Op order");

constexpr int64_t ceil_div(int64_t x, int64_t d) { return (x + d - 1) / d; }
constexpr int64_t scale_rows(int64_t rows, int64_t per) { return per ? ceil_div(rows, per) : 1; }

// A positive power of two (fp32 subnormal ones included), or NaN or +Inf (model.hpp: non-finite
// inputs take the IEEE path whatever their encoding; +Inf is what a decoder that reads 0xFF as
// 2^128 hands on, and the diagnosis replays it).
bool is_ue8m0_value(float x) {
  if (std::isnan(x) || x == INFINITY) return true;
  if (!(x > 0)) return false;
  int e;
  return std::frexp(x, &e) == 0.5f;
}

void check_scales(std::string_view what, const std::vector<float>& s, const quant::ScaleShape& shape,
                  bool pow2) {
  if (int64_t(s.size()) != shape.m * shape.g)
    throw UsageError("gemm: " + std::string(what) + " has " + std::to_string(s.size()) + " scales, the shape [" +
                     std::to_string(shape.m) + ", " + std::to_string(shape.g) + "] needs " +
                     std::to_string(shape.m * shape.g));
  if (!pow2) return;
  for (size_t i = 0; i < s.size(); ++i)
    if (!is_ue8m0_value(s[i]))
      throw UsageError("gemm: " + std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(s[i]) +
                       " is not a power of two (ue8m0 scales)");
}

}  // namespace

int64_t Geometry::block_end(int64_t kb) const { return epilogue_scales() ? k : std::min(k, (kb + 1) * kblock); }

Geometry geometry(const Spec& spec) {
  const OpGeometry& o = kGeometry[int(spec.op)];
  const int64_t kblocks = o.kblock ? ceil_div(spec.k, o.kblock) : 1;
  return {o.kblock, o.a_rows, o.b_rows, spec.k, kblocks,
          {scale_rows(spec.m, o.a_rows), kblocks}, {scale_rows(spec.n, o.b_rows), kblocks}};
}

bool Spec::pow2_scales() const { return op == Op::mx || (op == Op::block && ue8m0); }

std::string Spec::problem() const {
  if (!profile) return "no gemm profile";
  const std::string who = "profile '" + std::string(profile->name) + "'";
  if (!profile->supports(op))
    return who + " does not implement " + std::string(op_name(op)) + " (it implements " + profile->ops_text() + ")";
  if (!profile->takes(a_format, b_format))
    return who + " does not take " + std::string(format_name(a_format)) + " x " + std::string(format_name(b_format)) +
           " (it takes " + profile->pairs_text() + ")";
  if (out != Format::bf16 && out != Format::fp32)
    return "output " + std::string(format_name(out)) + " is not bf16 or fp32";
  if (m < 0 || n < 0 || k < 0) return "negative size " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  if (op == Op::mx && k % 32) return "K = " + std::to_string(k) + " is not a multiple of the MX block (32)";
  if (ue8m0 && op != Op::block) return "ue8m0 scales are a gemm.block option (gemm.mx scales are always ue8m0)";
  if (ue8m0 && !profile->takes_ue8m0) return who + " has no ue8m0 scale layout";
  if (profile->weights == WeightLayout::bpreshuffle && (n % 16 || k % 32))
    return who + " pre-shuffles weights in 16x32 tiles: N = " + std::to_string(n) + " and K = " + std::to_string(k) +
           " must be multiples of 16 and 32";
  return "";
}

void check(const Spec& spec, const Operands& in) {
  if (const std::string p = spec.problem(); !p.empty()) throw UsageError("gemm: " + p);
  if (int64_t(in.a.size()) != spec.m * spec.k || int64_t(in.b.size()) != spec.n * spec.k)
    throw UsageError("gemm: A needs " + std::to_string(spec.m * spec.k) + " codes and B " +
                     std::to_string(spec.n * spec.k) + " (got " + std::to_string(in.a.size()) + " and " +
                     std::to_string(in.b.size()) + ")");
  const Geometry g = geometry(spec);
  check_scales("sa", in.sa, g.sa, spec.pow2_scales());
  check_scales("sb", in.sb, g.sb, spec.pow2_scales());
}

Operands operand_rows(const Spec& spec, const Operands& in, int64_t m0, int64_t m1) {
  const Geometry g = geometry(spec);
  Operands rows{{in.a.begin() + m0 * spec.k, in.a.begin() + m1 * spec.k}, in.b, in.sa, in.sb};
  if (g.a_rows > 0) rows.sa.assign(in.sa.begin() + g.sa_begin(m0), in.sa.begin() + g.sa_begin(m1 + g.a_rows - 1));
  return rows;
}

namespace detail {

const CodeTable& code_table(Format f) {
  static const auto tables = [] {
    std::array<CodeTable, 4> t{};
    const Format fp8[] = {Format::e4m3fn, Format::e4m3fnuz, Format::e5m2, Format::e5m2fnuz};
    for (int i = 0; i < 4; ++i) {
      const FormatInfo fi = info(fp8[i]);
      t[i].emin = fi.emin;
      t[i].mbits = fi.mbits;
      for (int c = 0; c < 256; ++c) {
        const double v = decode(fp8[i], uint32_t(c));
        t[i].value[c] = v;
        t[i].finite[c] = std::isfinite(v);
        const auto at_least = [&](int emin) { return v == 0 || !std::isfinite(v) ? CodeTable::kZero : std::max(exponent_of(v), emin); };
        t[i].exponent[c] = at_least(fi.emin);
        t[i].fp16_exponent[c] = at_least(info(Format::fp16).emin);  // every fp8 value is exact in fp16 and bf16
        t[i].bf16_exponent[c] = at_least(info(Format::bf16).emin);
      }
    }
    return t;
  }();
  switch (f) {
    case Format::e4m3fn: return tables[0];
    case Format::e4m3fnuz: return tables[1];
    case Format::e5m2: return tables[2];
    case Format::e5m2fnuz: return tables[3];
    default: break;
  }
  throw UsageError("gemm operands are fp8 codes, not " + std::string(format_name(f)));
}

NonFinite::NonFinite(const Spec& spec, const Operands& in)
    : spec_(spec), in_(in), g_(geometry(spec)), row_a_(size_t(spec.m)), row_b_(size_t(spec.n)) {
  const auto mark = [&](std::vector<char>& rows, const std::vector<uint8_t>& codes, Format f,
                        const std::vector<float>& scales, auto scale_index) {
    const CodeTable& t = code_table(f);
    for (size_t r = 0; r < rows.size(); ++r) {
      for (int64_t k = 0; k < spec.k && !rows[r]; ++k) rows[r] = !t.finite[codes[r * size_t(spec.k) + size_t(k)]];
      for (int64_t kb = 0; kb < g_.kblocks && !rows[r]; ++kb)
        rows[r] = !std::isfinite(scales[size_t(scale_index(int64_t(r), kb))]);
    }
  };
  mark(row_a_, in.a, spec.a_format, in.sa, [&](int64_t m, int64_t kb) { return g_.sa_index(m, kb); });
  mark(row_b_, in.b, spec.b_format, in.sb, [&](int64_t n, int64_t kb) { return g_.sb_index(n, kb); });
}

double NonFinite::ieee_value(int64_t m, int64_t n) const {
  const CodeTable &ta = code_table(spec_.a_format), &tb = code_table(spec_.b_format);
  double d = 0;
  for (int64_t kb = 0; kb < g_.kblocks; ++kb) {
    double sum = 0;
    for (int64_t k = g_.block_begin(kb); k < g_.block_end(kb); ++k)
      sum += ta.value[in_.a[size_t(m * spec_.k + k)]] * tb.value[in_.b[size_t(n * spec_.k + k)]];
    d += double(in_.sa[size_t(g_.sa_index(m, kb))]) * double(in_.sb[size_t(g_.sb_index(n, kb))]) * sum;
  }
  return d;
}

uint32_t round_to(Format out, double v) { return encode(v, Conversion{out, Overflow::nosat, Rounding::rne}); }

}  // namespace detail
}  // namespace ulpgate::gemm
