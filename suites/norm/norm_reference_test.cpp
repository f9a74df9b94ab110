// The RMSNorm reference against values derived by hand (spec/norm.md), the sourced profile facts
// (reference/norm/profile.cpp); the comparator's bounds are r_bounds_test.cpp's.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <set>

#include <random>

#include <boost/multiprecision/cpp_bin_float.hpp>

#include "reference/norm/norm.hpp"
#include "reference/quant/layout.hpp"
#include "suites/norm/reference_inputs.hpp"

using namespace ulpgate;
using namespace ulpgate::norm;
using namespace ulpgate::norm::testing;


// ---- hand-computed cases ---------------------------------------------------------------------

// H = 1, x = 3, eps = 7: ms + eps = 16, r = 1/4 exactly; y = T(T(3/4) * -2) = -1.5.
TEST(NormReference, HandH1PerfectSquare) {
  const Profile p = with_eps("vllm", 7.0);
  const Spec s = make_spec(Op::rms, p, Format::bf16, 1, 1);
  const Inputs in = constant_row(1, 3.0f, -2.0f);
  const Result r = normalize_profile(s, in);
  EXPECT_EQ(r.r[0], 0.25f);
  EXPECT_EQ(value_of(Format::bf16, r.y[0]), -1.5f);
  const Ideal id = normalize_ideal(s, in, r);
  EXPECT_EQ(id.r[0], 0.25);
  EXPECT_EQ(id.exact[0], -1.5);
  EXPECT_EQ(id.y[0], r.y[0]);
}

// H = 2, x = {3, 4}: S = 25, ms = 12.5, eps = 3.5: r = 1/4; y = {0.75 * 1.25, 1 * 0.5} (fp16).
TEST(NormReference, HandH2PerfectSquare) {
  const Profile p = with_eps("hf", 3.5);
  const Spec s = make_spec(Op::rms, p, Format::fp16, 1, 2);
  const Inputs in{{3.0f, 4.0f}, {}, {1.25f, 0.5f}};
  const Result r = normalize_profile(s, in);
  EXPECT_EQ(r.r[0], 0.25f);
  EXPECT_EQ(value_of(Format::fp16, r.y[0]), 0.9375f);
  EXPECT_EQ(value_of(Format::fp16, r.y[1]), 0.5f);
}

// H = 17 (not a power of two: fl(S / 17) must be exact here), x = 1.5: S = 38.25, ms = 2.25,
// eps = 1.75: r = 1/2; y = T(0.75 * 1.25) = 0.9375. Were eps outside the square root, r would be
// 1/1.5 + 1.75 or 1/(1.5 + 1.75), never 1/2.
TEST(NormReference, HandH17ConstantRowEpsInsideTheSqrt) {
  const Profile p = with_eps("vllm", 1.75);
  const Spec s = make_spec(Op::rms, p, Format::bf16, 1, 17);
  const Inputs in = constant_row(17, 1.5f, 1.25f);
  const Result r = normalize_profile(s, in);
  EXPECT_EQ(r.r[0], 0.5f);
  for (uint16_t y : r.y) EXPECT_EQ(value_of(Format::bf16, y), 0.9375f);
  const Ideal id = normalize_ideal(s, in, r);
  EXPECT_EQ(id.r[0], 0.5);
  for (size_t i = 0; i < 17; ++i) EXPECT_EQ(id.y[i], r.y[i]);
}

// The real eps (fl32(1e-6) = 0x1.0c6f7ap-20): ones, H = 4: v = fl32(1 + eps) = 1 + 8 * 2^-23,
// r = RN(1 - 2^-21 + 3 * 2^-43) = 1 - 2^-21.
TEST(NormReference, HandOnesWithTheRealEps) {
  const Spec s = make_spec(Op::rms, profile("vllm"), Format::bf16, 1, 4);
  const Result r = normalize_profile(s, constant_row(4, 1.0f, 1.0f));
  EXPECT_EQ(profile("vllm").eps, 0x1.0c6f7ap-20f);
  EXPECT_EQ(r.r[0], 1.0f - 0x1p-21f);
  for (uint16_t y : r.y) EXPECT_EQ(value_of(Format::bf16, y), 1.0f);  // T(1 - 2^-21) = 1
}

