// The all-reduce reference: the ideal is the exact sum rounded once (checked against sums that
// double precision carries exactly, and against cases where a naive fp32 sum is wrong), the
// ordered sums follow their documented orders, the selection rule and the two-shot partitions
// are spec/allreduce.md's, the bounds are the gamma_{n-1} bounds, and NCCL's measured ring rounds
// every partial sum in the order its rows give.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "reference/allreduce/allreduce.hpp"
#include "reference/formats/exact_sum.hpp"

namespace ulpgate::allreduce {
namespace {

uint32_t f32(float x) { return std::bit_cast<uint32_t>(x); }
uint32_t bf16(float x) { return float_to_bf16(x); }

Spec spec(std::string_view v, Format t, int world, int64_t count) {
  Spec s;
  s.variant = &variant(v);
  s.dtype = t, s.world = world, s.view = {count};
  return s;
}

TEST(AllreduceReference, IdealRoundsTheExactSumOnce) {
  // 1 + 2^-24 + 2^-24: fp32 in order gives 1 (each 2^-24 is a tie to even), the exact sum
  // 1 + 2^-23 is representable.
  const Spec s = spec("custom-1shot", Format::fp32, 4, 1);
  const Inputs in = {{f32(1.f)}, {f32(0x1p-24f)}, {f32(0x1p-24f)}, {f32(0.f)}};
  EXPECT_EQ(ideal(s, in).bits[0], f32(1.f + 0x1p-23f));
  EXPECT_EQ(ordered_sum(s, Order::rank_order, in)[0], f32(1.f));
  EXPECT_DOUBLE_EQ(ideal(s, in).exact[0], 1 + 0x1p-23);
}

TEST(AllreduceReference, IdealCancelsExactlyAcrossTheWholeRange) {
  // 2^100 - 2^100 + 2^-140 (an fp32 subnormal): only an exact accumulator keeps the last term.
  const Spec s = spec("nccl", Format::fp32, 4, 1);
  const Inputs in = {{f32(0x1p100f)}, {f32(0x1p-140f)}, {f32(-0x1p100f)}, {f32(0.f)}};
  EXPECT_EQ(ideal(s, in).bits[0], f32(0x1p-140f));
}

TEST(AllreduceReference, IdealOfBf16RoundsToNearestEvenOnce) {
  // 1 + 2^-8 + 2^-30: just above the bf16 tie 1 + 2^-8, so the ideal is 1 + 2^-7. The fp32 sum
  // loses 2^-30 (below half an fp32 ulp of 1) and its rounding to bf16 meets the tie: 1.
  const Spec s = spec("custom-1shot", Format::bf16, 4, 1);
  const Inputs in = {{bf16(1.f)}, {bf16(0x1p-8f)}, {bf16(0x1p-30f)}, {bf16(0.f)}};
  EXPECT_EQ(ideal(s, in).bits[0], bf16(1.f + 0x1p-7f));
  EXPECT_EQ(ordered_sum(s, Order::rank_order, in)[0], bf16(1.f));
}

// element::ideal's exact accumulator (the one a device runs) against the formats library's
// (reference/formats/exact_sum.hpp) and its encode, on terms of every magnitude: sums that cancel
// to subnormals or exactly, ties and near-ties of the element type, its overflow, up to 8 ranks.
TEST(AllreduceReference, IdealElementIsTheFormatsExactSumRoundedOnce) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  const auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull, uint32_t(state >> 32); };
  int64_t checked = 0;
  for (Format t : {Format::bf16, Format::fp16, Format::fp32})
    for (int world = 2; world <= 8; ++world)
      for (int trial = 0; trial < 20000; ++trial) {
        uint32_t v[kMaxWorld] = {};
        const uint32_t bits = info(t).bits, all = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
        for (int r = 0; r < world; ++r) {
          v[r] = next() & all;
          // Half the trials: rank 1 cancels rank 0 but for a few low bits, so the sum is small.
          if (r == 1 && trial % 2) v[1] = (v[0] ^ (1u << (bits - 1))) + (next() % 4) - 2;
        }
        const element::Ideal got = element::ideal(t, v, world);
        ExactSum acc;
        double ieee = 0, abs_sum = 0;
        for (int r = 0; r < world; ++r) {
          const double x = decode(t, v[r]);
          ieee += x, abs_sum += std::fabs(x);
          if (const Dyadic d = dyadic(x); std::isfinite(x) && d.mant) acc.add(d.neg, d.mant, d.exp);
        }
        const ExactSum::Rounded want = acc.take();
        const bool finite = std::isfinite(abs_sum);
        const uint32_t want_bits = encode(finite ? want.odd : ieee, Conversion{t, Overflow::nosat, Rounding::rne});
        ASSERT_EQ(got.bits, want_bits) << format_name(t) << " w" << world << " trial " << trial;
        if (finite) ASSERT_EQ(std::bit_cast<uint64_t>(got.exact), std::bit_cast<uint64_t>(want.nearest)) << trial;
        if (!std::isnan(abs_sum)) ASSERT_EQ(std::bit_cast<uint64_t>(got.abs_sum), std::bit_cast<uint64_t>(abs_sum)) << trial;
        else ASSERT_TRUE(std::isnan(got.abs_sum)) << trial;  // the NaN's payload is the input's, not decode's
        ++checked;
      }
  EXPECT_EQ(checked, 3 * 7 * 20000);
}

