// Every GEMM layout map is a bijection on every index before any numeric test relies on it
// (spec/gemm.md "Every layout transform is a pure permutation").
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "gemm_test_util.hpp"
#include "reference/gemm/layout.hpp"

using namespace gemm_test;

TEST(GemmLayout, BpreshuffleIsABijectionOnEveryIndex) {
  for (auto [rows, cols] : {std::pair{16, 32}, {32, 64}, {48, 96}, {16, 256}, {128, 128}}) {
    std::vector<char> hit(size_t(rows * cols));
    for (int64_t n = 0; n < rows; ++n)
      for (int64_t k = 0; k < cols; ++k) {
        const int64_t at = bpreshuffle_offset(n, k, rows, cols);
        ASSERT_GE(at, 0);
        ASSERT_LT(at, rows * cols);
        ASSERT_FALSE(hit[size_t(at)]) << "two elements at " << at;
        hit[size_t(at)] = 1;
        EXPECT_EQ(bpreshuffle_source(at, rows, cols), std::pair(n, k));
      }
  }
}

TEST(GemmLayout, BpreshuffleFormulaAndRoundTrip) {
  // spec/gemm.md: (n, k) -> ((n/16)(K/32) + k/32) 512 + ((k%32)/16) 256 + (n%16) 16 + k%16.
  EXPECT_EQ(bpreshuffle_offset(0, 0, 32, 64), 0);
  EXPECT_EQ(bpreshuffle_offset(0, 16, 32, 64), 256);  // second 16x16 sub-tile
  EXPECT_EQ(bpreshuffle_offset(1, 0, 32, 64), 16);    // next row of a sub-tile
  EXPECT_EQ(bpreshuffle_offset(0, 32, 32, 64), 512);  // next tile along K
  EXPECT_EQ(bpreshuffle_offset(16, 0, 32, 64), 1024);  // next tile along N: after K/32 = 2 tiles
  EXPECT_EQ(bpreshuffle_offset(17, 45, 32, 64), (1 * 2 + 1) * 512 + 0 * 256 + 1 * 16 + 13);
  std::vector<uint8_t> b(32 * 64);
  std::iota(b.begin(), b.end(), uint8_t(0));
  const auto shuffled = bpreshuffle(b, 32, 64);
  EXPECT_NE(shuffled, b);
  EXPECT_EQ(unshuffle(shuffled, 32, 64), b);
  EXPECT_THROW(bpreshuffle(b, 8, 256), std::invalid_argument);  // N % 16 != 0
}

TEST(GemmLayout, WeightsFollowTheProfile) {
  const Spec shuffled = make_spec(Op::block, "aiter-bpreshuffle", 4, 32, 64, Format::e4m3fnuz, Format::e4m3fnuz);
  const Spec plain = make_spec(Op::block, "aiter", 4, 32, 64, Format::e4m3fnuz, Format::e4m3fnuz);
  std::vector<uint8_t> b(32 * 64);
  std::iota(b.begin(), b.end(), uint8_t(7));
  EXPECT_EQ(pack_weights(shuffled, b), bpreshuffle(b, 32, 64));
  EXPECT_EQ(unpack_weights(shuffled, pack_weights(shuffled, b)), b);
  EXPECT_EQ(pack_weights(plain, b), b);
  // Into a slice of a larger buffer (a grouped B's expert), the bytes around it untouched.
  for (const Spec* s : {&shuffled, &plain}) {
    std::vector<uint8_t> group(3 * b.size(), 0xA5);
    pack_weights_into(*s, b, std::span(group).subspan(b.size(), b.size()));
    EXPECT_TRUE(std::equal(group.begin() + ptrdiff_t(b.size()), group.begin() + ptrdiff_t(2 * b.size()), pack_weights(*s, b).begin()));
    const auto untouched = [](auto from, auto to) { return std::all_of(from, to, [](uint8_t v) { return v == 0xA5; }); };
    EXPECT_TRUE(untouched(group.begin(), group.begin() + ptrdiff_t(b.size())));
    EXPECT_TRUE(untouched(group.begin() + ptrdiff_t(2 * b.size()), group.end()));
    EXPECT_THROW(pack_weights_into(*s, b, std::span(group).subspan(0, b.size() - 1)), std::invalid_argument);
  }
}