// eps dominates a tiny row: x = 2^-20 (ms = 2^-40): r = 1/sqrt(2^-40 + 1e-6) = 999.99957... (paper:
// 0x1.f3fff2p+9); with eps outside the square root r would be about 2^20.
TEST(NormReference, EpsInsideTheSqrtForATinyRow) {
  const Spec s = make_spec(Op::rms, profile("vllm"), Format::bf16, 1, 17);
  const Result r = normalize_profile(s, constant_row(17, 0x1p-20f, 1.0f));
  EXPECT_EQ(r.r[0], 0x1.f3fff2p+9f);
}

// ---- profile differences on constructed inputs ---------------------------------------------------

// x = {1, 1}, residual = {5 * 2^-9, 0}: vLLM squares T(z) = {1.0078125, 1}, AITER the fp32
// z = {1.009765625, 1}. Paper: r = 0x1.fe00f2p-1 (vllm), 0x1.fd8182p-1 (aiter); y[0] =
// T(T(1.0078125 r)) = 1.0 vs T(fl(1.009765625 r)) = 1.0078125. Both write back T(z) = 1.0078125.
TEST(NormReference, ResidualRoundingDiffersBetweenVllmAndAiter) {
  const Inputs in{{1.0f, 1.0f}, {5 * 0x1p-9f, 0.0f}, {1.0f, 1.0f}};
  const Result v = normalize_profile(make_spec(Op::rms_add, profile("vllm"), Format::bf16, 1, 2), in);
  const Result a = normalize_profile(make_spec(Op::rms_add, profile("aiter"), Format::bf16, 1, 2), in);
  EXPECT_EQ(v.r[0], 0x1.fe00f2p-1f);
  EXPECT_EQ(a.r[0], 0x1.fd8182p-1f);
  EXPECT_EQ(value_of(Format::bf16, v.y[0]), 1.0f);
  EXPECT_EQ(value_of(Format::bf16, a.y[0]), 1.0078125f);
  EXPECT_EQ(value_of(Format::bf16, v.y[1]), 0.99609375f);
  EXPECT_EQ(v.y[1], a.y[1]);
  EXPECT_EQ(v.residual, a.residual);
  EXPECT_EQ(value_of(Format::bf16, v.residual[0]), 1.0078125f);
  EXPECT_EQ(value_of(Format::bf16, v.residual[1]), 1.0f);
}

// x = {1, 2}, w = {1.015625, 1}: r = RN(1/sqrt(2.5 + eps)) = 0x1.43d132p-1 (0.63245541).
// Twice: T(r) = 0.6328125, * 1.015625 = 0.6427..., T = 0.64453125 (165 * 2^-8).
// Once: fl(r * 1.015625) = 0.642337..., T = 0.640625 (164 * 2^-8), which the ideal also gives.
TEST(NormReference, RoundTwiceAndRoundOnceDiffer) {
  const Inputs in{{1.0f, 2.0f}, {}, {1.015625f, 1.0f}};
  Profile once = profile("vllm");
  once.rounding = norm::Rounding::once;
  const Spec twice_spec = make_spec(Op::rms, profile("vllm"), Format::bf16, 1, 2);
  const Spec once_spec = make_spec(Op::rms, once, Format::bf16, 1, 2);
  const Result t = normalize_profile(twice_spec, in), o = normalize_profile(once_spec, in);
  EXPECT_EQ(t.r[0], 0x1.43d132p-1f);
  EXPECT_EQ(value_of(Format::bf16, t.y[0]), 0.64453125f);
  EXPECT_EQ(value_of(Format::bf16, o.y[0]), 0.640625f);
  EXPECT_EQ(normalize_ideal(twice_spec, in, t).y[0], o.y[0]);
}

