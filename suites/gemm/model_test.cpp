// The accumulator models' replays: fp32-fma against a literal std::fma loop, every model within its
// error bound of the exact value (and the bound not absurdly loose), fast accumulation against
// promotion at the error levels spec/gemm.md measured, and problem() for every bad spec.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "gemm_test_util.hpp"

using namespace gemm_test;

namespace {

// The literal SIMT kernel of the fp32-fma model (gemm.hpp, model.hpp), written out per ScaleRule.
float literal_fma_gemm(const Spec& s, const Operands& in, int64_t m, int64_t n) {
  const Geometry g = geometry(s);
  const auto a = [&](int64_t k) { return float(decode(s.a_format, in.a[size_t(m * s.k + k)])); };
  const auto b = [&](int64_t k) { return float(decode(s.b_format, in.b[size_t(n * s.k + k)])); };
  const auto dot = [&](int64_t k0, int64_t k1) {
    float acc = 0;
    for (int64_t k = k0; k < k1; ++k) acc = std::fma(a(k), b(k), acc);
    return acc;
  };
  if (g.epilogue_scales()) {
    const float acc = dot(0, s.k), sa = in.sa[size_t(g.sa_index(m, 0))], sb = in.sb[size_t(g.sb_index(n, 0))];
    switch (s.op == Op::tensor ? s.profile->tensor : s.profile->rowwise) {
      case ScaleRule::product_first: return (sa * sb) * acc;
      case ScaleRule::a_first: return (acc * sa) * sb;
      case ScaleRule::b_first: return sa * (sb * acc);
    }
  }
  float main = 0;
  for (int64_t kb = 0; kb < g.kblocks; ++kb) {
    const float block = dot(g.block_begin(kb), g.block_end(kb));
    const float sa = in.sa[size_t(g.sa_index(m, kb))], sb = in.sb[size_t(g.sb_index(n, kb))];
    switch (s.profile->block) {
      case ScaleRule::product_first: main = std::fma(block, sa * sb, main); break;
      case ScaleRule::a_first: main = std::fma(block * sa, sb, main); break;
      case ScaleRule::b_first: main = std::fma(block * sb, sa, main); break;
    }
  }
  return main;
}

struct Case {
  Op op;
  std::string_view profile;
  Format a, b;
  bool ue8m0 = false;

  Spec spec(int64_t m, int64_t n, int64_t k, Format out) const {
    Spec s = make_spec(op, profile, m, n, k, a, b, out);
    s.ue8m0 = ue8m0;
    return s;
  }
};
const Case kCases[] = {
    {Op::tensor, "cublaslt", Format::e4m3fn, Format::e5m2},
    {Op::rowwise, "cublaslt", Format::e4m3fn, Format::e4m3fn},
    {Op::rowwise, "aiter", Format::e4m3fnuz, Format::e4m3fnuz},
    {Op::block, "cublaslt", Format::e4m3fn, Format::e4m3fn},
    {Op::block, "cutlass-blockwise", Format::e5m2, Format::e5m2},
    {Op::block, "deepgemm", Format::e4m3fn, Format::e4m3fn, true},  // power-of-two scales: in the MMA on sm100
    {Op::mx, "ocp-mx", Format::e4m3fn, Format::e5m2},
};

}  // namespace

TEST(GemmModel, Fp32FmaIsALiteralFmaLoop) {
  for (const Case& c : kCases)
    for (Format out : {Format::fp32, Format::bf16})
      for (Data data : {Data::normal, Data::codes}) {
        const Spec s = c.spec(5, 9, c.op == Op::mx ? 320 : 333, out);
        const Operands in = random_operands(s, 3, data);
        const Output got = gemm_model(s, model("fp32-fma"), in);
        ASSERT_EQ(gemm_replay(s, model("fp32-fma"), in).out.bits, got.bits);  // the step machinery too
        for (int64_t m = 0; m < s.m; ++m)
          for (int64_t n = 0; n < s.n; ++n) {
            const float want = literal_fma_gemm(s, in, m, n);
            const uint32_t bits = out == Format::fp32 ? std::bit_cast<uint32_t>(want) : float_to_bf16(want);
            ASSERT_EQ(got.bits[size_t(m * s.n + n)], bits) << op_name(c.op) << " " << c.profile << " (" << m << ", " << n << ")";
          }
      }
}

