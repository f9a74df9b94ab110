// `ulpgate reveal` for GEMMs (harness/gemm/reveal.hpp) on host kernels of known orders: every
// model-family order it is shown (MMA steps, promotion, split-K sequential and pairwise, scale
// blocks) comes back as its tree and its row, bit for bit; K summed last to first is revealed
// from the last K; a kernel whose order changes from call to call gets no order.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "harness/gemm/gemm_case.hpp"
#include "harness/gemm/identify.hpp"
#include "harness/gemm/reveal.hpp"
#include "reference/gemm/layout.hpp"
#include "suites/sample.hpp"

namespace ulpgate::gemm {
namespace {

void write(const Spec& s, const Buffers& io, const Output& out) {
  const size_t width = s.out == Format::bf16 ? 2 : 4;
  for (size_t i = 0; i < out.bits.size(); ++i) std::memcpy(io.d.data() + i * width, &out.bits[i], width);
}

class TestKernel : public Backend {
 public:
  std::string name() const override { return "reveal-test@host"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no quant");
  }
};

// A kernel whose bits are a model variant's replay.
class ModelKernel : public TestKernel {
 public:
  explicit ModelKernel(std::string variant) : v_(parse_variant(variant)) {}
  GemmClaim gemm(const Spec& s, const Buffers& io) override {
    ++calls;
    write(s, io, gemm_model(s, v_->model, logical(s, io)));
    return {};
  }
  const AccumModel& model() const { return v_->model; }
  int calls = 0;

 private:
  std::unique_ptr<Variant> v_;
};

// gemm.tensor with fp32 out: fmaf over K from the last position to the first.
class ReversedK : public TestKernel {
 public:
  GemmClaim gemm(const Spec& s, const Buffers& io) override {
    const Operands in = logical(s, io);
    Output out{Format::fp32, {}};
    for (int64_t m = 0; m < s.m; ++m)
      for (int64_t n = 0; n < s.n; ++n) {
        float acc = 0;
        for (int64_t k = s.k - 1; k >= 0; --k)
          acc = std::fma(decode_f32(s.a_format, in.a[size_t(m * s.k + k)]), decode_f32(s.b_format, in.b[size_t(n * s.k + k)]), acc);
        uint32_t bits;
        const float d = acc * in.sa[0] * in.sb[0];
        std::memcpy(&bits, &d, 4);
        out.bits.push_back(bits);
      }
    write(s, io, out);
    return {};
  }
};

// Split-K chosen afresh on every call (as atomics would order the partials).
class RandomSplit : public TestKernel {
 public:
  GemmClaim gemm(const Spec& s, const Buffers& io) override {
    const std::string variant = "sm90/split=" + std::to_string(2 + rng_() % 3) + ":sequential";
    write(s, io, gemm_model(s, parse_variant(variant)->model, logical(s, io)));
    return {};
  }