// PyTorch's mean multiplies by fl(1/3): z = {1.125, 1.1484375, -2}: r = 0x1.59986ep-1 through
// fl(S / 3) (vllm), 0x1.59986cp-1 through fl(S * fl(1/3)) (hf) (paper).
TEST(NormReference, HfMeanMultipliesByTheReciprocal) {
  const Inputs in{{1.125f, 1.1484375f, -2.0f}, {}, {1.0f, 1.0f, 1.0f}};
  EXPECT_EQ(normalize_profile(make_spec(Op::rms, profile("vllm"), Format::bf16, 1, 3), in).r[0], 0x1.59986ep-1f);
  EXPECT_EQ(normalize_profile(make_spec(Op::rms, profile("hf"), Format::bf16, 1, 3), in).r[0], 0x1.59986cp-1f);
}

// AITER adds its double epsilon: x = 0x1.f6p-23, H = 1: ms = x^2; fl32(ms + fl32(1e-6)) =
// 0x1.0c6f7ap-20 gives r = 1000 (vllm), fl32(ms + 1e-6) = 0x1.0c6f7cp-20 gives 0x1.f3fffep+9 (paper).
TEST(NormReference, AiterAddsEpsInDouble) {
  const Inputs in = constant_row(1, 0x1.f6p-23f, 1.0f);
  EXPECT_EQ(normalize_profile(make_spec(Op::rms, profile("vllm"), Format::bf16, 1, 1), in).r[0], 1000.0f);
  EXPECT_EQ(normalize_profile(make_spec(Op::rms, profile("aiter"), Format::bf16, 1, 1), in).r[0], 0x1.f3fffep+9f);
}

// ---- the ideal: ties and near-ties decided exactly -------------------------------------------

// H = 1, x = 3: z w / 4 is a bf16 midpoint for w = 131 * 2^-7 (196.5 * 2^-8, even neighbour
// below) and w = 129 * 2^-7 (193.5 * 2^-8, even neighbour above). eps = 7: r = 1/4 exactly and
// the tie goes to the even code. eps = 7 -+ 2^-40: r = (1/4)(1 +- 2^-45 + ...), the exact value
// lies just above / below the midpoint and the ideal rounds that way, while the profile's fp32 r
// is still 1/4 and ties to even.
TEST(NormReference, IdealDecidesTiesAndNearTiesExactly) {
  struct Case {
    float w;
    double eps;
    unsigned ideal, profile;  // codes in units of 2^-8
  };
  for (const Case c : {Case{131 * 0x1p-7f, 7.0, 196, 196}, Case{131 * 0x1p-7f, 7.0 - 0x1p-40, 197, 196},
                       Case{129 * 0x1p-7f, 7.0, 194, 194}, Case{129 * 0x1p-7f, 7.0 + 0x1p-40, 193, 194}}) {
    const Inputs in = constant_row(1, 3.0f, c.w);
    const Profile p = with_eps("vllm", c.eps);
    const Spec s = make_spec(Op::rms, p, Format::bf16, 1, 1);
    const Result r = normalize_profile(s, in);
    const Ideal id = normalize_ideal(s, in, r);
    EXPECT_EQ(value_of(Format::bf16, id.y[0]), float(c.ideal) * 0x1p-8f) << c.w << " " << c.eps;
    EXPECT_EQ(value_of(Format::bf16, r.y[0]), float(c.profile) * 0x1p-8f) << c.w << " " << c.eps;
  }
}

// An all-zero row: S = 0, v = fl32(eps) = 0x1.0c6f7ap-20 for both eps conventions, r = 1000
// (paper), y = +0; fused: the scale floor (vllm 2^-9 / 448, vllm-unfused 1e-10 / 448), codes 0.
TEST(NormReference, ZeroRowIsDefined) {
  const int64_t h = 256;
  const Spec s = make_spec(Op::rms, profile("aiter"), Format::fp16, 2, h);
  Inputs in = random_inputs(s, 4);
  std::fill(in.x.begin(), in.x.begin() + h, 0.0f);
  const Result r = normalize_profile(s, in);
  EXPECT_EQ(r.r[0], 1000.0f);
  EXPECT_NE(r.r[1], 1000.0f);
  for (int64_t i = 0; i < h; ++i) EXPECT_EQ(r.y[size_t(i)], 0);
  EXPECT_EQ(normalize_ideal(s, in, r).y, r.y);
  for (auto [name, scale] : {std::pair{"vllm", 0x1p-9f / 448}, std::pair{"vllm-unfused", 1e-10f / 448}}) {
    const Spec q = quant_spec_of(profile(name), 2, h, 128, quant::Layout::row);
    const Result rq = normalize_profile(q, in);
    EXPECT_EQ(rq.quant.scales[0], scale) << name;
    EXPECT_EQ(rq.quant.scales[1], scale) << name;
    for (int64_t i = 0; i < h; ++i) EXPECT_EQ(rq.quant.codes[size_t(i)], 0) << name;
  }
}

