// moe.gemm (reference/gemm/grouped.hpp, harness/moe): the routing histogram, the grouped op as the
// dense GEMM per expert, the portable kernel's grouped launch exact on the catalog, and the grouped
// kernel's own mistakes, each a faulty variant whose verdict names the expert and its rows: another
// expert's weights, another expert's B scales, A rows read an alignment off, padding rows computed
// as tokens, masked rows written.
#include <gtest/gtest.h>

#include <numeric>

#include "harness/backends/kernel_backends.hpp"
#include "harness/moe/catalog.hpp"
#include "harness/moe/run_case.hpp"
#include "kernels/gemm/gemm_host.hpp"
#include "suites/kernels/host_archs.hpp"

namespace ulpgate::moe {
namespace {

constexpr std::string_view kContiguous = "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1";
constexpr std::string_view kMasked = "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/masked/8x300x256x512/normal/s1";

TEST(MoeRoute, TheHistogramIsSkewedWithTheEdgeExperts) {
  for (const uint64_t seed : {1, 2, 3}) {
    const std::vector<int64_t> t = route(16, 1000, 128, seed);
    EXPECT_EQ(std::accumulate(t.begin(), t.end(), int64_t(0)), 1000);
    EXPECT_EQ(t[0], 0);    // an expert without tokens
    EXPECT_EQ(t[1], 1);    // one token
    EXPECT_EQ(t[2], 129);  // past the alignment
    EXPECT_GT(*std::max_element(t.begin() + 3, t.end()), 4 * *std::min_element(t.begin() + 3, t.end()) + 4);  // skewed
    EXPECT_EQ(t, route(16, 1000, 128, seed));
  }
  EXPECT_NE(route(16, 1000, 128, 1), route(16, 1000, 128, 2));
  EXPECT_EQ(route(1, 70, 128, 1), std::vector<int64_t>{70});
}

TEST(MoeCase, IdsRoundTripAndBadOnesAreNamed) {
  for (const Case& c : catalog(Tier::full)) EXPECT_EQ(Case::parse(c.id()).id(), c.id());
  const Case c = Case::parse(kContiguous);
  EXPECT_EQ(c.spec.rows() % 128, 0);
  EXPECT_EQ(c.spec.first_row(1), 0);    // expert 0: no token, no rows
  EXPECT_EQ(c.spec.first_row(2), 128);  // expert 1: one token padded to 128 rows
  EXPECT_EQ(c.spec.first_row(3), 128 + 256);
  for (const std::string_view bad : {"moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/8x300x200x512/normal/s1",
                                     "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/sideways/8x300x256x512/normal/s1",
                                     "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/300x256x512/normal/s1",
                                     "moe.gemm/nosuch/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1"})
    EXPECT_THROW(Case::parse(bad), UsageError) << bad;
}

// One expert holding every token is the dense GEMM: the same codes, the same outputs.
TEST(MoeCase, OneExpertIsTheDenseGemm) {
  const Case c = Case::parse("moe.gemm/deepgemm/e4m3fn.e4m3fn/fp32/contiguous.a1/1x70x128x256/normal/s1");
  const Tensors t = c.tensors();
  ASSERT_EQ(t.experts.size(), 1u);
  EXPECT_EQ(t.a, t.experts[0].a);
  const gemm::Output grouped = gemm::gemm_model(c.spec.expert_spec(0), gemm::model("fp32-fma"), t.expert(0));
  gemm::Spec dense = c.spec.base;
  dense.m = 70;
  EXPECT_EQ(grouped.bits, gemm::gemm_model(dense, gemm::model("fp32-fma"), t.expert(0)).bits);
}

// The experts' weights are not held: the kernel's B is made a part at a time, and an expert's
// again where it is judged. Every way of making them gives the same bytes, and they are the dense
// case's own (seed s * 1000003 + e).
TEST(MoeCase, TheWeightsMadeInPartsAreEachExpertsOwn) {
  for (const std::string_view id : {kContiguous, std::string_view("moe.gemm-mx/ocp-mx/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1"),
                                    std::string_view("moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/masked.a32/8x160x128x512/scale-edges/s1")}) {
    const Case c = Case::parse(id);
    const Tensors t = c.tensors();
    const gemm::ExpertWeights w = t.weights();
    const int64_t g = c.spec.experts(), expert_b = c.spec.base.n * c.spec.base.k;
    std::vector<uint8_t> b(size_t(g * expert_b), 0xA5), sb(size_t(g * w.sb_bytes), 0xA5);
    w.fill(0, g, b, sb);
    std::vector<uint8_t> b3(b.size()), sb3(sb.size());  // in parts of three experts, the last one shorter
    for (int64_t first = 0; first < g; first += 3) {
      const int64_t n = std::min<int64_t>(3, g - first);
      w.fill(first, n, std::span(b3).subspan(size_t(first * expert_b), size_t(n * expert_b)),
             std::span(sb3).subspan(size_t(first * w.sb_bytes), size_t(n * w.sb_bytes)));
    }
    EXPECT_EQ(b3, b) << id;
    EXPECT_EQ(sb3, sb) << id;
    for (int64_t e = 0; e < g; ++e) {
      const gemm::Spec s = c.spec.expert_spec(e);
      const gemm::Operands dense = c.expert_inputs(e).operands(), judged = t.expert(e);
      EXPECT_EQ(judged.b, dense.b) << id << " expert " << e;
      EXPECT_EQ(judged.sb, dense.sb) << id << " expert " << e;
      EXPECT_EQ(judged.a, dense.a) << id << " expert " << e;
      EXPECT_EQ(gemm::unpack_weights(s, std::span(b).subspan(size_t(e * expert_b), size_t(expert_b))), dense.b);
      EXPECT_EQ(gemm::pack_scales(s, gemm::Which::b, dense.sb),
                std::vector<uint8_t>(sb.begin() + e * w.sb_bytes, sb.begin() + (e + 1) * w.sb_bytes));
    }
    EXPECT_THROW(w.fill(0, 2, std::span(b).first(size_t(expert_b)), std::span(sb).first(size_t(2 * w.sb_bytes))), std::logic_error);
  }
}

// The faults a grouped kernel can make, at the kernel's hooks (gemm_kernels.hpp NoFault).
struct NeighbourWeights : gemm_kernels::NoFault {
  int64_t target;
  int64_t expert(int64_t, int64_t e) const { return e == target ? e + 1 : e; }
};
struct NeighbourScales : gemm_kernels::NoFault {
  int64_t target;
  int64_t scale_expert(int64_t e) const { return e == target ? e + 1 : e; }
};
struct RowsAnAlignmentOff : gemm_kernels::NoFault {
  int64_t first, count, align;
  gemm_kernels::Coord source(int64_t m, int64_t n) const {
    return {m >= first && m < first + count ? m - align : m, n};
  }
};
struct OffTokenRowsComputed : gemm_kernels::NoFault {
  const std::vector<int32_t>* owner;  // per row: the expert whose run or slot holds it
  int64_t expert(int64_t row, int64_t e) const { return e >= 0 ? e : (*owner)[size_t(row)]; }
};

template <class Fault>
class Faulty : public Backend {
 public:
  explicit Faulty(Fault f) : f_(f) {}
  std::string name() const override { return "faulty@host"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no quant");
  }
  GemmClaim grouped_gemm(const gemm::GroupedSpec& s, const gemm::GroupedBuffers& io) override {
    gemm_kernels::run_grouped_gemm_host(kHostW32, s, io, f_);
    return {gemm_kernels::kClaimedModel, false, "faulty grouped kernel", "host-w32"};
  }

