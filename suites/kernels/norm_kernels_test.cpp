// The RMSNorm kernels on the host-SIMT backend (kernels/norm), at warp 32 and 64 and under the
// real archs' conversion semantics, against the reference (reference/norm):
// - rows whose fp32 sum of squares is exact in any order: the kernel's r is the reference's, so
//   every output (y, residual_out, codes, scale storage with its padding) is bit-exact;
// - random rows: every output is exactly what the profile gives for one fp32 r within the
//   kernel's accumulation error of the exact r; y within 1 ulp of the profile-exact result and
//   mismatches rare; residual_out bit-exact;
// - the fused quantizer's storage equals quant.group's kernel on the same values; odd H and
//   unaligned buffers (scalar path), M = 0, bad shapes, every output byte written, a reduction
//   written for 32 lanes caught at warp 64 (spec/known-bugs.md R12).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "harness/backends/kernel_backends.hpp"
#include "harness/core/backend.hpp"
#include "kernels/norm/norm_host.hpp"
#include "kernels/portable/arch.hpp"
#include "suites/kernels/host_archs.hpp"
#include "suites/sample.hpp"
#include "kernels/quant/quant_host.hpp"
#include "reference/norm/norm.hpp"

using namespace ulpgate;
using norm::Op;
using norm_kernels::NormSizes;