// ---- profile-exact vs ideal over random rows -------------------------------------------------------

// Round twice: the profile's y is at most one code from the ideal (|y - exact| < 1.5 ulp: half an
// ulp of T(z r), magnified < 2x by w, plus half an ulp). Round once: |y - exact| <= 1/2 ulp plus
// the profile's own fp32 error: r (one rounding of S, the mean, eps, a correctly rounded rsqrt)
// and the two fp32 products.
TEST(NormReference, ProfileExactIsWithinItsBudgetOfTheIdeal) {
  for (int64_t h : {17, 1025, 5137, 8193, 7168, 16384})
    for (Format dt : {Format::bf16, Format::fp16})
      for (auto name : {"vllm", "hf", "aiter"})
        for (Op op : {Op::rms, Op::rms_add}) {
          const Profile& p = profile(name);
          const Spec s = make_spec(op, p, dt, 3, h);
          const Inputs in = random_inputs(s, uint64_t(h) * 7 + uint64_t(dt));
          const Result r = normalize_profile(s, in);
          const Ideal id = normalize_ideal(s, in, r);
          Profile exact_rsqrt = p;
          exact_rsqrt.rsqrt = Rsqrt::exact;
          const double u = 0x1p-24, rel = r_rel_error_bound(exact_rsqrt, h, 1) + 2 * u + 4 * u * u;
          int max_codes = 0;
          for (size_t i = 0; i < r.y.size(); ++i) {
            const double e = id.exact[i];
            ASSERT_LE(ulp_error(dt, value_of(dt, id.y[i]), e), 0.5) << name << " h=" << h << " i=" << i;
            const double err = ulp_error(dt, value_of(dt, r.y[i]), e);
            if (p.rounding == norm::Rounding::twice) {
              ASSERT_LT(err, 1.5) << name << " h=" << h << " i=" << i;
              max_codes = std::max(max_codes, int(*ulp_distance(dt, r.y[i], id.y[i])));
            } else {
              ASSERT_LE(err, 0.5 + rel * std::fabs(e) / ulp_of(dt, e)) << name << " h=" << h << " i=" << i;
            }
          }
          EXPECT_LE(max_codes, 1) << name << " h=" << h;
        }
}

// ---- rms-add, rms-quant, edge cases -------------------------------------------------------------------

TEST(NormReference, RmsAddWritesTheRoundedResidual) {
  const Spec s = make_spec(Op::rms_add, profile("aiter"), Format::fp16, 2, 1025);
  const Inputs in = random_inputs(s, 3);
  const Result r = normalize_profile(s, in);
  ASSERT_EQ(r.residual.size(), in.x.size());
  for (size_t i = 0; i < in.x.size(); ++i)
    EXPECT_EQ(r.residual[i], bits_of(Format::fp16, double(in.x[i]) + double(in.residual[i])));
}

