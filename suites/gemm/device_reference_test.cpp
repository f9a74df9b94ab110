// run_case with the GEMM reference on a device (harness/gemm/device_reference.hpp), here the
// host-SIMT emulation of the CUDA reference's kernels (the same kernels, the same pipeline): every
// result equals the one judged with the host reference — verdict, counts, ULPs and their
// histogram, the first bad elements, the diagnosis's story and maps — on the ci catalog, and on
// kernels whose outputs are wrong, where the comparison reads the device's bound and the diagnosis
// runs on it; and moe.gemm's experts, each judged as its dense case.
#include <gtest/gtest.h>

#include <cstring>

#include "harness/backends/device_references.hpp"
#include "harness/gemm/identify.hpp"
#include "harness/gemm/run_case.hpp"
#include "harness/moe/run_case.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "suites/host_kernels.hpp"
#include "suites/same_judgement.hpp"
#include "suites/sample.hpp"

using namespace ulpgate;

namespace {

enum class Fault { none, perturbed, claims_sm90, claims_nothing };

// The emulated device reference, counting the replays it runs and the most rows of D an ideal
// was made for.
class CountingReference : public gemm::DeviceReference {
 public:
  std::string name() const override { return inner_->name(); }
  std::string declines(const gemm::Spec& s, const gemm::AccumModel& m) const override { return inner_->declines(s, m); }
  gemm::Ideal ideal(const gemm::Spec& s, const gemm::Operands& in) override {
    widest_ideal = std::max(widest_ideal, s.m);
    return inner_->ideal(s, in);
  }
  gemm::Replay replay(const gemm::Spec& s, const gemm::AccumModel& m, const gemm::Operands& in) override {
    ++replays;
    return inner_->replay(s, m, in);
  }
  std::unique_ptr<gemm_kernels::HeldOperands> hold(const gemm::Spec& s, const gemm::Operands& in) override {
    class Counting : public gemm_kernels::HeldOperands {
     public:
      Counting(CountingReference& counts, std::unique_ptr<gemm_kernels::HeldOperands> inner)
          : counts_(counts), inner_(std::move(inner)) {}
      gemm::Ideal ideal(int64_t m0, int64_t m1) override {
        counts_.widest_ideal = std::max(counts_.widest_ideal, m1 - m0);
        return inner_->ideal(m0, m1);
      }
      gemm::Replay replay(const gemm::AccumModel& m, int64_t m0, int64_t m1) override {
        ++counts_.replays;
        return inner_->replay(m, m0, m1);
      }
      gemm_kernels::SlabCounts judge(const gemm::AccumModel& m, int64_t m0, int64_t m1, std::span<const std::byte> got,
                                     double factor) override {
        counts_.widest_ideal = std::max(counts_.widest_ideal, m1 - m0);
        ++counts_.replays, ++counts_.judged;
        return inner_->judge(m, m0, m1, got, factor);
      }

     private:
      CountingReference& counts_;
      std::unique_ptr<gemm_kernels::HeldOperands> inner_;
    };
    ++holds;
    return std::make_unique<Counting>(*this, inner_->hold(s, in));
  }
  int replays = 0, holds = 0, judged = 0;  // judged: slabs judged on the device
  int64_t widest_ideal = 0;

 private:
  std::unique_ptr<gemm::DeviceReference> inner_ = emulated_gemm_reference(arch_by_name("sm90"));
};

// The host backend's GEMM kernel (warp 32) with, on request, the emulated device reference, and
// with a fault: outputs perturbed after the kernel (one ulp up at every 37th element, three at
// every 101st, a NaN), the fp32-fma kernel claiming the sm90 model, or claiming none.
class OnEmulatedDevice : public test_support::HostKernels {
 public:
  OnEmulatedDevice(bool device_reference, Fault fault) : fault_(fault) {
    if (device_reference) reference_ = std::make_unique<CountingReference>();
  }
  int device_replays() const { return reference_ ? reference_->replays : 0; }
  int64_t widest_ideal() const { return reference_ ? reference_->widest_ideal : 0; }
  int holds() const { return reference_ ? reference_->holds : 0; }
  int judged() const { return reference_ ? reference_->judged : 0; }
  std::string declines(const gemm::Spec& spec) const override { return kernel_->declines(spec); }
  std::string declines(const gemm::GroupedSpec& spec) const override { return kernel_->declines(spec); }
  GemmClaim gemm(const gemm::Spec& s, const gemm::Buffers& io) override {
    GemmClaim claim = kernel_->gemm(s, io);
    if (fault_ == Fault::claims_sm90) claim.model = "sm90";
    if (fault_ == Fault::claims_nothing) claim.model.clear();
    if (fault_ == Fault::perturbed) perturb(s, io.d);
    return claim;
  }
  // Perturbed: the first element of D one ulp up (its expert fails, the others pass).
  GemmClaim grouped_gemm(const gemm::GroupedSpec& s, const gemm::GroupedBuffers& io) override {
    const GemmClaim claim = kernel_->grouped_gemm(s, io);
    if (fault_ == Fault::perturbed && !io.d.empty()) io.d[0] = std::byte(uint8_t(io.d[0]) + 1);
    return claim;
  }
  gemm::DeviceReference* gemm_reference() override { return reference_.get(); }