// The one-product step of fp32-fma is fmaf for any c (model.cpp kFma): fp8 products of every size
// against accumulators over all of fp32's range, subnormals and cancellations included; the replay
// relies on it (step.hpp is_fmaf).
TEST(GemmModel, TheFp32FmaStepIsFmaf) {
  const MmaStep& fma_step = model("fp32-fma").step;
  Rng g(17);
  for (Format f : {Format::e4m3fn, Format::e5m2, Format::e4m3fnuz})
    for (int i = 0; i < 200000; ++i) {
      const uint8_t a = random_code(f, g), b = random_code(f, g);
      const double p = decode(f, a) * decode(f, b);
      float c;
      switch (i % 4) {
        case 0: c = std::bit_cast<float>(uint32_t(g.next() >> 32) & 0xFF7FFFFFu); break;  // any finite
        case 1: c = float(-p * (1 + (g.uniform() - 0.5) * 0x1p-20)); break;              // near cancellation
        case 2: c = float(p * std::ldexp(g.uniform(), -g.below(40))); break;              // below p
        default: c = std::bit_cast<float>(uint32_t(g.next() >> 41));                     // fp32 subnormals
      }
      const std::array ca{a}, cb{b};
      const float got = mma_step(fma_step, f, f, ca, cb, c), want = std::fma(float(decode(f, a)), float(decode(f, b)), c);
      // An exact zero is +0 (model.hpp); fmaf keeps -0 when every term is -0, which a chain from +0 never holds.
      if (want == 0) ASSERT_EQ(got, 0.0f);
      else ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
          << format_name(f) << " a " << int(a) << " b " << int(b) << " c " << c;
    }
}

// The replay runs fp32-fma as fmaf with half an ulp of each result as its bound (replay.cpp): the
// same bits as the step machinery (a copy of the row whose E floor keeps it off the fmaf path) and
// a bound no looser than the step's, still above the error.
TEST(GemmModel, TheFmafPathBoundsEachResultByHalfAnUlp) {
  AccumModel stepped = model("fp32-fma");
  stepped.step.e_floor = -100000 + 1;  // below any exponent: the same arithmetic, the step path
  for (const Case& c : kCases) {
    const Spec s = c.spec(4, 20, c.op == Op::mx ? 320 : 333, Format::fp32);
    const Operands in = random_operands(s, 7, Data::normal);
    const Replay fast = gemm_replay(s, model("fp32-fma"), in), slow = gemm_replay(s, stepped, in);
    const Ideal ideal = gemm_ideal(s, in);
    ASSERT_EQ(fast.out.bits, slow.out.bits) << op_name(c.op) << " " << c.profile;
    for (size_t i = 0; i < fast.bound.size(); ++i) {
      ASSERT_LE(fast.bound[i], slow.bound[i]) << op_name(c.op) << " " << c.profile << " at " << i;
      ASSERT_LE(std::fabs(fast.out.value(i) - ideal.exact[i]), fast.bound[i]) << op_name(c.op) << " at " << i;
    }
  }
}