// normalize_element is the per-element step of normalize_profile: with the row's r it gives every
// output and quantizer input (rms-add with both residual roundings; rms-quant with T(y) and fp32).
TEST(NormReference, ElementStepMatchesTheRows) {
  for (auto name : {"vllm", "aiter"}) {
    const Spec add = make_spec(Op::rms_add, profile(name), Format::bf16, 2, 1025);
    const Inputs in = random_inputs(add, 21);
    const Result r = normalize_profile(add, in);
    const Spec q = quant_spec_of(profile(name), 2, 1024, 128, quant::Layout::col);
    const Inputs qin = random_inputs(q, 22);
    const Result rq = normalize_profile(q, qin);
    ASSERT_EQ(rq.v.size(), size_t(2 * 1024));
    for (size_t i = 0; i < in.x.size(); ++i) {
      EXPECT_EQ(normalize_element(add, in.x[i], in.residual[i], in.weight[i % 1025], r.r[i / 1025]).y, r.y[i]);
      if (i < qin.x.size()) {
        const Element e = normalize_element(q, qin.x[i], 0, qin.weight[i % 1024], rq.r[i / 1024]);
        EXPECT_EQ(e.v, rq.v[i]);
        if (profile(name).quantize_rounded) {
          EXPECT_EQ(e.v, value_of(Format::bf16, e.y));
        }
      }
    }
  }
}

// vLLM fused floors the scale at fl(1/(qmax * 512)) = fl(2^-9 / qmax); its separate group quant
// floors amax at 1e-10. Scales and codes differ exactly in the groups whose amax is below 2^-9.
TEST(NormReference, FusedAndUnfusedDivergeExactlyBelowAmaxOneOver512) {
  const int64_t h = 1024;
  const Spec fused = quant_spec_of(profile("vllm"), 4, h, 128, quant::Layout::row);
  const Spec unfused = quant_spec_of(profile("vllm-unfused"), 4, h, 128, quant::Layout::row);
  Inputs in = random_inputs(fused, 11);
  // Group g of every row scaled by 2^-(2g+1): normalized amax from about 1 down to 2^-15.
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t i = 0; i < h; ++i) {
      float& x = in.x[size_t(r * h + i)];
      x = to_t(Format::bf16, x * std::ldexp(1.0, -int(2 * (i / 128) + 1)));
    }
  const Result f = normalize_profile(fused, in), u = normalize_profile(unfused, in);
  const Result plain = normalize_profile(make_spec(Op::rms, profile("vllm"), Format::bf16, 4, h), in);
  int diverged = 0, same = 0;
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t g = 0; g < 8; ++g) {
      float amax = 0;
      for (int64_t i = g * 128; i < (g + 1) * 128; ++i)
        amax = std::max(amax, std::fabs(value_of(Format::bf16, plain.y[size_t(r * h + i)])));
      const size_t si = size_t(r * 8 + g);
      const bool codes_equal = std::equal(f.quant.codes.begin() + r * h + g * 128, f.quant.codes.begin() + r * h + g * 128 + 128,
                                          u.quant.codes.begin() + r * h + g * 128);
      if (amax < 0x1p-9f) {
        EXPECT_NE(f.quant.scales[si], u.quant.scales[si]) << r << "," << g;
        EXPECT_EQ(f.quant.scales[si], 1.0f / (448 * 512.0f));
        EXPECT_FALSE(codes_equal) << r << "," << g;
        ++diverged;
      } else {
        EXPECT_EQ(f.quant.scales[si], u.quant.scales[si]) << r << "," << g;
        EXPECT_TRUE(codes_equal) << r << "," << g;
        ++same;
      }
    }
  EXPECT_GT(diverged, 4);
  EXPECT_GT(same, 4);
}

