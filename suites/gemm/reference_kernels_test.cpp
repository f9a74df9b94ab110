// The device GEMM reference (kernels/gemm/reference_*) on the host-SIMT emulator, at warp 32 and
// 64, against the CPU reference bit for bit: the ideal against gemm_ideal (bits and exact values)
// for every op, output and format pair, random and edge data; the replay against gemm_replay for
// the sm90 and fp32-fma models under every ScaleRule, bits and error bounds; the comparison
// against a direct evaluation with formats.hpp's ulp_distance and ulp_error. The fp64 block sums come from Eigen here (cuBLAS on the GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <string>

#include "gemm_test_util.hpp"
#include "reference_test_util.hpp"
#include "kernels/gemm/reference_host.hpp"
#include "kernels/gemm/reference_plan.hpp"
#include "reference/gemm/detail.hpp"
#include "suites/sample.hpp"

using namespace gemm_test;
using ulpgate::gemm_kernels::CompareBudget;
using ulpgate::gemm_kernels::GpuComparison;
using ulpgate::gemm_kernels::GpuIdeal;
using ulpgate::gemm_kernels::HostOptions;

namespace {

constexpr Format e4m3 = Format::e4m3fn, e5m2 = Format::e5m2;

const Arch& arch(std::string_view name) { return arch_by_name(name); }

struct Shape {
  int64_t m, n, k;
};
// A few K-blocks; odd M and N with partial tiles, a partial last K-block and a short last MMA step.
constexpr Shape kShapes[] = {{64, 96, 384}, {67, 130, 300}};

struct Case {
  Op op;
  std::string_view profile;
  Format a, b;
  bool ue8m0 = false;
  Spec spec(Shape s, Format out) const {
    Spec x = make_spec(op, profile, s.m, s.n, op == Op::mx ? s.k - s.k % 32 : s.k, a, b, out);  // MX: K % 32 = 0
    x.ue8m0 = ue8m0;
    return x;
  }
  std::string name(Shape s, Format out) const {
    return std::string(op_name(op)) + "/" + std::string(profile) + "/" + std::string(format_name(a)) + "x" +
           std::string(format_name(b)) + (ue8m0 ? "/ue8m0" : "") + "/" + std::string(format_name(out)) + "/" +
           std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
  }
};

// Every op and every ScaleRule, e5m2 on either side and on both.
const Case kCases[] = {
    {Op::tensor, "cublaslt", e4m3, e4m3},          {Op::tensor, "cublaslt", e5m2, e4m3},
    {Op::rowwise, "cublaslt", e4m3, e4m3},         {Op::rowwise, "aiter", e4m3, e4m3},
    {Op::block, "cublaslt", e4m3, e4m3},           {Op::block, "cutlass-blockwise", e4m3, e4m3},
    {Op::block, "cutlass-blockwise", e5m2, e5m2},  {Op::block, "deepgemm", e4m3, e4m3, true},
    {Op::mx, "ocp-mx", e4m3, e5m2},
};

// The device ideal equals gemm_ideal: every bit and every exact value.
void expect_ideal(const Arch& a, const Spec& s, const Operands& in, const std::string& what, HostOptions options = {}) {
  EXPECT_EQ(ideal_mismatches(ulpgate::gemm_kernels::ideal_host(a, s, in, options).ideal, gemm_ideal(s, in), what), 0);
}

// The replay's bits against gemm_model, and with the bound against gemm_replay: bits and bound
// bit for bit (the two launches keep 4 and 2 rows a thread).
void expect_replay(const Arch& a, const Spec& s, const AccumModel& model, const Operands& in, const std::string& what) {
  const Replay want = gemm_replay(s, model, in);
  const Output got = ulpgate::gemm_kernels::replay_host(a, s, model, in);
  const Replay bounded = ulpgate::gemm_kernels::bounded_replay_host(a, s, model, in);
  ASSERT_EQ(got.bits.size(), want.out.bits.size()) << what;
  ASSERT_EQ(bounded.bound.size(), want.bound.size()) << what;
  for (size_t i = 0; i < want.out.bits.size(); ++i) {
    const std::string at = what + " " + std::string(model.name) + " at (" + std::to_string(i / size_t(s.n)) + ", " +
                           std::to_string(i % size_t(s.n)) + ")";
    ASSERT_EQ(got.bits[i], want.out.bits[i]) << at;
    ASSERT_EQ(bounded.out.bits[i], want.out.bits[i]) << at << " (with the bound)";
    ASSERT_EQ(std::bit_cast<uint64_t>(bounded.bound[i]), std::bit_cast<uint64_t>(want.bound[i]))
        << at << ": bound " << bounded.bound[i] << ", the reference's " << want.bound[i];
  }
}

class OnHost : public ::testing::TestWithParam<std::string> {
 protected:
  const Arch& arch_ = arch(GetParam());
};

// Small scratch memory: the rows of A go through the block sums in several slabs.
constexpr HostOptions kSlabs{std::size_t(48) << 10, 0};

TEST_P(OnHost, IdealIsGemmIdealBitForBit) {
  uint64_t seed = 1;
  for (const Case& c : kCases)
    for (Shape shape : kShapes)
      for (Format out : {Format::bf16, Format::fp32})
        for (Data data : {Data::codes, Data::normal}) {
          const uint64_t item = seed++;
          if (!test_support::sampled(int64_t(item - 1))) continue;
          const Spec s = c.spec(shape, out);
          expect_ideal(arch_, s, random_operands(s, item, data), c.name(shape, out), kSlabs);
        }
}

// Unit scales and small integers: exact sums with many bf16 and fp32 ties (no error bound at all),
// decided on the device and rounded to even.
TEST_P(OnHost, IdealRoundsExactTiesToEven) {
  for (const Case& c : {kCases[0], kCases[4]}) {
    const Spec s = c.spec({32, 64, 256}, Format::bf16);
    Operands in = unit_scales(s, random_operands(s, 7));
    Rng g(3);
    for (auto& x : in.a) x = to_code(e4m3, double(g.below(9) - 4));
    for (auto& x : in.b) x = to_code(e4m3, double(g.below(9) - 4));
    const GpuIdeal got = ulpgate::gemm_kernels::ideal_host(arch_, s, in);
    EXPECT_EQ(got.host_resolved, 0);
    expect_ideal(arch_, s, in, c.name({32, 64, 256}, Format::bf16));
  }
}

// Subnormal codes only, the largest magnitudes only, and exact and near cancellation across
// K-blocks with equal scales (D = 0 exactly, and D a single subnormal product next to sums of
// 2^17-sized terms).
TEST_P(OnHost, IdealOnEdgeInputs) {
  const Spec s = kCases[4].spec({40, 72, 256}, Format::fp32);
  const Operands base = random_operands(s, 11);
  Rng g(5);
  Operands sub = base, big = base, cancel = base;
  for (auto& x : sub.a) x = uint8_t(1 + g.below(7) + 0x80 * g.below(2));  // e4m3 subnormals
  for (auto& x : sub.b) x = uint8_t(1 + g.below(7) + 0x80 * g.below(2));
  for (auto& x : big.a) x = g.below(2) ? 0x7E : 0xFE;  // +-448
  for (auto& x : big.b) x = g.below(2) ? 0x7E : 0xFE;
  // Block 1 repeats block 0 of A and negates block 0 of B; the scales of the two blocks are equal.
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t k = 0; k < 128; ++k) cancel.a[size_t(m * s.k + 128 + k)] = cancel.a[size_t(m * s.k + k)];
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t k = 0; k < 128; ++k) cancel.b[size_t(n * s.k + 128 + k)] = cancel.b[size_t(n * s.k + k)] ^ 0x80;
  const Geometry geo = geometry(s);
  for (int64_t m = 0; m < s.m; ++m) cancel.sa[size_t(geo.sa_index(m, 1))] = cancel.sa[size_t(geo.sa_index(m, 0))];
  for (int64_t n = 0; n < s.n; n += 128) cancel.sb[size_t(geo.sb_index(n, 1))] = cancel.sb[size_t(geo.sb_index(n, 0))];
  Operands near = cancel;  // one code of block 1 one step off: D is one product's difference
  for (int64_t m = 0; m < s.m; ++m) near.a[size_t(m * s.k + 128 + m % 128)] ^= 0x01;
  for (auto [in, what] : {std::pair{&sub, "subnormals"}, {&big, "max"}, {&cancel, "cancel"}, {&near, "near"}})
    for (Format out : {Format::bf16, Format::fp32}) {
      Spec so = s;
      so.out = out;
      expect_ideal(arch_, so, *in, what);
    }
  const Ideal zero = gemm_ideal(s, cancel);
  EXPECT_TRUE(std::ranges::all_of(zero.out.bits, [](uint32_t b) { return b == 0; })) << "D cancels to +0";
}