// Every model, on every op it can run, stays within its bound of the exact value, and the bound
// is within 1000x of the largest error seen (spec/gemm.md: worst-case gamma bounds are about 1000x
// above what is measured, too loose to catch anything). Errors and bounds are compared relative to
// each output's magnitude sum |sa sb a b|, as spec/gemm.md measures errors: random scales make the
// raw maxima come from different outputs.
TEST(GemmModel, EveryModelIsWithinItsBoundAndTheBoundIsNotAbsurd) {
  for (const AccumModel& model : models())
    for (const Case& c : kCases) {
      Spec s = c.spec(8, 24, c.op == Op::mx ? 1024 : 1000, Format::fp32);
      const Operands in = random_operands(s, 5, Data::normal);
      const Geometry g = geometry(s);
      const Ideal ideal = gemm_ideal(s, in);
      const Replay replay = gemm_replay(s, model, in);
      double max_err = 0, max_bound = 0;
      for (int64_t m = 0; m < s.m; ++m)
        for (int64_t n = 0; n < s.n; ++n) {
          const size_t i = size_t(m * s.n + n);
          const double err = std::fabs(replay.out.value(i) - ideal.exact[i]);
          ASSERT_LE(err, replay.bound[i]) << model.name << " " << op_name(c.op) << " " << c.profile << " at " << i;
          double magnitude = 0;
          for (int64_t k = 0; k < s.k; ++k) {
            const int64_t kb = g.epilogue_scales() ? 0 : k / g.kblock;
            magnitude += std::fabs(double(in.sa[size_t(g.sa_index(m, kb))]) * in.sb[size_t(g.sb_index(n, kb))] *
                                   decode(s.a_format, in.a[size_t(m * s.k + k)]) *
                                   decode(s.b_format, in.b[size_t(n * s.k + k)]));
          }
          max_err = std::max(max_err, err / magnitude), max_bound = std::max(max_bound, replay.bound[i] / magnitude);
        }
      std::printf("%-16s %-13s %-18s max err %.3g, max bound %.3g (of sum |sa sb a b|): bound / err %.0f\n",
                  std::string(model.name).c_str(), std::string(op_name(c.op)).c_str(), std::string(c.profile).c_str(),
                  max_err, max_bound, max_bound / max_err);
      EXPECT_LT(max_bound, 1000 * max_err) << model.name << " " << op_name(c.op);
      // bf16 outputs: within the bound plus half a bf16 ulp of the fp32 result.
      s.out = Format::bf16;
      const Output bf16 = gemm_model(s, model, in);
      for (size_t i = 0; i < ideal.exact.size(); ++i)
        ASSERT_LE(std::fabs(bf16.value(i) - ideal.exact[i]),
                  replay.bound[i] + 0.5 * ulp_of(Format::bf16, std::fabs(replay.out.value(i))))
            << model.name;
    }
}

// spec/gemm.md, measured at K = 4096 on random normal e4m3 data: fast-accum max |err| / sum |a b|
// about 3e-4 (median relative 9.6e-4); promotion every 128 K about 1.6e-5 (1.2e-4).
TEST(GemmModel, FastAccumulationAgainstPromotionAtK4096) {
  const Spec s = make_spec(Op::tensor, "cublaslt", 32, 64, 4096, Format::e4m3fn, Format::e4m3fn, Format::fp32);
  const Operands in = unit_scales(s, random_operands(s, 4096, Data::normal));
  const Ideal ideal = gemm_ideal(s, in);
  std::vector<double> abs_sum(size_t(s.m * s.n));
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t k = 0; k < s.k; ++k)
        abs_sum[size_t(m * s.n + n)] += std::fabs(decode(s.a_format, in.a[size_t(m * s.k + k)]) *
                                                  decode(s.b_format, in.b[size_t(n * s.k + k)]));
  const auto measure = [&](std::string_view name) {
    const Output out = gemm_model(s, model(name), in);
    double worst = 0;
    std::vector<double> rel;
    for (size_t i = 0; i < abs_sum.size(); ++i) {
      const double err = std::fabs(out.value(i) - ideal.exact[i]);
      worst = std::max(worst, err / abs_sum[i]);
      rel.push_back(err / std::fabs(ideal.exact[i]));
    }
    std::nth_element(rel.begin(), rel.begin() + int64_t(rel.size() / 2), rel.end());
    std::printf("%-16s max |err| / sum |a b| = %.3g, median relative error %.3g\n", std::string(name).c_str(), worst,
                rel[rel.size() / 2]);
    return worst;
  };
  const double fast = measure("sm90-fast-accum"), promoted = measure("sm90");
  EXPECT_GT(fast, 1e-4);
  EXPECT_LT(fast, 1e-3);
  EXPECT_GT(promoted, 5e-6);
  EXPECT_LT(promoted, 5e-5);
}