namespace {

// ---- cases -----------------------------------------------------------------------------------

norm::Spec make_spec(Op op, std::string_view profile, Format dtype, int64_t m, int64_t h, int gs = 0,
                     quant::Layout layout = quant::Layout::token, bool ue8m0 = false) {
  norm::Spec s;
  s.op = op;
  s.profile = &norm::profile(profile);
  s.dtype = dtype;
  s.m = m;
  s.h = h;
  s.gs = gs;
  s.layout = layout;
  s.ue8m0 = ue8m0 || quant::is_ue8m0_layout(layout);
  return s;
}

std::string describe(const norm::Spec& s) {
  std::string d = std::string(norm::op_name(s.op)) + "/" + std::string(s.profile->name) + "/" +
                  std::string(format_name(s.dtype)) + "/" + std::to_string(s.m) + "x" + std::to_string(s.h);
  if (s.quantizes()) d += "/gs" + std::to_string(s.gs) + "/" + std::string(quant::layout_name(s.layout));
  return d;
}

uint16_t to_bits(Format dtype, float v) { return dtype == Format::bf16 ? float_to_bf16(v) : float_to_fp16(v); }
float widen(Format dtype, uint16_t b) { return dtype == Format::bf16 ? bf16_to_float(b) : fp16_to_float(b); }

enum class Rows {
  exact,   // k/128, |k| <= K: every square is a multiple of 2^-14 and every partial sum is below
           // 2^24 of those, so any fp32 summation order is exact (K from H, below)
  random,  // +-(1 + m/128) * 2^e, e in [-6, 3]: exact in bf16 and fp16, sums are rounded
};

// The largest |k| of exact rows: H squares of z (up to 2K with a residual) stay below 2^24
// units; at most 127, so z (|k| <= 254) is exact in bf16's 8 significant bits.
int exact_k(const norm::Spec& s) {
  const double units = 0x1p24 / double(s.h) / (s.has_residual() ? 4 : 1);
  return std::min(127, int(std::sqrt(units)));
}

// One case's inputs: raw dtype bits and their exact fp32 widening (the reference's input).
struct Tensors {
  norm::Spec spec;
  norm::Inputs in;
  std::vector<std::byte> x, residual, weight;
};

void append(Format dtype, float v, std::vector<std::byte>& raw, std::vector<float>& wide) {
  const uint16_t b = to_bits(dtype, v);
  raw.resize(raw.size() + 2);
  std::memcpy(raw.data() + raw.size() - 2, &b, 2);
  wide.push_back(widen(dtype, b));
  EXPECT_EQ(wide.back(), v) << "generated values are exact in the dtype";
}

float random_value(std::mt19937& rng, int emin, int emax) {
  const float mant = 1.0f + float(rng() % 128) / 128.0f;
  const int e = emin + int(rng() % uint32_t(emax - emin + 1));
  return (rng() & 1 ? -1.0f : 1.0f) * std::ldexp(mant, e);
}

float row_value(Rows rows, int k, std::mt19937& rng) {
  if (rows == Rows::exact) return float(int(rng() % uint32_t(2 * k + 1)) - k) / 128.0f;
  return random_value(rng, -6, 3);
}

// Exact rows with quantization also get all-zero groups (the profile's floor decides their
// scale) and, from three rows on, an all-zero row.
bool zeroed(const norm::Spec& s, Rows rows, int64_t m, int64_t k) {
  if (rows != Rows::exact || !s.quantizes()) return false;
  if (s.m >= 3 && m == 1) return true;
  const int64_t group = s.gs == 0 ? s.h : s.gs;
  return m % 3 == 2 && k / group == (m / 3) % (s.h / group);
}

// Row 0 is scaled by 2^-10: its mean square is comparable to eps (1e-6), so eps inside or outside
// the square root, or added wrongly, changes its r far beyond any accumulation error.
constexpr float kSmallRow = 0x1p-10f;

Tensors make_tensors(const norm::Spec& spec, Rows rows, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensors t{spec, {}, {}, {}, {}};
  const int kmax = exact_k(spec);
  for (int64_t m = 0; m < spec.m; ++m) {
    const float scale = m == 0 ? kSmallRow : 1.0f;
    for (int64_t k = 0; k < spec.h; ++k) {
      const float v = scale * row_value(rows, kmax, rng);
      append(spec.dtype, zeroed(spec, rows, m, k) ? 0.0f : v, t.x, t.in.x);
      if (spec.has_residual()) append(spec.dtype, scale * row_value(rows, kmax, rng), t.residual, t.in.residual);
    }
  }
  for (int64_t k = 0; k < spec.h; ++k) append(spec.dtype, random_value(rng, -2, 1), t.weight, t.in.weight);
  return t;
}

// ---- running the kernels ---------------------------------------------------------------------

struct Outputs {
  std::vector<std::byte> y, residual_out;
  std::vector<uint8_t> codes, scales;
  bool operator==(const Outputs&) const = default;
};

template <class Reduce = norm_kernels::ButterflyReduce>
Outputs run_poisoned(const Arch& arch, const Tensors& t, uint8_t poison) {
  const NormSizes want = norm_kernels::required_sizes(t.spec);
  Outputs o{std::vector<std::byte>(want.y, std::byte(poison)), std::vector<std::byte>(want.residual_out, std::byte(poison)),
            std::vector<uint8_t>(want.codes, poison), std::vector<uint8_t>(want.scales, poison)};
  const norm::Buffers io{t.x, t.residual, t.weight, o.y, o.residual_out, o.codes, o.scales};
  norm_kernels::run_norm_host<Reduce>(arch, t.spec, io);
  return o;
}

// The outputs, after checking that two runs over different poison agree: every byte written.
template <class Reduce = norm_kernels::ButterflyReduce>
Outputs run(const Arch& arch, const Tensors& t) {
  const Outputs a = run_poisoned<Reduce>(arch, t, 0xA5);
  EXPECT_TRUE(a == run_poisoned<Reduce>(arch, t, 0x5A)) << describe(t.spec) << ": an output byte is left unwritten";
  return a;
}

std::vector<uint16_t> elements(const std::vector<std::byte>& raw) {
  std::vector<uint16_t> v(raw.size() / 2);
  if (!raw.empty()) std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}

// "" when the outputs equal the profile-exact result bit for bit, else the first difference.
std::string exact_mismatch(const Tensors& t, const Outputs& o, const norm::Result& ref) {
  const norm::Spec& s = t.spec;
  if (s.has_residual() && elements(o.residual_out) != ref.residual) return "residual_out differs";
  if (!s.quantizes()) {
    const std::vector<uint16_t> y = elements(o.y);
    for (std::size_t i = 0; i < y.size(); ++i)
      if (y[i] != ref.y[i])
        return "y[" + std::to_string(i) + "] = " + std::to_string(y[i]) + ", profile " + std::to_string(ref.y[i]);
    return {};
  }
  for (std::size_t i = 0; i < o.codes.size(); ++i)
    if (o.codes[i] != ref.quant.codes[i]) return "code " + std::to_string(i) + " differs";
  for (std::size_t i = 0; i < o.scales.size(); ++i)
    if (o.scales[i] != ref.quant.storage[i]) return "scale storage byte " + std::to_string(i) + " differs";
  return {};
}

// ---- admissible r ----------------------------------------------------------------------------

// The kernel's fp32 sum of squares S' of a row: no square passes through more than 127 roundings
// (its own, at most kMaxSlots * 8 sequential additions in its thread, log2(64) shuffle levels,
// 32 warp partials), and all terms are >= 0, so |S' - S| <= 127 u S / (1 - 127 u) < 2^-17 S.
constexpr double kSumError = 0x1p-17;

double exact_sum_of_squares(const norm::Spec& s, const norm::Inputs& in, int64_t row) {
  double sum = 0;
  for (int64_t k = 0; k < s.h; ++k) {
    const int64_t i = row * s.h + k;
    float z = in.x[i];
    if (s.has_residual()) {
      z = in.x[i] + in.residual[i];
      if (s.rounds_residual()) z = widen(s.dtype, to_bits(s.dtype, z));
    }
    sum += double(z) * double(z);
  }
  return sum;
}

// The profile's r from an fp32 sum of squares (the host's rsqrt is correctly rounded).
float r_from_sum(const norm::Spec& s, float sum) {
  const float n = float(s.h);
  const float ms = s.profile->mean == norm::MeanOp::reciprocal ? sum * (1.0f / n) : sum / n;
  return float(1.0 / std::sqrt(double(float(double(ms) + s.profile->eps_added))));
}

// Every fp32 r the kernel may have used for a row, smallest first.
std::vector<float> admissible_r(const norm::Spec& s, const norm::Inputs& in, int64_t row) {
  const double sum = exact_sum_of_squares(s, in, row);
  const float lo_sum = std::nextafter(float(sum * (1 - kSumError)), 0.0f);
  const float hi_sum = std::nextafter(float(sum * (1 + kSumError)), INFINITY);
  std::vector<float> out;
  for (float r = r_from_sum(s, hi_sum); r <= r_from_sum(s, lo_sum); r = std::nextafter(r, INFINITY)) out.push_back(r);
  return out;
}

// Does r explain the kernel's row exactly? y (rms, rms-add) or codes and scales (rms-quant).
bool row_explained(const Tensors& t, const Outputs& o, int64_t row, float r) {
  const norm::Spec& s = t.spec;
  const int64_t h = s.h, base = row * h;
  const std::vector<uint16_t> y = elements(o.y);
  std::vector<float> v(std::size_t(s.quantizes() ? h : 0));
  for (int64_t k = 0; k < h; ++k) {
    const float res = s.has_residual() ? t.in.residual[base + k] : 0.0f;
    const norm::Element e = norm::normalize_element(s, t.in.x[base + k], res, t.in.weight[k], r);
    if (!s.quantizes() && e.y != y[base + k]) return false;
    if (s.quantizes()) v[k] = e.v;
  }
  if (!s.quantizes()) return true;
  const quant::Profile qp = s.quant_row();
  quant::Spec qs = s.quant_spec(qp);
  const int64_t groups = qs.scale_shape().g;
  // A static scale is no output: the kernel's is the given one.
  const std::vector<float> kernel_scales =
      qs.writes_scales() ? quant::unpack(qs.layout, qs.scale_shape(), o.scales) : std::vector<float>(size_t(s.m), s.static_scale);
  qs.m = 1;
  const quant::Result q = quant::quantize_profile(qs, v);
  for (int64_t g = 0; g < groups; ++g)
    if (std::bit_cast<uint32_t>(q.scales[g]) != std::bit_cast<uint32_t>(kernel_scales[row * groups + g])) return false;
  return std::equal(q.codes.begin(), q.codes.end(), o.codes.begin() + base);
}

// "" when every row is explained by an admissible r, else the first row that is not.
std::string unexplained_row(const Tensors& t, const Outputs& o) {
  for (int64_t row = 0; row < t.spec.m; ++row) {
    const std::vector<float> rs = admissible_r(t.spec, t.in, row);
    if (std::none_of(rs.begin(), rs.end(), [&](float r) { return row_explained(t, o, row, r); }))
      return "row " + std::to_string(row) + " is not the profile's result for any of the " +
             std::to_string(rs.size()) + " admissible r";
  }
  return {};
}

// Differences from the profile-exact result: y and codes rarely differ (only next to a rounding
// boundary), y by at most 1 ulp; residual_out never.
void expect_close_to_profile(const Tensors& t, const Outputs& o, const norm::Result& ref) {
  const norm::Spec& s = t.spec;
  if (s.has_residual()) {
    EXPECT_EQ(elements(o.residual_out), ref.residual) << describe(s);
  }
  std::size_t differ = 0, total = 0;
  if (!s.quantizes()) {
    const std::vector<uint16_t> y = elements(o.y);
    total = y.size();
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (y[i] == ref.y[i]) continue;
      ++differ;
      const auto d = ulp_distance(s.dtype, y[i], ref.y[i]);
      EXPECT_TRUE(d && std::abs(*d) <= 1) << describe(s) << " y[" << i << "]";
    }
  } else {
    total = o.codes.size();
    for (std::size_t i = 0; i < total; ++i) differ += o.codes[i] != ref.quant.codes[i];
  }
  EXPECT_LT(double(differ), 0.01 * double(total)) << describe(s) << ": " << differ << " of " << total << " differ";
}