 private:
  Fault fault_;
  std::unique_ptr<CountingReference> reference_;

  static void perturb(const gemm::Spec& s, std::span<std::byte> d) {
    const size_t width = s.out == Format::bf16 ? 2 : 4, count = d.size() / width;
    const auto add = [&](size_t i, uint32_t x) {
      uint32_t v = 0;
      std::memcpy(&v, d.data() + i * width, width);
      v += x;
      std::memcpy(d.data() + i * width, &v, width);
    };
    for (size_t i = 0; i < count; i += 37) add(i, 1);
    for (size_t i = 5; i < count; i += 101) add(i, 3);
    if (count > 7) {
      const uint32_t nan = s.out == Format::bf16 ? 0x7FC0u : 0x7FC00000u;
      std::memcpy(d.data() + 7 * width, &nan, width);
    }
  }
};

// The two judgements of one case agree in everything but the note (which says where the
// references ran).
void expect_same_judgement(std::string_view id, Fault fault) {
  OnEmulatedDevice host(false, fault), device(true, fault);
  const auto run = id.starts_with("moe.") ? moe::run_case_id : gemm::run_case_id;
  const CaseResult want = run(id, host, nullptr), got = run(id, device, nullptr);
  const std::string what = std::string(id);
  test_support::expect_same_judgement(got, want, what);
  if (id.starts_with("moe.")) return;  // a grouped result's note names no reference
  EXPECT_NE(got.note.find("references on host-simt (sm90)"), std::string::npos) << what << ": " << got.note;
  EXPECT_EQ(want.note.find("references on"), std::string::npos) << what << ": " << want.note;
}

}  // namespace

// Every ci case but the DeepSeek-V3 decode shapes (up to 1.3e8 products each: minutes on the
// emulator; the H200 runs them on the device in the gate), 100 cases.
TEST(GemmDeviceReference, TheCiCatalogIsJudgedAsTheHostReferenceJudgesIt) {
  int cases = 0;
  for (const std::string& id : gemm::catalog_ids(Tier::ci)) {
    const gemm::Spec s = gemm::Case::parse(id).spec;
    if (s.m * s.n * s.k > (int64_t(1) << 23)) continue;
    if (test_support::sampled(cases++)) expect_same_judgement(id, Fault::none);
  }
  EXPECT_GE(cases, 90);
}

TEST(GemmDeviceReference, WrongOutputsAreJudgedAndDiagnosedAsOnTheHost) {
  for (const char* id : {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x128x512/normal/s1",
                         "gemm.block/deepgemm/e4m3fn.e4m3fn.ue8m0/fp32/19x160x672/normal/s1",
                         "gemm.tensor/cublaslt/e4m3fn.e5m2/fp32/16x128x512/cancel/s1",
                         "gemm.mx/ocp-mx/e4m3fn.e5m2/fp32/16x128x512/normal_nan=997_inf=1009/s1"}) {
    const CaseResult r = gemm::run_case_id(id, *std::make_unique<OnEmulatedDevice>(true, Fault::perturbed), nullptr);
    EXPECT_FALSE(passes(r.verdict)) << id << ": " << r.message;
    expect_same_judgement(id, Fault::perturbed);
  }
}

// D judged a row at a time (run_case's slabs), each row's references made on the device: the
// judgement of the host reference on the whole case, for every kind of A scales (per tensor, per
// row, per 1 x 128 group, MX) and correct and wrong outputs. A passing case's ideal is made a row
// at a time, on operands held on the device once for all the slabs, and judged there; a failing one
// is judged whole.
TEST(GemmDeviceReference, SlabsOfRowsAreJudgedAsTheWholeCaseOnTheHost) {
  for (const char* id : {"gemm.tensor/cublaslt/e4m3fn.e5m2/fp32/16x128x512/cancel/s1",
                         "gemm.rowwise/aiter/e4m3fnuz.e4m3fnuz/bf16/16x128x512/normal/s1",
                         "gemm.block/deepgemm/e4m3fn.e4m3fn.ue8m0/fp32/19x160x672/normal/s1",
                         "gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/19x160x672/normal/s1",
                         "gemm.mx/ocp-mx/e4m3fn.e5m2/fp32/16x128x512/normal_nan=997_inf=1009/s1"}) {
    const gemm::Case c = gemm::Case::parse(id);
    for (const Fault fault : {Fault::none, Fault::perturbed}) {
      OnEmulatedDevice host(false, fault), device(true, fault);
      const CaseResult want = gemm::run_case(c, host, 0).result;
      const CaseResult got = gemm::run_case(c, device, c.spec.n).result;
      test_support::expect_same_judgement(got, want, id);
      EXPECT_EQ(passes(got.verdict), fault == Fault::none) << id << ": " << got.message;
      EXPECT_EQ(device.widest_ideal(), fault == Fault::none ? 1 : c.spec.m) << id;
      EXPECT_EQ(device.holds(), 1) << id;
      EXPECT_GE(device.judged(), 1) << id;  // the first slab at least, on the device
    }
  }
}