// The profile's scale rule changes bits: cuBLASLt's one rounding of G * fl(sa sb) against
// CUTLASS's fl(G sa) then an FMA with sb (spec/gemm.md: `main + (G sa) sb` matched only 39%).
TEST(GemmModel, TheScaleRuleOfTheProfileMatters) {
  Spec s = make_spec(Op::block, "cublaslt", 16, 32, 512, Format::e4m3fn, Format::e4m3fn, Format::fp32);
  const Operands in = random_operands(s, 9, Data::normal);
  const Output one = gemm_model(s, model("sm90"), in);
  s.profile = &profile("cutlass-blockwise");
  const Output two = gemm_model(s, model("sm90"), in);
  size_t same = 0;
  for (size_t i = 0; i < one.bits.size(); ++i) same += one.bits[i] == two.bits[i];
  EXPECT_LT(same, one.bits.size() * 9 / 10);
  EXPECT_GT(same, 0u);
}

TEST(GemmModel, NonFiniteInputsAndEmptyShapes) {
  const Spec s = make_spec(Op::block, "cublaslt", 2, 130, 256, Format::e4m3fn, Format::e4m3fn, Format::fp32);
  Operands in = random_operands(s, 2);
  in.a[3] = 0x7F;  // NaN in row 0 of A
  in.sb[3] = std::numeric_limits<float>::infinity();  // B scale row 1 (columns 128, 129), block 1
  for (const AccumModel& m : models()) {
    const Replay r = gemm_replay(s, m, in);
    EXPECT_TRUE(std::isnan(r.out.value(0)) && std::isnan(r.out.value(129))) << m.name;
    EXPECT_TRUE(std::isinf(r.bound[0])) << m.name;
    EXPECT_FALSE(std::isfinite(r.out.value(130 + 128))) << m.name;  // Inf * G
    EXPECT_TRUE(std::isfinite(r.out.value(130 + 127))) << m.name;
  }
  for (auto [m, n, k] : {std::tuple{0, 5, 64}, {5, 0, 64}}) {
    const Spec e = make_spec(Op::block, "cublaslt", m, n, k);
    EXPECT_TRUE(gemm_model(e, model("sm90"), random_operands(e, 1)).bits.empty());
  }
  const Spec zero_k = make_spec(Op::rowwise, "cublaslt", 2, 2, 0);
  EXPECT_EQ(gemm_model(zero_k, model("sm90"), random_operands(zero_k, 1)).bits, std::vector<uint32_t>(4, 0u));
}