// Codes and scales that are NaN or Inf, and negative scales: the touched outputs come from the
// host's IEEE evaluation, the others from the device.
TEST_P(OnHost, IdealWithNonFiniteInputsAndNegativeScales) {
  for (const Case& c : {kCases[1], kCases[6]}) {
    const Spec s = c.spec({20, 40, 300}, Format::bf16);
    Operands in = random_operands(s, 21);
    for (float& x : in.sa) x = -x;
    in.a[size_t(3 * s.k + 17)] = 0x7F;                                         // NaN in row 3 of A
    if (s.b_format == e5m2) in.b[size_t(5 * s.k + 2)] = 0xFC;                  // -Inf in row 5 of B
    in.sa.back() = std::numeric_limits<float>::quiet_NaN();                    // the last row's scale
    in.sb[0] = std::numeric_limits<float>::infinity();                         // B's first scale row
    const GpuIdeal got = ulpgate::gemm_kernels::ideal_host(arch_, s, in);
    EXPECT_GT(got.nonfinite, 0);
    expect_ideal(arch_, s, in, c.name({20, 40, 300}, Format::bf16));
  }
}

// A bound widened beyond any rounding: every element is resolved on the host, with the same bits.
TEST_P(OnHost, IdealElementsResolvedOnTheHostAreGemmIdeal) {
  const Spec s = kCases[6].spec({9, 40, 300}, Format::bf16);
  const Operands in = random_operands(s, 31, Data::normal);
  const GpuIdeal got = ulpgate::gemm_kernels::ideal_host(arch_, s, in, {kSlabs.scratch_bytes, 1e300});
  EXPECT_EQ(got.host_resolved, s.m * s.n);
  expect_ideal(arch_, s, in, "widened", {kSlabs.scratch_bytes, 1e300});
}