// A grouped GEMM's experts judged as dense cases with the device's references: contiguous and
// masked rows, fp32 and ue8m0 block scales, MX.
TEST(GemmDeviceReference, GroupedGemmsAreJudgedAsOnTheHost) {
  int cases = 0;
  for (const std::string& id : moe::catalog_ids(Tier::ci))
    if (id.starts_with("moe.gemm") && test_support::sampled(cases++)) expect_same_judgement(id, Fault::none);
  EXPECT_GE(cases, 15);
}

// A grouped GEMM with one wrong element: its expert judged here for its story, the others on the
// device; the failing case's map (every expert's replay) and message as on the host.
TEST(GemmDeviceReference, AGroupedGemmsWrongExpertIsJudgedAsOnTheHost) {
  for (const char* id : {"moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1",
                         "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/masked/8x300x256x512/normal/s1"}) {
    OnEmulatedDevice device(true, Fault::perturbed);
    const CaseResult r = moe::run_case_id(id, device, nullptr);
    EXPECT_FALSE(passes(r.verdict)) << id;
    EXPECT_EQ(r.grids.size(), 1u) << id;
    expect_same_judgement(id, Fault::perturbed);
  }
}

// The sm90 replay with its bound on the device: the fp32-fma kernel claiming sm90 is over budget
// where the orders part, with the same story.
TEST(GemmDeviceReference, AFalseSm90ClaimIsJudgedAsOnTheHost) {
  const char* id = "gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/16x64x4096/normal/s1";
  OnEmulatedDevice device(true, Fault::claims_sm90);
  const CaseResult r = gemm::run_case_id(id, device, nullptr);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << r.message;
  EXPECT_EQ(r.note.find("the replay here"), std::string::npos) << r.note;
  expect_same_judgement(id, Fault::claims_sm90);
}

// A kernel that claims no model: identification replays its candidates on all of D on the device
// where it replays them (and the expectation's replay and bound), and names the same order as on
// the host.
TEST(GemmDeviceReference, IdentificationOnTheDeviceNamesTheSameOrder) {
  const auto reference = emulated_gemm_reference(arch_by_name("sm90"));
  int on_device = 0;
  for (const char* id : {"gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/16x64x4096/normal/s1",
                         "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x128x512/normal/s1"}) {
    OnEmulatedDevice device(true, Fault::claims_nothing);
    const CaseResult r = gemm::run_case_id(id, device, nullptr);
    EXPECT_TRUE(passes(r.verdict)) << id << ": " << r.message;
    EXPECT_NE(r.message.find("(identified)"), std::string::npos) << id << ": " << r.message;
    // The note says where the identified order's replay ran: the device, where it replays it.
    ASSERT_FALSE(r.model.empty()) << id;
    const bool replays = reference->declines(gemm::Case::parse(id).spec, gemm::parse_variant(r.model)->model).empty();
    EXPECT_EQ(r.note.find("the replay here") == std::string::npos, replays) << id << ": " << r.note;
    on_device += replays;
    // The candidates checked on all of D were replayed there too, beside the expectation's replay.
    if (replays) {
      EXPECT_GE(device.device_replays(), 2) << id;
    }
    expect_same_judgement(id, Fault::claims_nothing);
    // The identified order holds D to it a slab (a row) at a time, judged as the whole case is.
    OnEmulatedDevice whole(false, Fault::claims_nothing), slabs(true, Fault::claims_nothing);
    const gemm::Case c = gemm::Case::parse(id);
    test_support::expect_same_judgement(gemm::run_case(c, slabs, c.spec.n).result, gemm::run_case(c, whole, 0).result, id);
    if (replays) {
      EXPECT_EQ(slabs.judged(), c.spec.m) << id;
    }
  }
  EXPECT_GE(on_device, 1);
}