// vllm-unfused is vLLM's norm followed by quant.group on its bf16 output: bit for bit, and the
// ue8m0-packed storage is quant.group's: byte (t, g) at byte_offset, padding words zero. M = 3 and
// G = 5 exercise the padding rows and the unused group slots.
TEST(NormReference, PackedUe8m0StorageIsQuantGroups) {
  const int64_t m = 3, h = 640;
  const Spec s = quant_spec_of(profile("vllm-unfused"), m, h, 128, quant::Layout::ue8m0_packed);
  const Inputs in = random_inputs(s, 5);
  const Result r = normalize_profile(s, in);
  const Result y = normalize_profile(make_spec(Op::rms, profile("vllm-unfused"), Format::bf16, m, h), in);
  std::vector<float> values;
  for (uint16_t b : y.y) values.push_back(value_of(Format::bf16, b));
  quant::Spec g;
  g.op = quant::Op::group;
  g.profile = &quant::profile("vllm");
  g.format = Format::e4m3fn;
  g.gs = 128;
  g.layout = quant::Layout::ue8m0_packed;
  g.m = m;
  g.k = h;
  const quant::Result q = quant::quantize_profile(g, values);
  EXPECT_EQ(r.v, values);
  EXPECT_EQ(r.quant.codes, q.codes);
  EXPECT_EQ(r.quant.scales, q.scales);
  EXPECT_EQ(r.quant.storage, q.storage);
  const quant::ScaleShape ss{m, 5};
  ASSERT_EQ(int64_t(r.quant.storage.size()), quant::storage_bytes(quant::Layout::ue8m0_packed, ss));
  for (int64_t t = 0; t < m; ++t)
    for (int64_t gi = 0; gi < 5; ++gi) {
      const float sc = r.quant.scales[size_t(t * 5 + gi)];
      EXPECT_EQ(std::exp2(std::round(std::log2(sc))), sc);  // a power of two
      EXPECT_EQ(r.quant.storage[size_t(quant::byte_offset(quant::Layout::ue8m0_packed, ss, t, gi))],
                encode(sc, Conversion{Format::ue8m0, Overflow::nosat, ulpgate::Rounding::rne}));
    }
  for (int64_t b = 0; b < int64_t(r.quant.storage.size()); ++b)
    if (!quant::scale_at(quant::Layout::ue8m0_packed, ss, b)) {
      EXPECT_EQ(r.quant.storage[size_t(b)], 0) << b;
    }
}

// The fused op with ue8m0 scales: packed and fp32-row storage hold the same powers of two, and
// the codes agree; per-token (gs 0) scales too.
TEST(NormReference, RmsQuantWithUe8m0PackedScales) {
  const int64_t m = 5, h = 1024;
  const Spec packed = quant_spec_of(profile("vllm"), m, h, 64, quant::Layout::ue8m0_packed);
  const Spec row = quant_spec_of(profile("vllm"), m, h, 64, quant::Layout::row, true);
  const Inputs in = random_inputs(packed, 9);
  const Result p = normalize_profile(packed, in), r = normalize_profile(row, in);
  EXPECT_EQ(p.quant.codes, r.quant.codes);
  EXPECT_EQ(p.quant.scales, r.quant.scales);
  EXPECT_EQ(quant::unpack(quant::Layout::ue8m0_packed, {m, h / 64}, p.quant.storage), r.quant.scales);
  for (float sc : p.quant.scales) EXPECT_EQ(std::exp2(std::round(std::log2(sc))), sc);
  // The ideal codes use these scales: they differ from the profile's by at most one code.
  const Ideal id = normalize_ideal(packed, in, p);
  for (size_t i = 0; i < id.codes.size(); ++i)
    EXPECT_LE(*ulp_distance(Format::e4m3fn, id.codes[i], p.quant.codes[i]), 1) << i;
  const Spec token = quant_spec_of(profile("aiter"), m, h, 0, quant::Layout::token, true);
  const Result t = normalize_profile(token, in);
  ASSERT_EQ(t.quant.scales.size(), size_t(m));
  for (float sc : t.quant.scales) EXPECT_EQ(std::exp2(std::round(std::log2(sc))), sc);
}

TEST(NormReference, HNotAMultipleOfTheGroupIsRejected) {
  const Spec s = quant_spec_of(profile("vllm"), 2, 200, 128, quant::Layout::row);
  EXPECT_EQ(s.problem(), "H = 200 is not a multiple of the group size 128");
  try {
    normalize_profile(s, random_inputs(s, 1));
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "norm.rms-quant: H = 200 is not a multiple of the group size 128");
  }
  EXPECT_NE(quant_spec_of(profile("vllm"), 2, 256, 32, quant::Layout::row).problem(), "");
  EXPECT_NE(quant_spec_of(profile("vllm"), 2, 256, 0, quant::Layout::row).problem(), "");
  EXPECT_NE(quant_spec_of(profile("hf"), 2, 256, 128, quant::Layout::row).problem(), "");
  EXPECT_NE(make_spec(Op::rms, profile("vllm"), Format::fp32, 2, 256).problem(), "");
}