// The tensor-core ideal's digits (CUDA only; its results are held to gemm_ideal on a GPU by
// test_gemm_reference_gpu): three signed 7-bit digits that rebuild every finite value of the
// operand's format exactly, and the plan declining what they cannot hold.
TEST(IdealPlan, TensorCoreDigitsRebuildEveryValue) {
  namespace gk = ulpgate::gemm_kernels;
  for (const Format f : {Format::e4m3fn, Format::e4m3fnuz}) {
    for (const Op op : {Op::block, Op::tensor, Op::rowwise}) {
      const Spec s = make_spec(op, "cublaslt", 8, 8, 300, f, f, Format::bf16);
      const gk::TensorCoreDigits d = gk::plan_ideal(s, 1 << 20).tensor_cores;
      ASSERT_TRUE(d.usable()) << format_name(f) << " " << op_name(op);
      EXPECT_EQ(d.folds_per_scale, op == Op::block ? 1 : INT64_MAX);
      EXPECT_EQ(d.integer_sum, op != Op::block);  // one scale for all of K
      const auto& table = ulpgate::gemm::detail::code_table(f);
      for (int c = 0; c < 256; ++c) {
        int64_t v = 0;
        for (int p = 2; p >= 0; --p) {
          const auto digit = int8_t(uint8_t(d.a[size_t(c)] >> 8 * p));
          EXPECT_LE(std::abs(int(digit)), 127);
          v = v * 128 + digit;
        }
        EXPECT_EQ(double(v) * d.quantum_a, table.finite[c] ? table.value[c] : 0.0) << format_name(f) << " code " << c;
        EXPECT_EQ(d.b[size_t(c)], d.a[size_t(c)]);
      }
    }
  }
  // 2^13 folds of 128 could pass 2^62 in int64: the two fp64 passes then
  EXPECT_FALSE(gk::plan_ideal(make_spec(Op::tensor, "cublaslt", 1, 1, 128 << 13, e4m3, e4m3, Format::bf16), 1 << 20)
                   .tensor_cores.integer_sum);
  EXPECT_FALSE(gk::plan_ideal(make_spec(Op::block, "cublaslt", 8, 8, 300, e4m3, e5m2, Format::bf16), 1 << 20)
                   .tensor_cores.usable());  // e5m2's values need 32 bits
  EXPECT_FALSE(gk::plan_ideal(make_spec(Op::mx, "ocp-mx", 8, 8, 256, e4m3, e4m3, Format::bf16), 1 << 20)
                   .tensor_cores.usable());  // scale blocks of 32 of K
}

TEST_P(OnHost, IdealOfEmptyShapes) {
  for (Shape shape : {Shape{0, 8, 64}, Shape{8, 0, 64}, Shape{5, 7, 0}, Shape{1, 1, 1}})
    for (const Case& c : {kCases[0], kCases[4]}) {
      const Spec s = c.spec(shape, Format::fp32);
      expect_ideal(arch_, s, random_operands(s, 41), c.name(shape, Format::fp32));
    }
}

