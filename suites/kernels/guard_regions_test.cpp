// Guard regions: a kernel under test that writes outside its outputs gets the verdict
// out-of-bounds naming the tensor, the side and the offset, and the sweep goes on. The faulty
// variants are the real host kernels handed a misplaced output pointer, as an off-by-one offset
// computation in a kernel would write: one packed-scale word past the end of the fused
// RMSNorm+quant scales, a byte before the codes, a row past the end of the norm output.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <string>

#include "harness/backends/kernel_backends.hpp"
#include "harness/core/family.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/norm/run_case.hpp"
#include "harness/quant/run_case.hpp"

namespace ulpgate {
namespace {

std::unique_ptr<Backend> host() {
  static const bool registered = (register_kernel_backends(), true);
  (void)registered;
  return make_backend("host", "host-w32");
}

// The host backend with one output pointer moved by `shift` elements of that output.
class ShiftedOutput : public Backend {
 public:
  enum class Output { quant_codes, norm_y, norm_scales };
  ShiftedOutput(Output which, ptrdiff_t shift) : which_(which), shift_(shift) {}
  std::string name() const override { return "shifted@host-w32"; }

  void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    if (which_ == Output::quant_codes) codes = {codes.data() + shift_, codes.size()};
    inner_->quant(spec, input, x, codes, scales);
  }
  void norm(const norm::Spec& spec, const norm::Buffers& io) override {
    norm::Buffers moved = io;
    if (which_ == Output::norm_y) moved.y = {io.y.data() + 2 * shift_, io.y.size()};  // bf16 elements
    if (which_ == Output::norm_scales) moved.scales = {io.scales.data() + 4 * shift_, io.scales.size()};  // words
    inner_->norm(spec, moved);
  }

 private:
  Output which_;
  ptrdiff_t shift_;
  std::unique_ptr<Backend> inner_ = host();
};

CaseResult run(std::string_view id, Backend& b) { return family_of(id).run(id, b, nullptr); }

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(GuardRegions, OnePackedScaleWordPastTheEndOfTheFusedNormQuantScales) {
  const std::string id = "norm.rms-quant/vllm/bf16/8x1024/e4m3fn/gs128/ue8m0-packed/normal/s1";
  ShiftedOutput faulty(ShiftedOutput::Output::norm_scales, 1);
  const CaseResult r = run(id, faulty);
  EXPECT_EQ(r.verdict, Verdict::out_of_bounds) << r.message;
  // 8 rows x 2 words: the last word lands in the 4 bytes after the 64-byte buffer.
  EXPECT_TRUE(has(r.message, "the kernel wrote 4 bytes past the end of 'scales' (bytes +0..+3 after its 64 bytes)"))
      << r.message;
  EXPECT_TRUE(has(r.message, "inside its outputs:")) << r.message;  // what the comparison found too
}

TEST(GuardRegions, AByteBeforeTheCodes) {
  const std::string id = "quant.group/vllm/e4m3fn/bf16/4x256/gs128/row/normal_sigma=2/s1";
  ShiftedOutput faulty(ShiftedOutput::Output::quant_codes, -1);
  const CaseResult r = run(id, faulty);
  EXPECT_EQ(r.verdict, Verdict::out_of_bounds) << r.message;
  EXPECT_TRUE(has(r.message, "the kernel wrote 1 byte before the start of 'codes' (bytes -1..-1 from its first byte)"))
      << r.message;
}

TEST(GuardRegions, ARowPastTheEndOfTheNormOutput) {
  const std::string id = "norm.rms/vllm/bf16/3x1024/normal/s1";
  ShiftedOutput faulty(ShiftedOutput::Output::norm_y, 1024);
  const CaseResult r = run(id, faulty);
  EXPECT_EQ(r.verdict, Verdict::out_of_bounds) << r.message;
  EXPECT_TRUE(has(r.message, "past the end of 'y' (bytes +0..+2047 after its 6144 bytes)")) << r.message;
}

TEST(GuardRegions, TheSweepGoesOnAndTheNextCaseIsJudgedNormally) {
  ShiftedOutput faulty(ShiftedOutput::Output::norm_scales, 1);
  EXPECT_EQ(run("norm.rms-quant/vllm/bf16/8x1024/e4m3fn/gs128/ue8m0-packed/normal/s1", faulty).verdict,
            Verdict::out_of_bounds);
  const auto good = host();
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(passes(run("norm.rms-quant/vllm/bf16/8x1024/e4m3fn/gs128/ue8m0-packed/normal/s1", *good).verdict));
}

TEST(GuardRegions, ACorrectKernelLeavesEveryGuardAlone) {
  const auto good = host();
  for (const std::string id : {"quant.group/vllm/e4m3fn/bf16/4x256/gs128/row/normal_sigma=2/s1",
                               "norm.rms-add/vllm/bf16/3x1025/normal/s1",
                               "norm.rms-quant/aiter/bf16/5x1024/e4m3fnuz/gs128/ue8m0-packed/normal/s1"})
    EXPECT_TRUE(passes(run(id, *good).verdict)) << id;
}

// ---- the host arena itself ---------------------------------------------------------------------

TEST(GuardedOutputs, OutputsStartPoisonedAndGuardsSeeEveryStrayByte) {
  GuardedOutputs out;
  const std::span<uint16_t> y = out.add<uint16_t>("y", 5, 0xA5A5);
  const std::span<uint8_t> codes = out.add<uint8_t>("codes", 3, 0xA5);
  EXPECT_EQ(y[4], 0xA5A5);
  EXPECT_EQ(out.bytes().size(), 13u);
  EXPECT_TRUE(out.violations().empty());
  codes.data()[3] = 0;                     // the byte after the end
  y.data()[-guard::kBytes / 2] = 0x1234;   // the first byte of the front guard: far before the start
  const auto v = out.violations();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].tensor, "y");
  EXPECT_TRUE(v[0].before);
  EXPECT_EQ(v[0].first, -int64_t(guard::kBytes));
  EXPECT_EQ(v[1].text(), "the kernel wrote 1 byte past the end of 'codes' (bytes +0..+0 after its 3 bytes)");
}

TEST(GuardedOutputs, AnEmptyOutputIsGuardedToo) {
  GuardedOutputs out;
  const std::span<uint8_t> none = out.add<uint8_t>("scales", 0, 0xA5);
  none.data()[0] = 1;
  ASSERT_EQ(out.violations().size(), 1u);
  EXPECT_EQ(out.violations()[0].text(), "the kernel wrote 1 byte past the end of 'scales' (bytes +0..+0 after its 0 bytes)");
}

TEST(GuardedOutputsDeathTest, AWriteBeyondTheGuardFaultsInsteadOfReachingTheHeap) {
  GuardedOutputs out;
  const std::span<uint8_t> codes = out.add<uint8_t>("codes", 100, 0xA5);
  // The back guard runs to the end of its page; the next page is the inaccessible fence.
  const size_t page = size_t(sysconf(_SC_PAGESIZE)), fence = (100 + guard::kBytes + page - 1) / page * page;
  EXPECT_DEATH({ codes.data()[fence] = 1; }, "");
}

}  // namespace
}  // namespace ulpgate
