// moe.quant (reference/quant/grouped.hpp, harness/moe/quant_*): ids, the grouped op as the dense
// quantization per expert, its storage the one the grouped GEMM reads, the portable kernel's
// grouped launch on the catalog, and the grouped kernel's own mistakes, each a faulty row map
// whose verdict names the expert and its rows: padding rows quantized as tokens, rows beyond
// masked_m written, scales written into the neighbouring expert's slot; with the experts'
// references on the (emulated) device, every case and fault judged as with the host's.
#include <gtest/gtest.h>

#include <numeric>

#include "harness/backends/device_references.hpp"
#include "harness/backends/kernel_backends.hpp"
#include "harness/moe/catalog.hpp"
#include "harness/moe/quant_run.hpp"
#include "kernels/quant/quant_host.hpp"
#include "kernels/quant/reference_plan.hpp"
#include "reference/gemm/layout.hpp"
#include "suites/host_kernels.hpp"
#include "suites/kernels/host_archs.hpp"
#include "suites/same_judgement.hpp"

namespace ulpgate::moe {
namespace {

constexpr std::string_view kContiguous = "moe.quant/deepgemm/e4m3fn/bf16/contiguous/8x300x512/gs128/col-tma/normal/s1";
constexpr std::string_view kMasked = "moe.quant/deepgemm/e4m3fn/bf16/masked/8x300x512/gs128/col-tma/normal/s1";

TEST(MoeQuantCase, IdsRoundTripAndBadOnesAreNamed) {
  for (const QuantCase& c : quant_catalog(Tier::full)) EXPECT_EQ(QuantCase::parse(c.id()).id(), c.id());
  const QuantCase c = QuantCase::parse(kMasked);
  EXPECT_EQ(c.spec.tokens, route(8, 300, 128, 1));
  EXPECT_EQ(c.spec.part_rows(), c.spec.slot_rows());
  EXPECT_EQ(c.spec.scale_bytes(), 8 * c.spec.part_bytes());
  for (const std::string_view bad : {"moe.quant/deepgemm/e4m3fn/bf16/contiguous/8x300x500/gs128/col-tma/normal/s1",
                                     "moe.quant/deepgemm/e4m3fn/bf16/sideways/8x300x512/gs128/col-tma/normal/s1",
                                     "moe.quant/deepgemm/e4m3fn/bf16/contiguous/300x512/gs128/col-tma/normal/s1",
                                     "moe.quant/deepgemm/e4m3fn/bf16/contiguous/8x300x512/col-tma/normal/s1",
                                     "moe.quant-block/deepgemm/e4m3fn/bf16/contiguous/8x300x512/gs128/col-tma/normal/s1"})
    EXPECT_THROW(QuantCase::parse(bad), UsageError) << bad;
}

// One expert holding every token with no padding is the dense op: the same codes and storage.
TEST(MoeQuantReference, OneExpertIsTheDenseQuantization) {
  const QuantCase c = QuantCase::parse("moe.quant/deepgemm/e4m3fn/bf16/contiguous.a1/1x70x512/gs128/col-tma/normal/s1");
  const quant::Inputs x = c.expert_inputs(c.inputs(), 0);
  EXPECT_EQ(x.raw, c.expert_case(0).raw_inputs().raw);  // the grouped input's rows are the dense case's
  const quant::Result dense = quant::quantize_profile(c.expert_case(0).spec, x.values);
  const quant::GroupedResult grouped = quant::quantize_grouped(c.spec, x.values, 0xA5);
  EXPECT_EQ(grouped.codes, dense.codes);
  EXPECT_EQ(grouped.storage, dense.storage);
}

// What moe.quant writes is what moe.gemm reads: the same logical A (codes and 1x128 scales) gives
// the grouped GEMM's A and A-scale storage byte for byte on every token's row, in both layouts.
TEST(MoeQuantReference, ItsStorageIsTheGroupedGemmsA) {
  for (const std::string_view id : {"moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1",
                                    "moe.gemm/deepgemm/e4m3fn.e4m3fn.ue8m0/fp32/masked.a32/16x200x128x384/normal/s3"}) {
    const Case g = Case::parse(id);
    const Tensors t = g.tensors();
    quant::GroupedSpec q;
    static_cast<ExpertRows&>(q) = g.spec;
    q.base = quant::Case::parse("quant.group/deepgemm/e4m3fn/bf16/1x" + std::to_string(g.spec.base.k) + "/gs128/" +
                                std::string(quant::layout_name(gemm::scale_layout(g.spec.base, gemm::Which::a))) +
                                (g.spec.base.ue8m0 ? ".ue8m0" : "") + "/normal/s1")
                 .spec;
    std::vector<quant::Result> experts;
    for (int64_t e = 0; e < g.spec.experts(); ++e) {
      const gemm::Operands& x = t.experts[size_t(e)];
      experts.push_back({x.a, x.sa, quant::pack(q.base.layout, {g.spec.tokens[size_t(e)], q.groups()}, x.sa)});
    }
    const quant::GroupedResult a = quant::assemble_grouped(q, experts, 0xA5);
    ASSERT_EQ(a.codes.size(), t.a.size()) << id;
    ASSERT_EQ(a.storage.size(), t.sa.size()) << id;
    const std::vector<int32_t> of = g.spec.row_experts();
    for (int64_t r = 0; r < g.spec.rows(); ++r) {
      if (of[size_t(r)] < 0) continue;
      const int64_t k = g.spec.base.k;
      EXPECT_TRUE(std::equal(t.a.begin() + r * k, t.a.begin() + (r + 1) * k, a.codes.begin() + r * k)) << id << " row " << r;
      for (int64_t j = 0; j < q.groups(); ++j)
        EXPECT_EQ(t.sa[size_t(q.scale_offset(r, j))], a.storage[size_t(q.scale_offset(r, j))]) << id << " row " << r;
    }
  }
}

TEST(MoeQuantKernel, TheGroupedLaunchPassesTheCatalogOnBothWarpSizes) {
  register_kernel_backends();
  for (const std::string_view arch : {"host-w32", "host-w64"}) {
    const std::unique_ptr<Backend> host = make_backend("host", arch);
    for (const QuantCase& c : quant_catalog(Tier::ci)) {
      const CaseResult r = run_quant_case(c, *host);
      EXPECT_TRUE(passes(r.verdict)) << arch << " " << c.id() << ": " << r.message;
      EXPECT_EQ(r.elements, c.tokens * (c.spec.base.k + c.spec.groups())) << c.id();
    }
  }
}

TEST(MoeQuantKernel, ThePlanChecksTheRowMap) {
  const QuantCase c = QuantCase::parse(kContiguous);
  const QuantInputs in = c.inputs();
  std::vector<uint8_t> codes(size_t(c.spec.rows() * c.spec.base.k)), scales(size_t(c.spec.scale_bytes()));
  const std::span<const int32_t> short_map(in.row_map.data(), in.row_map.size() - 1);
  EXPECT_THROW(quant_kernels::run_grouped_quant_host(kHostW32, c.spec, c.input, in.raw, short_map, codes, scales),
               quant_kernels::QuantError);
}

// A grouped kernel's mistakes, as row maps the kernels read (quant_kernels.hpp ExpertRowMap).
struct EveryRowIsAToken : quant_kernels::ExpertRowMap {
  bool token(int64_t) const { return true; }
};
struct ScalesInTheNextSlot : quant_kernels::ExpertRowMap {
  int64_t experts;
  int64_t scale_row(int64_t row, int64_t& base) const {
    const int64_t r = ExpertRowMap::scale_row(row, base);
    base = (base / slot_bytes + 1) % experts * slot_bytes;
    return r;
  }
};

// Base with the host-SIMT emulation of the CUDA quantization reference as its device's, on request.
template <class Base>
class WithReference : public Base {
 public:
  explicit WithReference(bool device_reference) {
    if (device_reference) reference_ = emulated_quant_reference(arch_by_name("host-w32"));
  }
  quant::DeviceReference* quant_reference() override { return reference_.get(); }