TEST(AllreduceReference, OverflowAndNonFiniteInputs) {
  const Spec s = spec("custom-1shot", Format::bf16, 2, 3);
  const float big = bf16_to_float(0x7f7f);  // bf16 max
  const Inputs in = {{bf16(big), bf16(INFINITY), bf16(NAN)}, {bf16(big), bf16(-INFINITY), bf16(1.f)}};
  const Ideal i = ideal(s, in);
  EXPECT_EQ(i.bits[0], 0x7f80u) << "the exact sum beyond the range rounds to Inf";
  EXPECT_TRUE(is_nan(Format::bf16, i.bits[1]));
  EXPECT_TRUE(is_nan(Format::bf16, i.bits[2]));
}

TEST(AllreduceReference, SelectionRule) {
  EXPECT_EQ(select_kernel(2, int64_t(64) << 20), Order::rank_order);
  EXPECT_EQ(select_kernel(4, (512 << 10) - 16), Order::rank_order);
  EXPECT_EQ(select_kernel(4, 512 << 10), Order::rotated);
  EXPECT_EQ(select_kernel(8, (256 << 10) - 16), Order::rank_order);
  EXPECT_EQ(select_kernel(8, 256 << 10), Order::rotated);
  EXPECT_EQ(select_kernel(6, 300 << 10), Order::rotated);
}

TEST(AllreduceReference, TwoShotPartitionsGiveTheRemainderToTheLastRank) {
  const Spec s = spec("custom-2shot", Format::bf16, 4, 8 * 10);  // 10 packs: part 2, last rank 4
  EXPECT_EQ(owner_of(s, 0), 0);
  EXPECT_EQ(owner_of(s, 15), 0);
  EXPECT_EQ(owner_of(s, 16), 1);
  EXPECT_EQ(owner_of(s, 48), 3);
  EXPECT_EQ(owner_of(s, 79), 3);
  const Spec tiny = spec("custom-2shot", Format::fp32, 4, 12);  // 3 packs < 4 ranks: all on rank 3
  EXPECT_EQ(owner_of(tiny, 0), 3);
}

TEST(AllreduceReference, RotatedOrderStartsAtThePartitionsOwner) {
  // 3 ranks' values 1, 2^-24, 2^-24 (and a zero rank) placed so the order matters: from rank 0,
  // 1 + 2^-24 + 2^-24 = 1 (two ties to even); from rank 1, 2^-24 + 2^-24 + 1 = 1 + 2^-23.
  Spec s = spec("custom-2shot", Format::fp32, 4, 16);  // 4 packs: element 4 * r is in rank r's part
  Inputs in(4, std::vector<uint32_t>(16, f32(0.f)));
  in[0][4] = f32(1.f), in[1][4] = f32(0x1p-24f), in[2][4] = f32(0x1p-24f);
  EXPECT_EQ(ordered_sum(s, Order::rank_order, in)[4], f32(1.f));
  EXPECT_EQ(ordered_sum(s, Order::rotated, in)[4], f32(1.f + 0x1p-23f));
}

TEST(AllreduceReference, BoundsAreGammaNMinusOne) {
  const Spec s = spec("nccl", Format::bf16, 4, 1);
  const double g3 = 3 * 0x1p-8 / (1 - 3 * 0x1p-8);
  EXPECT_NEAR(error_bound(s, Order::per_hop, 1.0), g3, 1e-12);
  EXPECT_NEAR(error_bound(s, Order::rank_order, 1.0), 3 * 0x1p-24 / (1 - 3 * 0x1p-24), 1e-18);
  EXPECT_NEAR(error_bound(spec("nccl", Format::bf16, 2, 1), Order::per_hop, 1.0), 0.0039, 1e-4) << "spec: ~0.4% at n = 2";
}

TEST(AllreduceReference, MayRefuseNamesTheRule) {
  Spec s = spec("custom-1shot", Format::bf16, 4, 4096);
  EXPECT_EQ(s.may_refuse(), "");
  s.view = {4096, 8, 16};
  EXPECT_NE(s.may_refuse().find("not weakly contiguous"), std::string::npos);
  s.view = {4096, 8};
  EXPECT_EQ(s.may_refuse(), "") << "a view at an offset that fills its storage's tail must be reduced";
  s.view = {7};
  EXPECT_NE(s.may_refuse().find("not a multiple of 16 bytes"), std::string::npos);
  s.view = {(int64_t(8) << 20) / 2 + 8};
  EXPECT_NE(s.may_refuse().find("larger than the registered buffer"), std::string::npos);
  s.variant = &variant("nccl");
  EXPECT_EQ(s.may_refuse(), "") << "NCCL takes any size";
  EXPECT_EQ(spec("nccl", Format::bf16, 3, 8).problem(), "world size 3 is not 2, 4, 6 or 8");
}