// ---- the replay ----------------------------------------------------------------------------------

const Case kReplayCases[] = {
    {Op::tensor, "cublaslt", e4m3, e4m3},          {Op::tensor, "cublaslt-fast-accum", e4m3, e5m2},
    {Op::rowwise, "cublaslt", e5m2, e4m3},         {Op::rowwise, "aiter", e4m3, e4m3},
    {Op::block, "cublaslt", e4m3, e4m3},           {Op::block, "cutlass-blockwise", e5m2, e5m2},
    {Op::block, "deepgemm", e4m3, e4m3, true},     {Op::mx, "cublaslt", e4m3, e4m3},
};

TEST_P(OnHost, ReplayIsGemmModelBitForBit) {
  uint64_t seed = 100;
  for (std::string_view name : {"sm90", "sm90-fast-accum", "fp32-fma"})
    for (const Case& c : kReplayCases)
      for (Shape shape : kShapes)
        for (Format out : {Format::bf16, Format::fp32}) {
          const uint64_t item = seed++;
          if (!test_support::sampled(int64_t(item - 100))) continue;
          const Spec s = c.spec(shape, out);
          const Data data = item % 2 ? Data::codes : Data::normal;
          expect_replay(arch_, s, model(name), random_operands(s, item, data), c.name(shape, out));
        }
}

// Subnormals, the largest magnitudes (a step's sum needs all 20 bits), cancellation in a step
// (truncated terms of both signs) and zeros, with NaN and Inf inputs resolved on the host.
TEST_P(OnHost, ReplayOnEdgeInputs) {
  const Spec s = kReplayCases[0].spec({40, 72, 320}, Format::fp32);
  Rng g(9);
  Operands in = random_operands(s, 51);
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t k = 0; k < s.k; ++k) {
      uint8_t& x = in.a[size_t(m * s.k + k)];
      switch (m % 5) {
        case 0: x = uint8_t(1 + g.below(7) + 0x80 * g.below(2)); break;     // subnormal
        case 1: x = g.below(2) ? 0x7E : 0xFE; break;                        // +-448
        case 2: x = uint8_t((k % 2 ? 0x80 : 0) | (k / 2 % 2 ? 0x7E : 0x01)); break;  // 448 and 2^-9 cancelling
        case 3: x = g.below(3) ? 0 : random_code(e4m3, g); break;           // mostly zeros
        default: break;
      }
    }
  in.a[size_t(7 * s.k + 3)] = 0x7F;
  for (std::string_view name : {"sm90", "sm90-fast-accum", "fp32-fma"})
    for (const Case& c : {kReplayCases[0], kReplayCases[4]}) {
      const Spec cs = c.spec({40, 72, 320}, Format::fp32);
      Operands ci = in;
      ci.sa = random_operands(cs, 52).sa, ci.sb = random_operands(cs, 53).sb;
      if (ci.sb.size() > 1) ci.sb[1] = std::numeric_limits<float>::infinity();  // B's second scale row
      expect_replay(arch_, cs, model(name), ci, c.name({40, 72, 320}, Format::fp32));
    }
}

TEST_P(OnHost, ReplayRefusesModelsItDoesNotEmulate) {
  const Spec s = kReplayCases[0].spec({8, 8, 64}, Format::fp32);
  const Operands in = random_operands(s, 61);
  for (std::string_view name : {"sm100", "gfx942", "sm90-cublaslt-parts3072"})
    EXPECT_THROW(ulpgate::gemm_kernels::replay_host(arch_, s, model(name), in), ulpgate::gemm_kernels::ReferenceGpuError)
        << name;
}

// ---- the comparison ------------------------------------------------------------------------------

// The comparison evaluated directly, element by element, with formats.hpp's functions.
GpuComparison direct_comparison(const Spec& s, const Output& expected, const std::vector<double>& exact,
                                const Output& got, double ulps) {
  GpuComparison r;
  r.tiles_m = (s.m + 127) / 128, r.tiles_n = (s.n + 127) / 128;
  r.tile_over.assign(size_t(r.tiles_m * r.tiles_n), 0);
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t n = 0; n < s.n; ++n) {
      const size_t i = size_t(m * s.n + n);
      const double x = exact.empty() ? expected.value(i) : exact[i], v = got.value(i);
      const auto d = ulp_distance(s.out, expected.bits[i], got.bits[i]);
      const int bin = !d ? 33 : *d == 0 ? 0 : int(std::bit_width(uint64_t(*d)));
      ++r.ulp_histogram[size_t(bin)];
      const double err = std::isnan(v) != std::isnan(x) ? HUGE_VAL : ulp_error(s.out, v, x);
      r.max_ulp_error = std::max(r.max_ulp_error, err);
      if (d && *d == 0) {
        ++r.exact;
      } else if (d && std::isfinite(v) && std::fabs(v - x) <= ulps * ulp_of(s.out, x)) {
        ++r.within;
      } else {
        ++r.over;
        ++r.tile_over[size_t(m / 128 * r.tiles_n + n / 128)];
        if (r.first_bad.size() < 8) r.first_bad.push_back({m, n, expected.bits[i], got.bits[i], x, err});
      }
    }
  return r;
}

