// RefRowsFast's decisions (kernels/norm/reference_fast.hpp) against the exact ones: a row's fl32(S),
// the profile's rsqrt and the ideal r are taken from the double-double estimate only where it
// settles them, and a row it cannot settle goes to the split passes, with the same results.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "harness/norm/catalog.hpp"
#include "kernels/norm/reference_fast.hpp"
#include "kernels/norm/reference_host.hpp"
#include "kernels/norm/reference_plan.hpp"
#include "kernels/portable/arch.hpp"
#include "suites/norm/device_results.hpp"

namespace ulpgate::norm {
namespace {

using norm_kernels::TwoDoubles;

// An estimate of a row's sum within kSumError, as the decisions take it (RefRowsFast's is exact
// but for its double-double tail): 128 lanes in double-double, each its own elements in turn (at
// most 64), then a tree of 7 levels (2^-93 of S).
TwoDoubles estimate(const std::vector<float>& z) {
  std::vector<TwoDoubles> lane(128);
  for (size_t i = 0; i < z.size(); ++i) lane[i % 128] = norm_kernels::add_square(lane[i % 128], double(z[i]) * double(z[i]));
  for (size_t w = 64; w > 0; w /= 2)
    for (size_t i = 0; i < w; ++i) lane[i] = norm_kernels::add(lane[i], lane[i + w]);
  return lane[0];
}

uint64_t next(uint64_t& state) { return (state = state * 6364136223846793005ull + 1442695040888963407ull) >> 11; }

// T values of random signs and significands whose exponents spread over `binades` below 2^top:
// rows from narrow to all of bf16's range (the estimate's error is relative to the sum, whatever the
// spread).
std::vector<float> random_row(Format t, int64_t h, int top, int binades, uint64_t& state) {
  const bool bf16 = t == Format::bf16;
  const int mbits = bf16 ? 7 : 10, bias = bf16 ? 127 : 15, lowest = 1;
  std::vector<float> z(static_cast<size_t>(h));
  for (float& v : z) {
    const uint64_t k = next(state);
    const int e = std::max(lowest, bias + top - int(k % uint64_t(binades)));
    v = norm::element::widen(t, uint16_t((k >> 20 & 1) << 15 | uint32_t(e) << mbits | (k >> 24 & ((1u << mbits) - 1))));
  }
  return z;
}

// Wherever the estimate decides fl32(S) or the ideal r, it is the exact one, and it decides
// almost every row: 4000 rows of bf16 and fp16 at three spreads (bf16 subnormals excluded: the
// kernel leaves those rows to the split passes).
TEST(NormReferenceFast, EstimatesDecideOnlyTheExactValues) {
  uint64_t state = 0x5eed;
  int64_t rows = 0, sums_decided = 0, r_decided = 0;
  for (const Format t : {Format::bf16, Format::fp16})
    for (const int binades : {4, 20, t == Format::bf16 ? 200 : 28}) {
      const int top = t == Format::bf16 ? 60 : 10;
      for (int i = 0; i < 1000; ++i, ++rows) {
        const int64_t h = i % 2 ? 8192 : 1000 + i;
        const std::vector<float> z = random_row(t, h, top, binades, state);
        ExactSum s;
        for (float v : z) s.add_square(v);
        const TwoDoubles est = estimate(z);
        float s32 = 0;
        if (norm_kernels::fp32_of_sum(est, s32)) {
          ++sums_decided;
          ASSERT_EQ(std::bit_cast<uint32_t>(s32), std::bit_cast<uint32_t>(s.to_float())) << rows;
        }
        const double eps = i % 3 ? 1e-6 : 0x1p-20;
        ExactSum d = s, eps_h;
        eps_h.add_scaled(eps, h);
        d.merge(eps_h);
        double r = 0;
        if (norm_kernels::ideal_r_of(norm_kernels::add(est, norm_kernels::eps_times_h(eps, h)), h, r)) {
          ++r_decided;
          ASSERT_EQ(std::bit_cast<uint64_t>(r), std::bit_cast<uint64_t>(row_r::ideal_r(d, h))) << rows;
        }
      }
    }
  EXPECT_GE(sums_decided, rows - 1);
  EXPECT_GE(r_decided, rows - 1);
}

// rsqrt_rn_fast is row_r::rsqrt_rn: on every float of [1, 4) (v 4 scales 1 / sqrt(v) by exactly
// 1/2, so these are every significand's cases), on random fp32 bits (every class) and on the
// floats around the powers of two, where 1 / sqrt jumps binades.
TEST(NormReferenceFast, FastRsqrtIsTheCorrectlyRoundedOne) {
  int64_t wrong = 0;
  for (uint32_t b = std::bit_cast<uint32_t>(1.0f); b < std::bit_cast<uint32_t>(4.0f); ++b) {
    const float x = std::bit_cast<float>(b);
    wrong += norm_kernels::rsqrt_rn_fast(x) != row_r::rsqrt_rn(x);
  }
  EXPECT_EQ(wrong, 0);
  uint64_t state = 0xfeed;
  std::vector<float> v;
  for (int i = 0; i < 200000; ++i) v.push_back(std::bit_cast<float>(uint32_t(next(state))));
  for (int e = -149; e < 128; ++e) {
    const uint32_t power = std::bit_cast<uint32_t>(std::ldexp(1.0f, e));
    for (int d = -3; d <= 3; ++d) v.push_back(std::bit_cast<float>(power + uint32_t(d)));
  }
  for (const float x : v)
    ASSERT_EQ(std::bit_cast<uint32_t>(norm_kernels::rsqrt_rn_fast(x)), std::bit_cast<uint32_t>(row_r::rsqrt_rn(x))) << std::hexfloat << x;
}

using testing::raw;

// A case's results from the emulated device equal the host reference's; returns whether the one
// pass decided every row (it made no exact sums).
bool one_pass_decided(const Case& c, const Tensors& in) {
  const norm_kernels::ReferenceResult dev = norm_kernels::reference_host(kHostW32, c.spec, raw(in));
  EXPECT_EQ(testing::difference(expected(c, in.values), dev), "") << c.id();
  return dev.limbs.empty();
}

// A row whose sum lies on an fp32 midpoint (2^24 + 1: 4096^2 + 1^2), or holds a NaN or an Inf, is
// left to the split passes, which then make the whole case; an ordinary case takes the one pass:
// norm.rms's (RowOutputs), and rms-quant's in groups of one row (GroupCodes: groups of 64 and 128,
// both fp8 formats, fp32 and packed ue8m0 scales).
TEST(NormReferenceFast, RowsItCannotDecideGoToTheSplitPasses) {
  for (const char* id : {"norm.rms/vllm/bf16/4x64/normal/s1", "norm.rms/vllm/fp16/4x64/normal/s2",
                         "norm.rms-quant/vllm/bf16/4x256/e4m3fn/gs128/ue8m0-packed/normal/s1",
                         "norm.rms-quant/vllm/bf16/4x1536/e4m3fnuz/gs64/row/normal/s2",
                         "norm.rms-quant/vllm-unfused/bf16/4x2048/e4m3fn/gs64/col-tma/normal/s3"}) {
    const Case c = Case::parse(id);
    const bool bf16 = c.spec.dtype == Format::bf16;
    EXPECT_TRUE(one_pass_decided(c, c.inputs())) << id;
    const auto with_row = [&](std::initializer_list<uint16_t> head) {
      Tensors in = c.inputs();
      auto* bits = reinterpret_cast<uint16_t*>(in.x.data());
      for (int64_t col = 0; col < c.spec.h; ++col) {
        const size_t i = size_t(2 * c.spec.h + col);
        bits[i] = col < int64_t(head.size()) ? head.begin()[col] : uint16_t(0);
        in.values.x[i] = norm::element::widen(c.spec.dtype, bits[i]);
      }
      return in;
    };
    const uint16_t v4096 = bf16 ? 0x4580 : 0x6C00, one = bf16 ? 0x3F80 : 0x3C00, nan = bf16 ? 0x7FC1 : 0x7E01,
                   inf = bf16 ? 0x7F80 : 0x7C00;
    EXPECT_FALSE(one_pass_decided(c, with_row({v4096, one}))) << id << " midpoint";
    EXPECT_FALSE(one_pass_decided(c, with_row({one, nan}))) << id << " NaN";
    EXPECT_FALSE(one_pass_decided(c, with_row({inf, one}))) << id << " Inf";
    EXPECT_TRUE(one_pass_decided(c, with_row({one, one}))) << id << " zeros and ones";
  }
}

// rms-quant takes the one pass only where its quantizer sees T(y) in groups of one row of a power
// of two packs, from 8: per token over 256 or 1024 columns (a group across warps) does; per token
// over 7168, a quantizer of the fp32 value (aiter) and rows with a residual take the split passes
// (with the same results).
TEST(NormReferenceFast, QuantizedRowsTakeTheOnePassWhereTheirGroupsArePowersOfTwoPacks) {
  const auto decided = [](const char* id) {
    const Case c = Case::parse(id);
    return one_pass_decided(c, c.inputs());
  };
  EXPECT_TRUE(decided("norm.rms-quant/vllm/bf16/3x256/e4m3fn/token/normal/s1"));
  EXPECT_TRUE(decided("norm.rms-quant/vllm/bf16/3x1024/e4m3fn/token/normal/s1"));  // a group across warps
  EXPECT_TRUE(decided("norm.rms-quant/flashinfer/bf16/3x7168/e4m3fn/gs128/ue8m0-packed/normal/s2"));
  for (const char* id : {"norm.rms-quant/vllm/bf16/3x7168/e4m3fn/token/normal/s1",  // 896 packs a group
                         "norm.rms-quant/aiter/bf16/3x1024/e4m3fn/gs64/row/normal/s1",
                         "norm.rms-add-quant/vllm/bf16/3x1024/e4m3fn/gs128/row/normal/s1"})
    EXPECT_FALSE(decided(id)) << id;
}

// A NaN weight makes a NaN T(y) in every decided row: its group's amax takes the NaN policy's
// steps (dropped by vllm's quantizer, kept by vllm-unfused's), an Inf weight an Inf, both as the
// host reference does.
TEST(NormReferenceFast, NonFiniteWeightsReachTheGroupsAmax) {
  for (const char* id : {"norm.rms-quant/vllm/bf16/4x512/e4m3fn/gs128/ue8m0-packed/normal/s1",
                         "norm.rms-quant/vllm-unfused/fp16/4x512/e4m3fn/gs64/row/normal/s2"}) {
    const Case c = Case::parse(id);
    for (const float w : {NAN, INFINITY}) {
      Tensors in = c.inputs();
      in.values.weight[5] = w;
      in.values.weight[300] = -w;
      EXPECT_TRUE(one_pass_decided(c, in)) << id << " weight " << w;
    }
  }
}

}  // namespace
}  // namespace ulpgate::norm