TEST(GemmSpec, ProblemNamesEveryBadSpec) {
  const auto problem = [](Spec s) { return s.problem(); };
  Spec ok = make_spec(Op::block, "cublaslt", 4, 8, 256);
  EXPECT_EQ(problem(ok), "");
  Spec s = ok;
  s.profile = nullptr;
  EXPECT_NE(problem(s).find("no gemm profile"), std::string::npos);
  s = make_spec(Op::mx, "deepgemm", 4, 8, 256);
  EXPECT_NE(problem(s).find("does not implement gemm.mx (it implements gemm.block)"), std::string::npos);
  s = make_spec(Op::block, "deepgemm", 4, 8, 256, Format::e4m3fn, Format::e5m2);
  EXPECT_NE(problem(s).find("does not take e4m3fn x e5m2 (it takes e4m3fn x e4m3fn)"), std::string::npos);
  s = make_spec(Op::tensor, "cublaslt", 4, 8, 256, Format::e5m2, Format::e5m2);
  EXPECT_NE(problem(s).find("does not take e5m2 x e5m2"), std::string::npos);
  s = make_spec(Op::block, "cublaslt", 4, 8, 256, Format::e4m3fnuz, Format::e4m3fnuz);  // fnuz on NVIDIA
  EXPECT_NE(problem(s).find("does not take e4m3fnuz"), std::string::npos);
  s = make_spec(Op::block, "aiter", 4, 8, 256, Format::e4m3fnuz, Format::e4m3fnuz);
  EXPECT_EQ(problem(s), "");
  s = ok, s.out = Format::fp16;
  EXPECT_NE(problem(s).find("output fp16 is not bf16 or fp32"), std::string::npos);
  s = ok, s.out = Format::e4m3fn;
  EXPECT_NE(problem(s).find("is not bf16 or fp32"), std::string::npos);
  s = ok, s.k = -1;
  EXPECT_NE(problem(s).find("negative size"), std::string::npos);
  s = make_spec(Op::mx, "ocp-mx", 4, 8, 48);
  EXPECT_NE(problem(s).find("K = 48 is not a multiple of the MX block (32)"), std::string::npos);
  s = ok, s.ue8m0 = true;
  EXPECT_NE(problem(s).find("has no ue8m0 scale layout"), std::string::npos);
  s = make_spec(Op::tensor, "cublaslt", 4, 8, 256), s.ue8m0 = true;
  EXPECT_NE(problem(s).find("ue8m0 scales are a gemm.block option"), std::string::npos);
  s = make_spec(Op::block, "deepgemm", 4, 8, 256), s.ue8m0 = true;
  EXPECT_EQ(problem(s), "");
  s = make_spec(Op::block, "aiter-bpreshuffle", 4, 24, 256, Format::e4m3fnuz, Format::e4m3fnuz);
  EXPECT_NE(problem(s).find("N = 24 and K = 256 must be multiples of 16 and 32"), std::string::npos);
  // Valid: zero sizes, K not a multiple of 128 for gemm.block (a zero-padded last block), any K
  // for the epilogue ops.
  for (auto [m, n, k] : {std::tuple{0, 8, 256}, {4, 0, 256}, {4, 8, 0}, {4, 8, 200}})
    EXPECT_EQ(problem(make_spec(Op::block, "cublaslt", m, n, k)), "");
  EXPECT_EQ(problem(make_spec(Op::tensor, "cublaslt", 4, 8, 17)), "");
}

TEST(GemmSpec, OperandChecks) {
  Spec s = make_spec(Op::mx, "ocp-mx", 2, 3, 64);
  Operands in = random_operands(s, 1);
  EXPECT_NO_THROW(check(s, in));
  in.sa[1] = 0.75f;
  EXPECT_THROW(check(s, in), UsageError);  // not a power of two
  in.sa[1] = -2.0f;
  EXPECT_THROW(check(s, in), UsageError);
  in = random_operands(s, 1);
  in.b.pop_back();
  EXPECT_THROW(gemm_ideal(s, in), UsageError);
  in = random_operands(s, 1);
  in.sb.push_back(1);
  EXPECT_THROW(gemm_model(s, model("sm100"), in), UsageError);
  EXPECT_THROW(model("sm91"), UsageError);
  EXPECT_THROW(parse_op("gemm.blocky"), UsageError);
  EXPECT_EQ(parse_op("gemm.rowwise"), Op::rowwise);
}

// The rows carry the measured facts of spec/gemm.md.
TEST(GemmSpec, ProfileAndModelRowsCarryTheSpecFacts) {
  EXPECT_EQ(profile("cublaslt").block, ScaleRule::product_first);  // fma(G, fl(sa sb), main)
  EXPECT_EQ(profile("cublaslt").rowwise, ScaleRule::b_first);      // RN(sa RN(sb acc))
  EXPECT_EQ(profile("cublaslt").tensor, ScaleRule::product_first);  // the unmeasured default
  EXPECT_EQ(profile("deepgemm").block, ScaleRule::product_first);
  EXPECT_EQ(profile("cutlass-blockwise").block, ScaleRule::a_first);
  EXPECT_EQ(profile("cublaslt-fast-accum").promote_k, 0);
  EXPECT_EQ(profile("cublaslt").promote_k, 128);
  const MmaStep& sm90 = model("sm90").step;
  EXPECT_EQ(sm90.k, 32);
  EXPECT_EQ(sm90.frac_bits, 13);
  EXPECT_EQ(sm90.e_floor, -133);
  EXPECT_EQ(sm90.sum_bits, 14);
  EXPECT_EQ(model("sm90").promote_k, 128);
  EXPECT_EQ(model("sm90-fast-accum").promote_k, 0);
  for (const AccumModel& m : models()) {  // validated means hardware, MMA-Sim or exact by definition
    EXPECT_EQ(m.validated, !m.validation.starts_with("hypothesis")) << m.name;
    EXPECT_FALSE(m.source.empty()) << m.name;
  }
  EXPECT_FALSE(model("gfx950").validated);  // CDNA4: no validated source exists
}