TEST(NormReference, ZeroRowsGiveEmptyOutputs) {
  for (Op op : {Op::rms, Op::rms_add}) {
    const Spec s = make_spec(op, profile("vllm"), Format::bf16, 0, 4096);
    const Inputs in = random_inputs(s, 1);
    const Result r = normalize_profile(s, in);
    EXPECT_TRUE(r.y.empty() && r.residual.empty() && r.r.empty());
    const Ideal id = normalize_ideal(s, in, r);
    EXPECT_TRUE(id.y.empty() && id.exact.empty() && id.r.empty());
  }
  const Spec q = quant_spec_of(profile("vllm"), 0, 4096, 128, quant::Layout::col_tma);
  const Result r = normalize_profile(q, random_inputs(q, 1));
  EXPECT_TRUE(r.quant.codes.empty() && r.quant.scales.empty() && r.quant.storage.empty());
}

// NaN in a row: S = NaN, r = NaN, every output of that row NaN (the fused quantizer: amax ignores
// NaN, so the scale is the floor's and every code is -448). Inf: S = Inf, r = 0, finite elements
// give +-0, the Inf element Inf * 0 = NaN. Other rows are untouched.
TEST(NormReference, NanAndInfInputsAreDefined) {
  const int64_t h = 128;
  const Spec s = make_spec(Op::rms, profile("vllm"), Format::bf16, 3, h);
  Inputs in = random_inputs(s, 2);
  in.x[5] = NAN;
  in.x[size_t(h + 7)] = -INFINITY;
  const Result r = normalize_profile(s, in);
  const Ideal id = normalize_ideal(s, in, r);
  EXPECT_TRUE(std::isnan(r.r[0]));
  EXPECT_EQ(r.r[1], 0.0f);
  EXPECT_TRUE(std::isfinite(r.r[2]) && r.r[2] > 0);
  for (int64_t i = 0; i < h; ++i) {
    EXPECT_TRUE(std::isnan(value_of(Format::bf16, r.y[size_t(i)])));
    EXPECT_EQ(r.y[size_t(i)], id.y[size_t(i)]);
    const float y1 = value_of(Format::bf16, r.y[size_t(h + i)]);
    if (i == 7) {
      EXPECT_TRUE(std::isnan(y1));
    } else {
      EXPECT_EQ(y1, 0.0f);
    }
    EXPECT_EQ(r.y[size_t(h + i)], id.y[size_t(h + i)]);
  }
  const Spec q = quant_spec_of(profile("vllm"), 3, h, 128, quant::Layout::row);
  const Result rq = normalize_profile(q, in);
  const Ideal iq = normalize_ideal(q, in, rq);
  EXPECT_EQ(rq.quant.scales[0], 1.0f / (448 * 512.0f));
  for (int64_t i = 0; i < h; ++i) {
    EXPECT_EQ(rq.quant.codes[size_t(i)], 0xFE);
    EXPECT_EQ(iq.codes[size_t(i)], 0xFE);
  }
}

// The fp32 values a round-once quantizer sees (aiter's): a NaN of their products is the canonical
// quiet NaN whatever the machine makes of it (x86: the operand's payload and sign, Inf * 0
// negative; CUDA: 0x7FFFFFFF), so the device reference's inputs are the host's bit for bit.
TEST(NormReference, TheFp32QuantizerInputsNanIsCanonical) {
  const Spec q = quant_spec_of(profile("aiter"), 3, 128, 128, quant::Layout::row);
  const element::Steps steps = q.steps();
  ASSERT_FALSE(steps.quantizes_y);
  const auto bits = [](float v) { return std::bit_cast<uint32_t>(v); };
  const float negative_nan = std::bit_cast<float>(0xFFC01234u);
  for (const auto& [z, r] : {std::pair{INFINITY, 0.0f}, std::pair{-INFINITY, 0.0f}, std::pair{negative_nan, 1.0f},
                             std::pair{1.0f, negative_nan}})
    EXPECT_EQ(bits(element::quantizer_input(steps, z, 0.75f, r)), 0x7FC00000u) << z << " " << r;
  EXPECT_EQ(element::quantizer_input(steps, 2.0f, 0.75f, 0.5f), 0.75f);
}