// ---- the case lists --------------------------------------------------------------------------

constexpr Format kDtypes[] = {Format::bf16, Format::fp16};
// Vector path (multiples of 8), the scalar path for odd H, one-warp and multi-warp rows, and the
// bench's 7168.
constexpr int64_t kHiddenSizes[] = {17, 64, 1025, 2048, 5137, 7168, 8193};

int64_t rows_for(int64_t h) { return h <= 1024 ? 9 : 4; }

std::vector<norm::Spec> plain_specs() {
  std::vector<norm::Spec> out;
  for (Op op : {Op::rms, Op::rms_add})
    for (const norm::Profile& p : norm::profiles())
      for (Format dt : kDtypes)
        for (int64_t h : kHiddenSizes) out.push_back(make_spec(op, p.name, dt, rows_for(h), h));
  return out;
}

std::vector<norm::Spec> quant_specs() {
  using L = quant::Layout;
  std::vector<norm::Spec> out;
  for (const norm::Profile& p : norm::profiles()) {
    if (!p.quantizes()) continue;
    for (Format dt : kDtypes) {
      for (int64_t h : {17, 1025, 7168}) out.push_back(make_spec(Op::rms_quant, p.name, dt, rows_for(h), h));
      for (int gs : {64, 128})
        for (L layout : {L::row, L::col, L::col_tma, L::ue8m0_packed})
          for (int64_t h : {int64_t(2 * gs), int64_t(7168)})
            out.push_back(make_spec(Op::rms_quant, p.name, dt, rows_for(h) - (h > 1024 ? 1 : 2), h, gs, layout));
      out.push_back(make_spec(Op::rms_quant, p.name, dt, 5, 1024, 128, L::row, /*ue8m0=*/true));  // ue8m0 fp32 row
      // With the residual: per token, per group, odd and long rows.
      for (int64_t h : {17, 1025, 7168}) out.push_back(make_spec(Op::rms_add_quant, p.name, dt, rows_for(h), h));
      out.push_back(make_spec(Op::rms_add_quant, p.name, dt, 3, 7168, 128, L::ue8m0_packed));
      // Static per-tensor scales (where the project has them) and vLLM's scale_ub.
      for (Op op : {Op::rms_quant, Op::rms_add_quant})
        for (int64_t h : {int64_t(1025), int64_t(7168)}) {
          norm::Spec st = make_spec(op, p.name, dt, rows_for(h), h), ub = st;
          st.static_scale = 0.0123f;
          ub.scale_ub = 1.5f;
          if (st.problem().empty()) out.push_back(st);
          if (ub.problem().empty()) out.push_back(ub);
        }
    }
  }
  return out;
}