// Each profile's A and B scale storage: every logical scale lands in its own slot and reads back.
TEST(GemmLayout, ScalePackingsAreBijectionsForEveryProfileAndOp) {
  for (const Profile& p : profiles())
    for (Op op : {Op::tensor, Op::rowwise, Op::block, Op::mx})
      for (bool ue8m0 : {false, true}) {
        if (!p.supports(op) || (ue8m0 && (op != Op::block || !p.takes_ue8m0))) continue;
        Spec s = make_spec(op, p.name, 131, 272, 640, p.pairs[0].a, p.pairs[0].b);
        s.ue8m0 = ue8m0;
        ASSERT_EQ(s.problem(), "");
        for (Which w : {Which::a, Which::b}) {
          const quant::Layout l = scale_layout(s, w);
          const quant::ScaleShape shape = scale_shape(s, w);
          std::set<int64_t> slots;
          for (int64_t r = 0; r < shape.m; ++r)
            for (int64_t c = 0; c < shape.g; ++c) {
              const int64_t at = quant::byte_offset(l, shape, r, c);
              ASSERT_TRUE(slots.insert(at).second) << p.name << " " << op_name(op) << " " << quant::layout_name(l);
              ASSERT_EQ(quant::scale_at(l, shape, at), std::pair(r, c));
            }
          std::vector<float> logical(size_t(shape.m * shape.g));
          for (size_t i = 0; i < logical.size(); ++i) logical[i] = std::ldexp(1.0f, int(i % 60) - 30);
          EXPECT_EQ(unpack_scales(s, w, pack_scales(s, w, logical)), logical) << p.name << " " << op_name(op);
        }
      }
}

TEST(GemmLayout, ScaleShapesAndLayoutsOfTheSpec) {
  // spec/gemm.md "Scale and weight layouts".
  const Spec cublas = make_spec(Op::block, "cublaslt", 200, 300, 640);
  EXPECT_EQ(scale_layout(cublas, Which::a), quant::Layout::col);  // (M, K/128) column-major
  EXPECT_EQ(scale_layout(cublas, Which::b), quant::Layout::row);  // (K/128, N/128) column-major
  EXPECT_EQ(scale_shape(cublas, Which::a).m, 200);
  EXPECT_EQ(scale_shape(cublas, Which::a).g, 5);
  EXPECT_EQ(scale_shape(cublas, Which::b).m, 3);  // ceil(300 / 128)
  Spec deepgemm = make_spec(Op::block, "deepgemm", 5, 128, 256);
  EXPECT_EQ(scale_layout(deepgemm, Which::a), quant::Layout::col_tma);
  deepgemm.ue8m0 = true;
  EXPECT_EQ(scale_layout(deepgemm, Which::a), quant::Layout::ue8m0_packed);
  const Spec tview = make_spec(Op::block, "aiter-bpreshuffle", 5, 32, 256, Format::e4m3fnuz, Format::e4m3fnuz);
  EXPECT_EQ(scale_layout(tview, Which::a), quant::Layout::aiter_tview);
  const Spec mx = make_spec(Op::mx, "ocp-mx", 5, 7, 64);
  EXPECT_EQ(scale_layout(mx, Which::b), quant::Layout::mx_swizzle_128x4);
  EXPECT_EQ(scale_shape(mx, Which::b).m, 7);
  EXPECT_EQ(scale_shape(mx, Which::b).g, 2);
  const Spec rowwise = make_spec(Op::rowwise, "cublaslt", 5, 7, 64);
  EXPECT_EQ(scale_shape(rowwise, Which::b).m, 7);
  EXPECT_EQ(scale_shape(rowwise, Which::b).g, 1);
}

// stored(): what a kernel of the profile reads, each part through its own layout; logical() reads it back.
TEST(GemmLayout, StoredOperandsAreEachPartInItsLayout) {
  const Spec s = make_spec(Op::block, "aiter-bpreshuffle", 5, 32, 256, Format::e4m3fnuz, Format::e4m3fnuz);
  const Operands in = random_operands(s, 3);
  const Stored st = stored(s, in);
  EXPECT_EQ(st.a, in.a);
  EXPECT_EQ(st.b, bpreshuffle(in.b, s.n, s.k));
  EXPECT_EQ(st.sa, pack_scales(s, Which::a, in.sa));
  EXPECT_EQ(st.sb, pack_scales(s, Which::b, in.sb));
  std::vector<std::byte> d(4);
  const Buffers io = st.buffers(d);
  EXPECT_EQ(io.b.data(), st.b.data());
  EXPECT_EQ(io.d.size(), 4u);
  const Operands back = logical(s, io);
  EXPECT_EQ(back.a, in.a);
  EXPECT_EQ(back.b, in.b);
  EXPECT_EQ(back.sa, in.sa);
  EXPECT_EQ(back.sb, in.sb);
}