// ---- profile rows ---------------------------------------------------------------------------------

TEST(NormReference, ProfileRowsAndQuantOverrides) {
  EXPECT_EQ(profile_names(), "vllm, vllm-unfused, aiter, flashinfer, hf");
  // FlashInfer's static quantizer is its own per-tensor row (no clamp: NaN stays NaN), a fused
  // kernel's only: quant.tensor has no dynamic form of it.
  EXPECT_EQ(profile("flashinfer").quant_profile(true).name, "flashinfer");
  EXPECT_FALSE(profile("flashinfer").quant_profile(true).clamp);
  EXPECT_TRUE(profile("flashinfer").quant_profile(true).fused_only);
  EXPECT_EQ(profile("vllm").quant_profile(true).name, "vllm");
  // Its per-group scales follow the vllm group row as it is: no 2^-9 floor (the per-token one).
  EXPECT_EQ(profile("flashinfer").quant_profile(false, true).amax_floor, quant::profile("vllm").amax_floor);
  EXPECT_EQ(profile("flashinfer").quant_profile(false, false).amax_floor, 0x1p-9f);
  EXPECT_EQ(profile("vllm").quant_profile(false, true).amax_floor, 0x1p-9f);
  EXPECT_THROW(profile("sglang"), UsageError);
  const quant::Profile v = profile("vllm").quant_profile();
  EXPECT_EQ(v.amax_floor, 0x1p-9f);
  EXPECT_EQ(v.quant_op, quant::QuantOp::divide);
  EXPECT_EQ(v.max_fnuz, 224.0f);
  const quant::Profile a = profile("aiter").quant_profile();
  EXPECT_EQ(a.quant_op, quant::QuantOp::reciprocal);
  EXPECT_EQ(a.max_fnuz, 240.0f);
  EXPECT_EQ(profile("vllm-unfused").quant_profile().amax_floor, 1e-10f);
  EXPECT_THROW(profile("hf").quant_profile(), UsageError);
  // vLLM's min_scaling_factor 1.0f / (qmax * 512.0f) is the 2^-9 amax floor followed by / qmax.
  for (Format f : {Format::e4m3fn, Format::e4m3fnuz}) {
    const Spec s = quant_spec_of(profile("vllm"), 1, 128, 128, quant::Layout::row);
    quant::Spec qs = s.quant_spec(v);
    qs.format = f;
    const float qmax = qs.fp8_max();
    EXPECT_EQ(quant::group_scale(qs, 0.0f), 1.0f / (qmax * 512.0f));
    EXPECT_EQ(quant::group_scale(qs, 0x1p-10f), 1.0f / (qmax * 512.0f));
    EXPECT_EQ(quant::group_scale(qs, 0x1p-8f), 0x1p-8f / qmax);
  }
}

// A 32 x 16384 case, profile-exact and ideal, well under a second.
TEST(NormReference, LargeCaseIsFast) {
  const Spec s = make_spec(Op::rms_add, profile("vllm"), Format::bf16, 32, 16384);
  const Inputs in = random_inputs(s, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const Result r = normalize_profile(s, in);
  const auto t1 = std::chrono::steady_clock::now();
  const Ideal id = normalize_ideal(s, in, r);
  const auto t2 = std::chrono::steady_clock::now();
  const double profile_s = std::chrono::duration<double>(t1 - t0).count(), ideal_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf("32x16384 rms-add bf16: profile-exact %.3f s, ideal %.3f s\n", profile_s, ideal_s);
  EXPECT_EQ(id.y.size(), size_t(32 * 16384));
  EXPECT_LT(profile_s + ideal_s, 2.0);  // target well under 1 s; 2 s leaves room for a loaded CI machine
}
