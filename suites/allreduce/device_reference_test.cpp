// run_case with the all-reduce reference on a device (harness/allreduce/device_reference.hpp), here
// the host-SIMT emulation of the CUDA reference's kernel: every result equals the one judged with
// the host reference (verdict, counts, ULPs and their histogram, digest, message, first bad
// elements) on the ci catalog, and on kernels whose outputs are wrong (an element one code up on
// one rank, every rank's last element dropped), where the comparison reads the device's results.
#include <gtest/gtest.h>

#include <cstring>

#include "harness/allreduce/compare.hpp"
#include "harness/allreduce/fused_case.hpp"
#include "harness/allreduce/run_case.hpp"
#include "harness/backends/device_references.hpp"
#include "suites/host_kernels.hpp"
#include "suites/same_judgement.hpp"
#include "suites/sample.hpp"

using namespace ulpgate;

namespace {

// The host backend's all-reduce kernels (warp 32), with the emulated device reference on request,
// and with outputs perturbed on request: rank 1's element 3 one code up, every rank's last element
// its poison.
class OnEmulatedDevice : public test_support::HostKernels {
 public:
  OnEmulatedDevice(bool device_reference, bool perturbed) : perturbed_(perturbed) {
    if (device_reference) reference_ = emulated_allreduce_reference(arch_by_name("host-w32"));
  }
  // NCCL's cases (judged on the budget tier) get the one-shot kernel's sums.
  std::string declines(const allreduce::Spec& spec) const override { return kernel_->declines(one_shot_for_nccl(spec)); }
  AllreduceClaim allreduce(const allreduce::Spec& s, std::span<const allreduce::RankBuffers> io) override {
    const AllreduceClaim claim = kernel_->allreduce(one_shot_for_nccl(s), io);
    if (!perturbed_ || s.view.count < 4) return claim;
    const size_t w = info(s.dtype).bits / 8, at = size_t(s.view.offset) * w, last = at + size_t(s.view.count - 1) * w;
    io[1].output[at + 3 * w] = std::byte(uint8_t(io[1].output[at + 3 * w]) + 1);
    for (const allreduce::RankBuffers& b : io) std::memset(b.output.data() + last, allreduce::kPoison, w);
    return claim;
  }
  allreduce::DeviceReference* allreduce_reference() override { return reference_.get(); }

 private:
  bool perturbed_;
  std::unique_ptr<allreduce::DeviceReference> reference_;

  static allreduce::Spec one_shot_for_nccl(allreduce::Spec s) {
    if (s.variant->order == allreduce::Order::per_hop) s.variant = &allreduce::variant("custom-1shot");
    return s;
  }
};

void expect_same_judgement(std::string_view id, bool perturbed) {
  OnEmulatedDevice host(false, perturbed), device(true, perturbed);
  const CaseResult want = allreduce::run_case_id(id, host, nullptr), got = allreduce::run_case_id(id, device, nullptr);
  const std::string what(id);
  test_support::expect_same_judgement(got, want, what);
  EXPECT_NE(got.note.find("references on host-simt (host-w32)"), std::string::npos) << what << ": " << got.note;
  EXPECT_EQ(want.note.find("references on"), std::string::npos) << what << ": " << want.note;
}

}  // namespace

TEST(AllreduceDeviceReference, TheCiCatalogIsJudgedAsTheHostReferenceJudgesIt) {
  int cases = 0;
  for (const std::string& id : allreduce::catalog_ids(Tier::ci)) {
    if (allreduce::is_fused_id(id)) continue;  // the fused ops' references are the norm family's
    if (test_support::sampled(cases++)) expect_same_judgement(id, false);
  }
  EXPECT_GT(cases, 150);
}

TEST(AllreduceDeviceReference, WrongOutputsAreJudgedAsOnTheHost) {
  for (const char* id : {"allreduce/custom-1shot/bf16/w2/6152/out-of-place/normal/s1",
                         "allreduce/custom-2shot/fp32/w4/3076/out-of-place/pow2-boundary_emin=-24_emax=24/s1",
                         "allreduce/custom-auto/fp16/w8/6152/out-of-place/normal/s1"}) {
    OnEmulatedDevice device(true, true);
    const CaseResult r = allreduce::run_case_id(id, device, nullptr);
    EXPECT_FALSE(passes(r.verdict)) << id << ": " << r.message;
    expect_same_judgement(id, true);
  }
}