 private:
  std::mt19937 rng_{7};
};

Spec spec_of(std::string_view id) { return Case::parse(id).spec; }
constexpr std::string_view kTensor = "gemm.tensor/cublaslt/e4m3fn.e4m3fn/bf16/2x64x2048/normal/s1";

std::string story(const Revealed& r) {
  std::string s = r.story();
  return s;
}

TEST(Reveal, EveryModelFamilyOrderComesBackAsItsTreeAndItsRow) {
  struct Shown {
    std::string_view id, variant, arch = "sm90";
  };
  const Shown shown[] = {
      {kTensor, "sm90"},                                   // steps of 32, promotion every 128
      {kTensor, "sm90-fast-accum"},                        // one chain
      {kTensor, "sm90/split=3:pairwise"},                  // ((p0 + p1) + p2)
      {kTensor, "sm90/promote=256/split=4:sequential"},    // chains of 256 in 4 parts
      {kTensor, "fp32-fma/split=2:sequential"},            // fmaf chains
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/2x128x2048/normal/s1", "sm90"},  // 128-K scale blocks
      {"gemm.tensor/cublaslt/e4m3fn.e5m2/fp32/3x16x1000/normal/s1", "sm90/split=5:pairwise"},  // K not a power of two
      {kTensor, "sm90-fast-accum/parts=704:sequential"},   // parts by length, as cuBLASLt's split-K
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/2x128x2048/normal/s1", "sm90/parts=640:sequential"},  // 5 blocks a part
      {"gemm.mx/ocp-mx/e4m3fn.e4m3fn/fp32/2x128x1024/normal/s1", "sm100", "sm100"},  // MX scales inside the step
      {"gemm.rowwise/aiter/e4m3fnuz.e4m3fnuz/bf16/2x32x1024/normal/s1", "gfx942/split=2:pairwise", "gfx942"},  // late join
  };
  int item = 0;
  for (const Shown& x : shown) {
    if (!test_support::sampled(item++)) continue;
    ModelKernel kernel{std::string(x.variant)};
    const Spec s = spec_of(x.id);
    const Revealed r = reveal_gemm(s, kernel, x.arch);
    SCOPED_TRACE(std::string(x.id) + " " + std::string(x.variant) + "\n" + story(r));
    ASSERT_TRUE(r.deterministic);
    ASSERT_EQ(r.problem, "");
    std::vector<std::pair<int64_t, int64_t>> tree;
    for (const TreeNode& n : r.tree) tree.push_back({n.lo, n.hi});
    std::ranges::sort(tree);
    tree.erase(std::unique(tree.begin(), tree.end()), tree.end());
    EXPECT_EQ(tree, predicted_tree(s, kernel.model()));
    ASSERT_FALSE(r.exact.empty());
    EXPECT_TRUE(same_order(s, parse_variant(r.exact[0])->model, kernel.model())) << r.exact[0];
    // The order as a claim the kernel can make, and where it was revealed.
    EXPECT_NE(r.story().find("as a claim: model=\"" + r.exact[0] + "\"; as a row's provenance: revealed by `ulpgate reveal` on "
                             "reveal-test@host"),
              std::string::npos);
    EXPECT_LT(kernel.calls, s.k);  // fewer calls than K (CallsGrowWithTheLogarithmOfK below)
  }
}

// O(levels x log K) probes (galloped runs), not O(K) or FPRev's O(K^2) pairs: 8 times the K
// costs a few more probes per level (and one more refinement per probe).
TEST(Reveal, CallsGrowWithTheLogarithmOfK) {
  int calls[2];
  for (int i = 0; i < 2; ++i) {
    ModelKernel kernel{"sm90"};
    const std::string id = "gemm.tensor/cublaslt/e4m3fn.e4m3fn/bf16/1x16x" + std::to_string(i ? 16384 : 2048) + "/normal/s1";
    const Revealed r = reveal_gemm(spec_of(id), kernel, "sm90");
    ASSERT_EQ(r.exact, std::vector<std::string>{"sm90"}) << r.story();
    calls[i] = kernel.calls;
  }
  EXPECT_LT(calls[1], calls[0] * 2) << calls[0] << " calls at K = 2048, " << calls[1] << " at K = 16384";
}

TEST(Reveal, KSummedLastToFirstIsRevealedFromTheLastK) {
  ReversedK kernel;
  const Spec s = spec_of("gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/2x32x300/normal/s1");
  const Revealed r = reveal_gemm(s, kernel, "sm90");
  ASSERT_TRUE(r.deterministic) << r.story();
  ASSERT_EQ(r.problem, "") << r.story();
  EXPECT_TRUE(r.descending);
  std::set<std::pair<int64_t, int64_t>> tree, want;
  for (const TreeNode& n : r.tree) tree.insert({n.lo, n.hi});
  for (int64_t lo = s.k - 2; lo >= 0; --lo) want.insert({lo, s.k - 1});  // fmaf(k, acc of k+1..K-1)
  EXPECT_EQ(tree, want) << r.story();
  EXPECT_TRUE(r.orders.empty()) << r.story();  // no model row sums K backwards
  EXPECT_NE(r.story().find("no order of the model family"), std::string::npos);
}

TEST(Reveal, AnOrderThatChangesFromCallToCallIsNotGiven) {
  RandomSplit kernel;
  const Revealed r = reveal_gemm(spec_of(kTensor), kernel, "sm90");
  EXPECT_FALSE(r.deterministic);
  EXPECT_TRUE(r.orders.empty());
  EXPECT_NE(r.story().find("not deterministic"), std::string::npos) << r.story();
}

}  // namespace
}  // namespace ulpgate::gemm
