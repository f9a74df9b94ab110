// `ulpgate reveal` for RMSNorm (harness/norm/reveal.hpp) on host kernels of known sum-of-squares
// trees: lanes each adding strided elements or packs in turn, combined pairwise (a 64-wide tree)
// or one after another, come back as exactly their trees; a kernel whose tree changes per call,
// one that widens its sum, and fp16 inputs get no tree; the suite's own kernel is revealed and
// held to its r budget.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <set>

#include "harness/backends/kernel_backends.hpp"
#include "harness/core/backend.hpp"
#include "harness/norm/norm_case.hpp"
#include "harness/norm/reveal.hpp"

namespace ulpgate::norm {
namespace {

// How a test kernel sums a row's squares: `lanes` partial sums, lane t adding packs of `pack`
// contiguous elements from t * pack, every lanes * pack, one element at a time; then the lanes
// pairwise (a butterfly) or in lane order.
struct Order {
  int lanes, pack;
  bool pairwise;
};

// The sum in that order, over any values: floats for the kernel, element sets for its tree.
template <class V>
V sum_in(int64_t h, Order o, const std::function<V(int32_t)>& leaf, const std::function<V(const V&, const V&)>& add) {
  std::vector<std::optional<V>> lane(size_t(o.lanes));
  const auto join = [&](std::optional<V>& acc, const std::optional<V>& v) {
    if (v) acc = acc ? add(*acc, *v) : *v;
  };
  for (int64_t start = 0; start < h; start += int64_t(o.lanes) * o.pack)
    for (int t = 0; t < o.lanes; ++t)
      for (int i = 0; i < o.pack; ++i)
        if (const int64_t e = start + int64_t(t) * o.pack + i; e < h) join(lane[size_t(t)], leaf(int32_t(e)));
  if (!o.pairwise) {
    for (int t = 1; t < o.lanes; ++t) join(lane[0], lane[size_t(t)]);
    return *lane[0];
  }
  for (int off = o.lanes / 2; off > 0; off /= 2)
    for (int t = 0; t < off; ++t) join(lane[size_t(t)], lane[size_t(t + off)]);
  return *lane[0];
}

class TestKernel : public Backend {
 public:
  std::string name() const override { return "reveal-test@host"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no quant");
  }
  // norm.rms in bf16: the squares summed in order(), r = 1 / sqrt(sum / H + eps), y = T(x r w).
  void norm(const Spec& s, const Buffers& io) override {
    const Order o = order();
    for (int64_t m = 0; m < s.m; ++m) {
      const auto x = [&](int32_t e) {
        uint16_t bits;
        std::memcpy(&bits, io.x.data() + 2 * (m * s.h + e), 2);
        return bf16_to_float(bits);
      };
      const float k = scaled ? 0x1p-32f : 1.0f;  // scaled: squares of x 2^-32, r scaled back
      const float sum = widen ? float(sum_in<double>(s.h, o, [&](int32_t e) { return double(x(e)) * x(e); },
                                                     [](const double& a, const double& b) { return a + b; }))
                              : sum_in<float>(s.h, o, [&](int32_t e) { return (k * x(e)) * (k * x(e)); },
                                              [](const float& a, const float& b) { return a + b; });
      const float r = k / std::sqrt(sum / float(s.h) + 1e-6f * k * k);
      for (int32_t e = 0; e < s.h; ++e) {
        const uint16_t y = float_to_bf16(x(e) * r);
        std::memcpy(io.y.data() + 2 * (m * s.h + e), &y, 2);
      }
    }
  }
  virtual Order order() { return fixed; }