std::vector<norm::Spec> all_specs() {
  std::vector<norm::Spec> out = plain_specs();
  for (const norm::Spec& s : quant_specs()) out.push_back(s);
  return out;
}

class NormOnHost : public ::testing::TestWithParam<std::string> {
 protected:
  const Arch& arch() const { return arch_by_name(GetParam()); }
};

TEST_P(NormOnHost, RowsWithExactSumsAreBitExactToTheProfile) {
  int failures = 0, item = 0;
  for (const norm::Spec& s : all_specs()) {
    if (!test_support::sampled(item++)) continue;
    const Tensors t = make_tensors(s, Rows::exact, uint32_t(s.h * 31 + s.m));
    const std::string why = exact_mismatch(t, run(arch(), t), norm::normalize_profile(s, t.in));
    if (!why.empty() && ++failures <= 10) ADD_FAILURE() << describe(s) << ": " << why;
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(NormOnHost, RandomRowsAreTheProfileAtAnAdmissibleR) {
  int failures = 0, item = 0;
  for (const norm::Spec& s : all_specs()) {
    if (!test_support::sampled(item++)) continue;
    const Tensors t = make_tensors(s, Rows::random, uint32_t(s.h * 17 + s.m));
    const Outputs o = run(arch(), t);
    expect_close_to_profile(t, o, norm::normalize_profile(s, t.in));
    const std::string why = unexplained_row(t, o);
    if (!why.empty() && ++failures <= 10) ADD_FAILURE() << describe(s) << ": " << why;
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Archs, NormOnHost, test::host_archs(), test::ArchTestName{});

// ---- single properties -----------------------------------------------------------------------

TEST(NormKernelsHost, FusedScalesAreStoredExactlyAsQuantGroupStoresThem) {
  // The quantization kernel on the values the fused quantizer saw: the same bytes, padding too.
  for (quant::Layout layout : {quant::Layout::ue8m0_packed, quant::Layout::col_tma, quant::Layout::row}) {
    const norm::Spec s = make_spec(Op::rms_quant, "vllm", Format::bf16, 6, 1024, 128, layout);
    const Tensors t = make_tensors(s, Rows::exact, 7);
    const Outputs o = run(kHostW32, t);
    const norm::Result ref = norm::normalize_profile(s, t.in);
    const quant::Profile qp = s.quant_row();
    const quant::Spec qs = s.quant_spec(qp);
    std::vector<uint8_t> codes(o.codes.size(), 0xA5), scales(o.scales.size(), 0xA5);
    quant_kernels::run_quant_host(kHostW32, qs, Format::fp32, std::as_bytes(std::span(ref.v)), codes, scales);
    EXPECT_EQ(o.scales, scales) << quant::layout_name(layout);
    EXPECT_EQ(o.codes, codes) << quant::layout_name(layout);
  }
}

TEST(NormKernelsHost, GroupedQuantizationTakesQuantGroupsNativePathOnSm90) {
  // The bench row's quantizer: the multiply-and-clamp path with the arch's cast, not the
  // per-element profile evaluation (both are bit-exact; the catalogue runs both).
  const norm::Spec s = make_spec(Op::rms_quant, "vllm", Format::bf16, 4, 7168, 128, quant::Layout::ue8m0_packed);
  const norm_kernels::NormPlan plan = norm_kernels::plan_norm(s, kSm90, norm_kernels::required_sizes(s));
  EXPECT_NE(plan.path, quant_kernels::ElementPath::profile);
}

TEST(NormKernelsHost, UnalignedBuffersTakeTheScalarPathWithTheSameBits) {
  for (Op op : {Op::rms, Op::rms_add, Op::rms_quant}) {
    const norm::Spec s = op == Op::rms_quant ? make_spec(op, "vllm", Format::bf16, 5, 512, 128, quant::Layout::ue8m0_packed)
                                             : make_spec(op, "vllm", Format::bf16, 5, 512);
    const Tensors t = make_tensors(s, Rows::random, 3);
    const Outputs aligned = run(kHostW32, t);
    // Every buffer but the scales 2 bytes past a 16-byte boundary.
    std::vector<std::byte> x(t.x.size() + 2), res(t.residual.size() + 2), w(t.weight.size() + 2);
    std::memcpy(x.data() + 2, t.x.data(), t.x.size());
    std::memcpy(w.data() + 2, t.weight.data(), t.weight.size());
    if (!t.residual.empty()) std::memcpy(res.data() + 2, t.residual.data(), t.residual.size());
    std::vector<std::byte> y(aligned.y.size() + 2), rout(aligned.residual_out.size() + 2);
    std::vector<uint8_t> codes(aligned.codes.size() + 2), scales(aligned.scales.size());
    const norm::Buffers io{std::span<const std::byte>(x).subspan(2, t.x.size()),
                           std::span<const std::byte>(res).subspan(2, t.residual.size()),
                           std::span<const std::byte>(w).subspan(2, t.weight.size()),
                           std::span(y).subspan(2, aligned.y.size()),
                           std::span(rout).subspan(2, aligned.residual_out.size()),
                           std::span(codes).subspan(2, aligned.codes.size()), scales};
    norm_kernels::run_norm_host(kHostW32, s, io);
    EXPECT_TRUE(std::equal(aligned.y.begin(), aligned.y.end(), y.begin() + 2)) << describe(s);
    EXPECT_TRUE(std::equal(aligned.residual_out.begin(), aligned.residual_out.end(), rout.begin() + 2)) << describe(s);
    EXPECT_TRUE(std::equal(aligned.codes.begin(), aligned.codes.end(), codes.begin() + 2)) << describe(s);
    EXPECT_EQ(aligned.scales, scales) << describe(s);
  }
}

TEST(NormKernelsHost, TheWidestRowIsBitExactAtBothWarpSizes) {
  const int64_t h = norm_kernels::max_hidden_size(Format::bf16);
  EXPECT_EQ(h, 16384);
  for (const Arch* arch : {&kHostW32, &kHostW64})
    for (const norm::Spec& s : {make_spec(Op::rms, "vllm", Format::bf16, 2, h), make_spec(Op::rms_add, "aiter", Format::fp16, 2, h),
                                make_spec(Op::rms_quant, "vllm", Format::bf16, 3, h, 128, quant::Layout::ue8m0_packed)}) {
      const Tensors t = make_tensors(s, Rows::exact, 5);
      EXPECT_EQ(exact_mismatch(t, run(*arch, t), norm::normalize_profile(s, t.in)), "") << describe(s) << " " << arch->name;
    }
}

TEST(NormKernelsHost, ZeroRowsAreANoOp) {
  for (Op op : {Op::rms, Op::rms_add, Op::rms_quant}) {
    const norm::Spec s = op == Op::rms_quant ? make_spec(op, "vllm", Format::bf16, 0, 640, 64, quant::Layout::ue8m0_packed)
                                             : make_spec(op, "vllm", Format::bf16, 0, 640);
    const Tensors t = make_tensors(s, Rows::random, 1);
    const NormSizes want = norm_kernels::required_sizes(s);
    EXPECT_EQ(want.x + want.y + want.residual_out + want.codes + want.scales, 0u);
    EXPECT_NO_THROW(run(kHostW64, t)) << describe(s);
  }
}

std::unique_ptr<Backend> host_backend(std::string_view arch) {
  static const bool registered = (register_kernel_backends(), true);
  (void)registered;
  return make_backend("host", arch);
}

// The backend's error for a spec and buffers sized as `sizes`.
std::string backend_error(const norm::Spec& s, const NormSizes& sizes) {
  std::vector<std::byte> x(sizes.x), res(sizes.residual), w(sizes.weight), y(sizes.y), rout(sizes.residual_out);
  std::vector<uint8_t> codes(sizes.codes), scales(sizes.scales);
  try {
    host_backend("host-w32")->norm(s, {x, res, w, y, rout, codes, scales});
  } catch (const BackendError& e) {
    return e.what();
  }
  return "no error";
}

bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(NormKernelsHost, UnsupportedCasesFailBeforeLaunchNamingTheProblem) {
  const norm::Spec good = make_spec(Op::rms_add, "vllm", Format::bf16, 3, 512);
  const NormSizes sizes = norm_kernels::required_sizes(good);
  EXPECT_EQ(backend_error(good, sizes), "no error");

  norm::Spec fp32 = good;
  fp32.dtype = Format::fp32;
  EXPECT_TRUE(mentions(backend_error(fp32, sizes), "fp32")) << backend_error(fp32, sizes);

  NormSizes short_y = sizes;
  short_y.y -= 2;
  EXPECT_TRUE(mentions(backend_error(good, short_y), "y buffer")) << backend_error(good, short_y);
  NormSizes short_residual = sizes;
  short_residual.residual_out += 2;
  EXPECT_TRUE(mentions(backend_error(good, short_residual), "residual_out buffer"));

  norm::Spec wide = good;
  wide.h = norm_kernels::max_hidden_size(Format::bf16) + 8;
  EXPECT_TRUE(mentions(backend_error(wide, sizes), "exceeds")) << backend_error(wide, sizes);

  // H not a multiple of the group size; scale storage of the wrong size.
  norm::Spec grouped = make_spec(Op::rms_quant, "vllm", Format::bf16, 4, 1024, 128, quant::Layout::ue8m0_packed);
  const NormSizes qsizes = norm_kernels::required_sizes(grouped);
  EXPECT_EQ(backend_error(grouped, qsizes), "no error");
  NormSizes short_scales = qsizes;
  short_scales.scales -= 4;
  EXPECT_TRUE(mentions(backend_error(grouped, short_scales), "scales buffer")) << backend_error(grouped, short_scales);
  norm::Spec ragged = grouped;
  ragged.h = 1000;
  EXPECT_TRUE(mentions(backend_error(ragged, qsizes), "multiple")) << backend_error(ragged, qsizes);

  // A profile without a fused quantizer asked to quantize.
  norm::Spec hf = grouped;
  hf.profile = &norm::profile("hf");
  EXPECT_NE(backend_error(hf, qsizes), "no error");
}

// ---- the reduction at warp 64 (R12) -----------------------------------------------------------

// A warp reduction written for 32 lanes (width capped at 32), as in the wave64 bugs: on a 64-lane
// wavefront the halves never meet, so rows of 64 threads or more get a wrong sum of squares.
struct Wave32Reduce {
  template <class Op2>
  ULPGATE_DEVICE float operator()(float v, int width, const Op2& op) const {
    const int w = std::min(width, 32);
    for (int offset = w / 2; offset > 0; offset /= 2) v = op(v, dev::shfl_xor(v, offset, w));
    return v;
  }
};

TEST(NormKernelsFaults, R12Wave32ReductionPassesAtWarp32AndIsCaughtAtWarp64) {
  // 2048: one 64-thread row at warp 64; 7168: multi-warp rows. Exact sums: any error shows.
  for (int64_t h : {2048, 7168}) {
    const norm::Spec s = make_spec(Op::rms, "vllm", Format::bf16, 3, h);
    const Tensors t = make_tensors(s, Rows::exact, 11);
    const norm::Result ref = norm::normalize_profile(s, t.in);
    EXPECT_EQ(exact_mismatch(t, run<Wave32Reduce>(kHostW32, t), ref), "") << h;
    EXPECT_NE(exact_mismatch(t, run<Wave32Reduce>(kHostW64, t), ref), "") << h;
    EXPECT_EQ(exact_mismatch(t, run(kHostW64, t), ref), "") << h;
  }
}

// ---- the element arithmetic ------------------------------------------------------------------

TEST(NormMath, TheKernelsRFromAnExactSumIsTheProfilesR) {
  // Rows with exact sums, scaled by 2^-4 .. 2^-15 so that eps (float or AITER's double) matters
  // to different degrees; H = 3 and 7 make fl(S / H) and fl(S * fl(1 / H)) differ.
  for (const norm::Profile& p : norm::profiles())
    for (int64_t h : {1, 3, 7, 17, 1000, 7168}) {
      const norm::Spec s = make_spec(Op::rms, p.name, Format::bf16, 12, h);
      Tensors t = make_tensors(s, Rows::exact, uint32_t(h));
      for (int64_t m = 0; m < s.m; ++m)
        for (int64_t k = 0; k < h; ++k) t.in.x[m * h + k] *= std::ldexp(m == 0 ? 1.0f / kSmallRow : 1.0f, -4 - int(m));
      const norm::Result ref = norm::normalize_profile(s, t.in);
      const norm_kernels::NormPlan plan = norm_kernels::plan_norm(s, kHostW32, norm_kernels::required_sizes(s));
      for (int64_t m = 0; m < s.m; ++m) {
        const float sum = float(exact_sum_of_squares(s, t.in, m));
        EXPECT_EQ(std::bit_cast<uint32_t>(norm_kernels::row_rsqrt(plan.math, sum, h)), std::bit_cast<uint32_t>(ref.r[m]))
            << p.name << " H=" << h << " row " << m;
      }
    }
}

}  // namespace