// ---- NCCL's measured ring (nccl_ring.hpp) ----

uint32_t f16(double x) { return round_nosat(Format::fp16, x); }

TEST(NcclRing, ChunkKOfAStepStartsAtRankKPlusOne) {
  const RingOrder* one = find_ring_order("sm90", 4, 12304);  // one region, chunks of 3088 bytes
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->first_rank(0), 1);
  EXPECT_EQ(one->first_rank(3087), 1);
  EXPECT_EQ(one->first_rank(3088), 2);
  EXPECT_EQ(one->first_rank(6176), 3);
  EXPECT_EQ(one->first_rank(12302), 0);  // the last chunk is the shorter one
  const RingOrder* big = find_ring_order("sm90", 4, 2097152);  // 23 regions of 22016-byte chunks, then 17920
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->first_rank(4 * 22016 + 22016), 2);  // the second region's second chunk
  const int64_t last = 23 * 4 * 22016;
  EXPECT_EQ(big->first_rank(last - 2), 0);
  EXPECT_EQ(big->first_rank(last + 17920), 2);
  EXPECT_EQ(big->first_rank(2097150), 0);
  const RingOrder* gib = find_ring_order("sm90", 4, int64_t(1) << 30);  // steps of 2 MiB chunks, then the rest
  ASSERT_NE(gib, nullptr);
  EXPECT_EQ(gib->first_rank(2097152), 2);
  EXPECT_EQ(gib->first_rank(5 * 8388608 - 1), 0);
  EXPECT_EQ(gib->first_rank(5 * 8388608), 1);  // the region's rest: chunks of 700416 bytes
  EXPECT_EQ(gib->first_rank(5 * 8388608 + 700416), 2);
  EXPECT_EQ(gib->first_rank(44744704), 1);  // the second region starts with full steps again
}

TEST(NcclRing, OnlyMeasuredMessagesHaveARow) {
  EXPECT_EQ(find_ring_order("sm90", 4, 12320), nullptr);
  EXPECT_EQ(find_ring_order("sm90", 8, 12304), nullptr);
  EXPECT_EQ(find_ring_order("host-w32", 4, 12304), nullptr);
  EXPECT_NE(find_ring_order("sm90", 2, 14), nullptr);  // two ranks: one rounding, any size
  EXPECT_EQ(find_ring_order("gfx942", 2, 14), nullptr);  // nothing measured there
}

TEST(NcclRing, EveryPartialSumIsRoundedToTheElementType) {
  // fp16 65504 + 65504 overflows at the first hop from rank 0 (and -65504 - 65504 from rank 2);
  // from ranks 1 and 3 the sum cancels first. The exact sum is 0 in every order.
  const uint32_t v[4] = {f16(65504), f16(65504), f16(-65504), f16(-65504)};
  EXPECT_EQ(element::per_hop(Format::fp16, v, 4, 0), 0x7C00u);
  EXPECT_EQ(element::per_hop(Format::fp16, v, 4, 1), f16(0));
  EXPECT_EQ(element::per_hop(Format::fp16, v, 4, 2), 0xFC00u);
  EXPECT_EQ(element::per_hop(Format::fp16, v, 4, 3), f16(0));
  const uint32_t inf[2] = {0x7C00u, 0xFC00u};
  EXPECT_EQ(element::per_hop(Format::fp16, inf, 2, 0), 0x7FFFu);  // Inf - Inf: the GPU adder's NaN
  // bf16 1 + 2^-8 + 2^-8: each hop a tie to even back to 1; the exact sum 1 + 2^-7 is representable.
  const uint32_t b[3] = {bf16(1.f), bf16(0x1p-8f), bf16(0x1p-8f)};
  EXPECT_EQ(element::per_hop(Format::bf16, b, 3, 0), bf16(1.f));
  EXPECT_EQ(element::per_hop(Format::bf16, b, 3, 1), bf16(1.f + 0x1p-7f));
}

TEST(NcclRing, RingSumFollowsTheChunks) {
  const Spec s = spec("nccl", Format::bf16, 4, 6152);
  Inputs in(4, std::vector<uint32_t>(6152, bf16(0x1p-8f)));
  for (size_t i = 0; i < 6152; ++i) in[size_t(i / 1544 + 1) % 4][i] = bf16(1.f);  // 1 on the rank that starts the chain
  const std::vector<uint32_t> sum = ring_sum(s, *find_ring_order("sm90", 4, 12304), in);
  // From the 1 on: every 2^-8 a tie back to 1; where the chain starts elsewhere, 2^-8 + 2^-8 first.
  for (size_t i : {size_t(0), size_t(1543), size_t(1544), size_t(6151)}) EXPECT_EQ(sum[i], bf16(1.f)) << i;
  in[1][0] = bf16(0x1p-8f), in[3][0] = bf16(1.f), in[0][0] = bf16(0.f);  // element 0: 2^-8 + 2^-8 first
  EXPECT_EQ(ring_sum(s, *find_ring_order("sm90", 4, 12304), in)[0], bf16(1.f + 0x1p-7f));
}

}  // namespace
}  // namespace ulpgate::allreduce