 private:
  std::unique_ptr<quant::DeviceReference> reference_;
};

template <class Fault>
class Faulty : public WithReference<Backend> {
 public:
  explicit Faulty(Fault f, bool device_reference = false) : WithReference<Backend>(device_reference), f_(f) {}
  std::string name() const override { return "faulty@host"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no dense quant");
  }
  void grouped_quant(const quant::GroupedSpec& s, Format input, std::span<const std::byte> x, std::span<const int32_t> map,
                     std::span<uint8_t> codes, std::span<uint8_t> scales) override {
    quant_kernels::run_grouped_quant_host(kHostW32, s, input, x, map, codes, scales, [&](quant_kernels::ExpertRowMap m) {
      Fault f = f_;
      static_cast<quant_kernels::ExpertRowMap&>(f) = m;
      return f;
    });
  }

 private:
  Fault f_;
};

template <class Fault>
CaseResult run_with(std::string_view id, Fault f, bool device_reference = false) {
  Faulty<Fault> kernel(f, device_reference);
  return run_quant_case(QuantCase::parse(id), kernel);
}

// The portable kernel (warp 32), its experts' references here or on the emulated device.
class PortableKernel : public WithReference<test_support::HostKernels> {
 public:
  using WithReference::WithReference;
  std::string declines(const quant::GroupedSpec& s) const override { return kernel_->declines(s); }
  void grouped_quant(const quant::GroupedSpec& s, Format input, std::span<const std::byte> x, std::span<const int32_t> map,
                     std::span<uint8_t> codes, std::span<uint8_t> scales) override {
    kernel_->grouped_quant(s, input, x, map, codes, scales);
  }
};

TEST(MoeQuantKernel, EveryGroupedFaultIsNamedWithItsExpertAndRows) {
  const QuantCase m = QuantCase::parse(kMasked);
  const int64_t slot = m.spec.slot_rows(), count = m.spec.tokens[3];
  struct Shown {
    CaseResult r;
    std::string said;
  };
  const Shown shown[] = {
      {run_with(kContiguous, EveryRowIsAToken{}), "wrote rows that are not tokens: rows 1-127 (padding after expert 1's tokens)"},
      {run_with(kMasked, EveryRowIsAToken{}), "(beyond masked_m 0 in expert 0's slot)"},
      {run_with(kMasked, ScalesInTheNextSlot{{}, 8}),
       "expert 3 (" + std::to_string(count) + " tokens, x rows " + std::to_string(3 * slot) + "-" +
           std::to_string(3 * slot + count - 1) + "): its scales were written at rows " + std::to_string(4 * slot) + "-" +
           std::to_string(4 * slot + count - 1) + " (" + std::to_string(slot) + " rows: one expert slot), its codes not"},
  };
  for (const Shown& s : shown) {
    EXPECT_EQ(s.r.verdict, Verdict::layout) << s.r.message;
    EXPECT_NE(s.r.message.find(s.said), std::string::npos) << s.r.message << "\n  expected: " << s.said;
    ASSERT_FALSE(s.r.grids.empty());
    EXPECT_EQ(s.r.grids[0].rows, 9);  // 8 experts and the rows that are not tokens
  }
  // Quantizing every row leaves the tokens' codes right and writes every code of the other rows:
  // the map counts all of those in its last row and none elsewhere.
  for (const std::string_view id : {kContiguous, kMasked}) {
    const QuantCase c = QuantCase::parse(id);
    const ErrorGrid g = run_with(id, EveryRowIsAToken{}).grids.at(0);
    const auto sum = [&](int64_t row0, int64_t row1) {
      return std::accumulate(g.cells.begin() + row0 * g.cols, g.cells.begin() + row1 * g.cols, 0.0);
    };
    EXPECT_EQ(sum(0, 8), 0.0) << id;
    EXPECT_EQ(sum(8, 9), double((c.spec.rows() - std::accumulate(c.spec.tokens.begin(), c.spec.tokens.end(), int64_t(0))) * c.spec.base.k)) << id;
  }
}

// Every ci case and every grouped fault judged with the experts' references on the emulated device
// as with them on the host: the same verdict, counts, message and maps; the note says where.
TEST(MoeQuantDeviceReference, CasesAndFaultsAreJudgedAsWithTheHostReference) {
  PortableKernel host(false), device(true);
  size_t on_device = 0;
  const std::vector<QuantCase> cases = quant_catalog(Tier::ci);
  for (const QuantCase& c : cases) {
    const CaseResult got = run_quant_case(c, device), want = run_quant_case(c, host);
    test_support::expect_same_judgement(got, want, c.id());
    const bool computes = quant_kernels::reference_declines(c.expert_case(0).spec, c.input).empty();  // te's fp32 MX: no
    on_device += computes;
    EXPECT_EQ(got.note, computes ? "references on host-simt (host-w32)" : "") << c.id();
    EXPECT_EQ(want.note, "") << c.id();
  }
  EXPECT_GE(on_device, cases.size() - 1);
  const auto same = [](const CaseResult& got, const CaseResult& want) {
    EXPECT_FALSE(passes(got.verdict)) << got.case_id << ": " << got.message;
    test_support::expect_same_judgement(got, want, got.case_id);
  };
  same(run_with(kContiguous, EveryRowIsAToken{}, true), run_with(kContiguous, EveryRowIsAToken{}));
  same(run_with(kMasked, ScalesInTheNextSlot{{}, 8}, true), run_with(kMasked, ScalesInTheNextSlot{{}, 8}));
}

}  // namespace
}  // namespace ulpgate::moe
