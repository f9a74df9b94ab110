// Cases a backend does not run (a vendor library without an op or a format pair): declined before
// their inputs exist, skipped by the sweep and counted by reason, refused by name (exit 2), and a
// selection the backend declines entirely is an error, so a gate that judged nothing cannot pass.
#include <gtest/gtest.h>

#include "harness/backends/kernel_backends.hpp"
#include "harness/cli/sweep.hpp"
#include "harness/core/family.hpp"
#include "suites/harness/usage_error.hpp"

namespace ulpgate {
namespace {

// The host emulation without B in e5m2, the way cuBLASLt lacks ops and pairs.
class NoE5m2B : public Backend {
 public:
  NoE5m2B() : host_((register_kernel_backends(), make_backend("host", "host-w32"))) {}
  std::string name() const override { return "no-e5m2-b@host-w32"; }
  std::string declines(const gemm::Spec& spec) const override {
    return spec.b_format == Format::e5m2 ? "no e5m2 B operand" : "";
  }
  void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    host_->quant(spec, input, x, codes, scales);
  }
  GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) override {
    if (spec.b_format == Format::e5m2) ADD_FAILURE() << "a declined case reached the kernel";
    return host_->gemm(spec, io);
  }

 private:
  std::unique_ptr<Backend> host_;
};

cli::Selection selection(std::string filter) {
  static const bool registered = (register_backend("no-e5m2-b", [](std::string_view) -> std::unique_ptr<Backend> {
                                    return std::make_unique<NoE5m2B>();
                                  }),
                                  true);
  (void)registered;
  cli::Selection s;
  s.filter = std::move(filter);
  s.backend = "no-e5m2-b";
  s.archs = {"host-w32"};
  return s;
}

constexpr const char* kReason = "no-e5m2-b@host-w32 does not run this case: no e5m2 B operand";

TEST(Decline, TheSweepSkipsDeclinedCasesAndCountsThemByReason) {
  const cli::SweepResult sw = cli::sweep(selection("gemm.tensor/cublaslt-fast-accum/*"));
  ASSERT_EQ(sw.results.size(), 3u);
  for (const CaseResult& r : sw.results) {
    EXPECT_EQ(r.case_id.find(".e5m2/"), std::string::npos) << r.case_id;
    EXPECT_TRUE(passes(r.verdict)) << r.case_id << ": " << r.message;
  }
  EXPECT_FALSE(sw.any_failed);
  ASSERT_EQ(sw.declined.size(), 1u);
  EXPECT_EQ(sw.declined[0].why, kReason);
  EXPECT_NE(sw.declined[0].case_id.find(".e5m2/"), std::string::npos) << sw.declined[0].case_id;
  EXPECT_EQ(sw.declined[0].backend, "no-e5m2-b@host-w32");
  EXPECT_EQ(count_by_reason(sw.declined), (std::map<std::string, size_t>{{kReason, 1}}));
}

TEST(Decline, ASelectionDeclinedEntirelyIsAnError) {
  EXPECT_EQ(usage_error([] { cli::sweep(selection("gemm.tensor/cublaslt-fast-accum/e4m3fn.e5m2/*")); }),
            "no selected case runs on the no-e5m2-b backend (--filter selects what it runs)");
}

TEST(Decline, ADeclinedCaseAskedForByNameIsBadUsage) {
  NoE5m2B backend;
  const auto run = [&] { run_case("gemm.tensor/cublaslt-fast-accum/e4m3fn.e5m2/fp32/19x160x672/normal/s1", backend, nullptr); };
  EXPECT_THROW(run(), NotSupported);
  EXPECT_EQ(usage_error(run), kReason);
}

}  // namespace
}  // namespace ulpgate