  Order fixed{64, 1, true};
  bool widen = false;   // sums in double, rounded to fp32 once
  bool scaled = false;  // sums squares scaled down: no overflow at all
};

// The lane count drawn afresh on every call.
class RandomLanes : public TestKernel {
  Order order() override { return {std::uniform_int_distribution<int>(0, 1)(rng_) ? 16 : 32, 1, true}; }
  std::mt19937 rng_{3};
};

std::set<std::vector<int32_t>> tree_of(int64_t h, Order o) {
  std::set<std::vector<int32_t>> nodes;
  using Set = std::vector<int32_t>;
  sum_in<Set>(h, o, [](int32_t e) { return Set{e}; },
              [&](const Set& a, const Set& b) {
                Set u = a;
                u.insert(u.end(), b.begin(), b.end());
                std::ranges::sort(u);
                nodes.insert(u);
                return u;
              });
  return nodes;
}

Spec rms(int64_t h, Format dtype = Format::bf16) {
  return Case::parse("norm.rms/vllm/" + std::string(format_name(dtype)) + "/2x" + std::to_string(h) + "/normal/s1").spec;
}

TEST(NormReveal, KnownTreesComeBackExactly) {
  struct Shown {
    int64_t h;
    Order order;
    std::vector<std::string> said;
  };
  const Shown shown[] = {
      {512, {64, 1, true}, {"64 chains of 8 elements", "0, 64, 128, 192, ..., 448 (stride 64)", "subtrees of 1, 2, 4, 8, 16, 32 chains (a pairwise tree", "longest path: 13 additions"}},
      {520, {64, 1, true}, {"64 chains of 8 to 9 elements"}},  // H not a multiple of the lanes
      {256, {8, 8, true}, {"8 chains of 32 elements", "(packs of 8 contiguous elements every 64)"}},
      {192, {6, 4, false}, {"6 chains of 32 elements", "in subtrees of 5 x 1 chains (one chain after another)", "longest path: 36"}},
  };
  for (const Shown& x : shown) {
    TestKernel kernel;
    kernel.fixed = x.order;
    const RevealedNorm r = reveal_norm(rms(x.h), kernel);
    SCOPED_TRACE(r.story());
    ASSERT_TRUE(r.deterministic);
    ASSERT_EQ(r.problem, "");
    const std::vector<std::vector<int32_t>> nodes = r.node_elements(x.h);
    EXPECT_EQ(std::set(nodes.begin(), nodes.end()), tree_of(x.h, x.order));
    EXPECT_EQ(nodes.size(), size_t(x.h - 1));  // a binary tree: every addition once
    for (const std::string& s : x.said) EXPECT_NE(r.story().find(s), std::string::npos) << s;
  }
}

// O(H log^2 H) rows in O(depth x log H) calls: 8 times the H costs less than twice the calls.
TEST(NormReveal, CallsGrowWithTheLogarithmOfH) {
  int calls[2];
  for (int i = 0; i < 2; ++i) {
    TestKernel kernel;
    const int64_t h = i ? 2048 : 256;
    const RevealedNorm r = reveal_norm(rms(h), kernel);
    ASSERT_EQ(r.problem, "") << r.story();
    calls[i] = r.calls;
    EXPECT_LT(double(r.rows), 2.5 * double(h) * std::log2(double(h)) * std::log2(double(h))) << r.story();
  }
  EXPECT_LT(calls[1], 2 * calls[0]) << calls[0] << " " << calls[1];
}

TEST(NormReveal, NoTreeForANondeterministicKernel) {
  RandomLanes kernel;
  const RevealedNorm r = reveal_norm(rms(512), kernel);
  EXPECT_FALSE(r.deterministic);
  EXPECT_TRUE(r.inner.empty());
  EXPECT_NE(r.story().find("not deterministic"), std::string::npos) << r.story();
}

TEST(NormReveal, NoTreeWhereOverflowCannotShowTheOrder) {
  TestKernel scaled, widened;
  scaled.scaled = true;
  const RevealedNorm r = reveal_norm(rms(256), scaled);
  EXPECT_NE(r.problem.find("the control rows"), std::string::npos) << r.story();
  EXPECT_TRUE(r.inner.empty());
  widened.widen = true;  // overflows only when rounded to fp32: every pair of units seems to meet first
  const RevealedNorm w = reveal_norm(rms(256), widened);
  EXPECT_NE(w.problem.find("not one tree of fp32 additions"), std::string::npos) << w.story();
  EXPECT_TRUE(w.inner.empty());
  TestKernel kernel;
  const RevealedNorm half = reveal_norm(rms(256, Format::fp16), kernel);
  EXPECT_NE(half.problem.find("fp16 inputs"), std::string::npos) << half.story();
  EXPECT_EQ(half.calls, 0);
}

// The suite's own kernel under the host emulation: one tree, within the depth its r budget allows.
TEST(NormReveal, TheSuitesKernelStaysWithinItsBudgetDepth) {
  for (const std::string_view id : {"norm.rms/vllm/bf16/2x200/normal/s1", "norm.rms-add-quant/vllm/bf16/2x256/e4m3fn/token/normal/s1"}) {
    const Case c = Case::parse(id);
    register_kernel_backends();
    const std::unique_ptr<Backend> host = make_backend("host", "sm90");
    const RevealedNorm r = reveal_norm(c.spec, *host);
    SCOPED_TRACE(std::string(id) + "\n" + r.story());
    ASSERT_EQ(r.problem, "");
    EXPECT_EQ(r.node_elements(c.spec.h).size(), size_t(c.spec.h - 1));
    EXPECT_GT(r.assumed_depth, 0);
    EXPECT_LE(r.depth, r.assumed_depth);
  }
}

}  // namespace
}  // namespace ulpgate::norm