// D off by 1 and 3 ulps here and there, a NaN, an Inf, a sign flip, the second tile along the
// diagonal one code up.
Output perturbed(const Spec& s, const Output& d) {
  Output x = d;
  const uint32_t nan = s.out == Format::bf16 ? 0x7FC0u : 0x7FC00000u, inf = s.out == Format::bf16 ? 0x7F80u : 0x7F800000u;
  const uint32_t sign = s.out == Format::bf16 ? 0x8000u : 0x80000000u;
  const auto at = [&](int64_t m, int64_t n) -> uint32_t& { return x.bits[size_t(std::min(m, s.m - 1) * s.n + std::min(n, s.n - 1))]; };
  for (size_t i = 0; i < x.bits.size(); i += 37) x.bits[i] += 1;
  for (size_t i = 5; i < x.bits.size(); i += 101) x.bits[i] += 3;
  at(3, 200) = nan;
  at(150, 7) = inf;
  at(190, 290) ^= sign;
  for (int64_t m = 128; m < std::min<int64_t>(256, s.m); ++m)
    for (int64_t n = 128; n < std::min<int64_t>(256, s.n); ++n) at(m, n) += 1;
  return x;
}

TEST_P(OnHost, ComparisonCountsEveryElementAsADirectEvaluationDoes) {
  for (Format out : {Format::bf16, Format::fp32}) {
    const Spec s = kCases[4].spec({200, 300, 128}, out);
    const Ideal ideal = gemm_ideal(s, random_operands(s, 71, Data::normal));
    const Output got = perturbed(s, ideal.out);
    for (double ulps : {0.0, 0.5, 4.0}) {
      const GpuComparison want = direct_comparison(s, ideal.out, ideal.exact, got, ulps);
      EXPECT_GT(want.over, 0);
      expect_same(ulpgate::gemm_kernels::compare_host(arch_, s, ideal, got, {ulps, {}}), want);
      expect_same(ulpgate::gemm_kernels::compare_host(arch_, s, ideal.out, got, {ulps, {}}),
                  direct_comparison(s, ideal.out, {}, got, ulps));
    }
    const GpuComparison same = ulpgate::gemm_kernels::compare_host(arch_, s, ideal, ideal.out);
    EXPECT_EQ(same.exact, s.m * s.n);
    EXPECT_EQ(same.over, 0);
    EXPECT_TRUE(same.first_bad.empty());
  }
}

// A per-element bound admits exactly the elements it covers.
TEST_P(OnHost, ComparisonWithAPerElementBound) {
  const Spec s = kCases[4].spec({130, 140, 128}, Format::fp32);
  const Ideal ideal = gemm_ideal(s, random_operands(s, 81));
  const Output got = perturbed(s, ideal.out);
  std::vector<double> bound(got.bits.size());
  for (size_t i = 0; i < bound.size(); ++i) bound[i] = i % 2 ? HUGE_VAL : 0.0;
  const GpuComparison r = ulpgate::gemm_kernels::compare_host(arch_, s, ideal, got, {0.0, bound});
  const GpuComparison none = direct_comparison(s, ideal.out, ideal.exact, got, 0.0);
  int64_t admitted = 0;  // odd elements off the expected code with a finite value
  for (size_t i = 1; i < bound.size(); i += 2) {
    const auto d = ulp_distance(s.out, ideal.out.bits[i], got.bits[i]);
    admitted += d && *d != 0 && std::isfinite(got.value(i));
  }
  EXPECT_GT(admitted, 0);
  EXPECT_EQ(r.exact, none.exact);
  EXPECT_EQ(r.within, admitted);
  EXPECT_EQ(r.over, none.over - admitted);
}

INSTANTIATE_TEST_SUITE_P(Warps, OnHost, ::testing::Values("host-w32", "host-w64"),
                         [](const auto& info) { return info.param == "host-w32" ? "w32" : "w64"; });

}  // namespace