 private:
  Fault f_;
};

template <class Fault>
CaseResult run_with(std::string_view id, Fault f) {
  Faulty<Fault> kernel(f);
  return run_case(Case::parse(id), kernel);
}

std::vector<int32_t> owners(const Case& c) {
  std::vector<int32_t> of(size_t(c.spec.rows()));
  for (int64_t e = 0; e < c.spec.experts(); ++e)
    std::fill(of.begin() + c.spec.first_row(e), of.begin() + c.spec.first_row(e + 1), int32_t(e));
  return of;
}

// A backend that streams the weights (as the CUDA one does into its device's B) gets them an
// expert at a time, into a B of its own; the same verdicts.
class StreamingHost : public Backend {
 public:
  std::string name() const override { return "streaming@host"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no quant");
  }
  GemmClaim grouped_gemm_streamed(const gemm::GroupedSpec& s, const gemm::GroupedBuffers& io,
                                  const gemm::ExpertWeights& w) override {
    EXPECT_TRUE(io.b.empty() && io.sb.empty());
    const int64_t expert_b = s.base.n * s.base.k;
    std::vector<uint8_t> b(size_t(s.experts() * expert_b)), sb(size_t(s.experts() * w.sb_bytes));
    for (int64_t e = 0; e < s.experts(); ++e, ++parts)
      w.fill(e, 1, std::span(b).subspan(size_t(e * expert_b), size_t(expert_b)),
             std::span(sb).subspan(size_t(e * w.sb_bytes), size_t(w.sb_bytes)));
    gemm::GroupedBuffers whole = io;
    whole.b = b, whole.sb = sb;
    gemm_kernels::run_grouped_gemm_host(kHostW32, s, whole);
    return {gemm_kernels::kClaimedModel, false, "streaming host kernel", "host-w32"};
  }
  int64_t parts = 0;
};

TEST(MoeKernel, AStreamingBackendGetsTheWeightsInParts) {
  StreamingHost host;
  for (const std::string_view id : {kContiguous, kMasked}) {
    const CaseResult r = run_case(Case::parse(id), host);
    EXPECT_EQ(r.verdict, Verdict::exact) << id << ": " << r.message;
  }
  EXPECT_EQ(host.parts, 16);
}

TEST(MoeKernel, TheGroupedLaunchIsExactOnTheCatalog) {
  register_kernel_backends();
  const std::unique_ptr<Backend> host = make_backend("host", "host-w32");
  for (const Case& c : catalog(Tier::ci)) {
    const CaseResult r = run_case(c, *host);
    EXPECT_EQ(r.verdict, Verdict::exact) << c.id() << ": " << r.message;
    EXPECT_EQ(r.model, "fp32-fma") << c.id();
  }
}

TEST(MoeKernel, EveryGroupedFaultIsNamedWithItsExpertAndRows) {
  const Case c = Case::parse(kContiguous);
  const int64_t e = 3, first = c.spec.first_row(e), count = c.spec.tokens[3];
  const std::string rows = "rows " + std::to_string(first) + "-" + std::to_string(first + count - 1);
  const std::string expert = "expert 3 (" + std::to_string(count) + " tokens, D " + rows + "): ";
  struct Shown {
    CaseResult r;
    std::string said;
  };
  const std::vector<int32_t> contiguous_owner = owners(c), masked_owner = owners(Case::parse(kMasked));
  const Shown shown[] = {
      {run_with(kContiguous, NeighbourWeights{{}, e}), expert + "its weights and B scales are expert 4's"},
      {run_with(kContiguous, NeighbourScales{{}, e}), expert + "its B scales are expert 4's (its weights its own)"},
      {run_with(kContiguous, RowsAnAlignmentOff{{}, first, count, 128}),
       expert + "it read A rows " + std::to_string(first - 128) + "-" + std::to_string(first - 128 + count - 1) +
           " for its tokens at " + rows + " (-128 rows: the alignment)"},
      {run_with(kContiguous, OffTokenRowsComputed{{}, &contiguous_owner}),
       "wrote rows of D that are not tokens: rows 1-127 (padding after expert 1's tokens)"},
      {run_with(kMasked, OffTokenRowsComputed{{}, &masked_owner}), "(beyond masked_m 0 in expert 0's slot)"},
      {run_with("moe.gemm-mx/ocp-mx/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1", NeighbourScales{{}, e}),
       expert + "its B scales are expert 4's (its weights its own)"},  // MXFP8 experts alike
  };
  for (const Shown& s : shown) {
    EXPECT_EQ(s.r.verdict, Verdict::layout) << s.r.message;
    EXPECT_NE(s.r.message.find(s.said), std::string::npos) << s.r.message << "\nexpected: " << s.said;
    ASSERT_EQ(s.r.grids.size(), 1u);  // the report's map: bad elements by expert x column tile
    const ErrorGrid& g = s.r.grids[0];
    EXPECT_EQ(g.rows, c.spec.experts() + 1);
    const float outside_expert_3 = std::accumulate(g.cells.begin(), g.cells.end(), 0.0f) -
                                   std::accumulate(g.cells.begin() + 3 * g.cols, g.cells.begin() + 4 * g.cols, 0.0f);
    if (s.said.starts_with("expert 3")) EXPECT_EQ(outside_expert_3, 0.0f) << s.said;  // only expert 3's row is bad
    else EXPECT_GT(std::accumulate(g.cells.end() - g.cols, g.cells.end(), 0.0f), 0.0f);  // the not-token row
  }
}

}  // namespace
}  // namespace ulpgate::moe