// Split-K (model.hpp): K cut into parts of whole chains, each summed from zero, the fp32 partials
// combined sequentially or pairwise; one part is the unsplit replay.
TEST(GemmModel, SplitKSumsThePartsOfWholeChainsInFp32) {
  Spec s = make_spec(Op::tensor, "cublaslt", 2, 3, 1000);
  const Operands in = random_operands(s, 7);
  AccumModel one = model("sm90-fast-accum");
  one.split = 1;
  EXPECT_EQ(gemm_model(s, one, in).bits, gemm_model(s, model("sm90-fast-accum"), in).bits);
  // Four parts of 8 steps (256 K; the last 232): each part's chain by the unsplit machinery on its
  // K range, then ((p0 + p1) + p2) + p3 or (p0 + p1) + (p2 + p3) in fp32.
  AccumModel split = one;
  split.split = 4;
  const Output seq = gemm_model(s, split, in);
  split.combine = Combine::pairwise;
  const Output pair = gemm_model(s, split, in);
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t n = 0; n < s.n; ++n) {
      float p[4];
      for (int part = 0; part < 4; ++part) {
        Spec sub = make_spec(Op::tensor, "cublaslt", 1, 1, std::min<int64_t>(256, 1000 - 256 * part));
        Operands x{{}, {}, {1.0f}, {1.0f}};
        for (int64_t k = 256 * part; k < 256 * part + sub.k; ++k) {
          x.a.push_back(in.a[size_t(m * s.k + k)]);
          x.b.push_back(in.b[size_t(n * s.k + k)]);
        }
        p[part] = decode(Format::fp32, gemm_model(sub, model("sm90-fast-accum"), x).bits[0]);
      }
      const float scale = in.sa[0] * in.sb[0];  // cublaslt's tensor rule: acc * fl(sa * sb)
      const size_t at = size_t(m * s.n + n);
      EXPECT_EQ(decode(Format::fp32, seq.bits[at]), (((p[0] + p[1]) + p[2]) + p[3]) * scale);
      EXPECT_EQ(decode(Format::fp32, pair.bits[at]), ((p[0] + p[1]) + (p[2] + p[3])) * scale);
    }
}

// sm90-mma-fp8 (model.cpp kSm90MmaFp8): each 32 K in two f16 steps taking K in alternate runs of
// 2, as Triton's pairwise fp8 -> f16x2 conversions feed m16n8k16: the chain is those two steps.
TEST(GemmModel, InterleavedStepsTakeAlternateRunsOfK) {
  Rng g(5);
  const MmaStep& fp8 = model("sm90-mma-fp8").step;
  const MmaStep& f16 = model("sm90-mma-f16").step;
  int differ = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> a(64), b(64);
    for (size_t i = 0; i < 64; ++i) a[i] = random_code(Format::e4m3fn, g), b[i] = random_code(Format::e4m3fn, g);
    float want = 0;
    for (int chunk = 0; chunk < 64; chunk += 32)
      for (int half = 0; half < 2; ++half) {
        std::vector<uint8_t> sa, sb;
        for (int i = chunk; i < chunk + 32; ++i)
          if (((i - chunk) / 2) % 2 == half) sa.push_back(a[size_t(i)]), sb.push_back(b[size_t(i)]);
        want = mma_step(f16, Format::e4m3fn, Format::e4m3fn, sa, sb, want);
      }
    EXPECT_EQ(mma_chain(fp8, Format::e4m3fn, Format::e4m3fn, a, b, 0.0f), want);
    differ += mma_chain(f16, Format::e4m3fn, Format::e4m3fn, a, b, 0.0f) != want;
  }
  EXPECT_GT(differ, 0);  // contiguous steps give other bits on some of them
}
