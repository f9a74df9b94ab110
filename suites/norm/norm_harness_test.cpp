// The RMSNorm comparator and diagnosis, proven with a test-only backend that returns the
// profile-exact outputs with one controlled fault: a kernel's r anywhere in its proven interval
// passes (counted as flips), anything else gets the precise verdict. Includes R1, the fused op
// that writes fp32 scales where its consumer reads int32-packed ue8m0, with its repro story.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "harness/cli/reports.hpp"
#include "suites/html_page.hpp"
#include "suites/same_judgement.hpp"
#include "harness/norm/budget.hpp"
#include "harness/norm/catalog.hpp"
#include "harness/norm/divergence.hpp"
#include "harness/norm/run_case.hpp"
#include "harness/quant/budget.hpp"

using namespace ulpgate;
using namespace ulpgate::norm;

namespace {

enum class Fault {
  none,
  r_at_interval_end,   // every row uses the largest r the budget allows: flips, within budget
  r_off,               // r 2^-12 too large: far outside the accumulation + rsqrt bound
  eps_outside_sqrt,    // r = 1/sqrt(ms) + eps
  residual_fp32,       // rms-add: the residual written from the unrounded z (truncated)
  nan_injected,        // one output NaN
  fp32_scales_packed,  // R1: fp32 row scales (not powers of two) written into the packed buffer
  y_unwritten,         // the last element never written
  eps_1e5,             // eps 1e-5 instead of the profile's 1e-6
  round_once,          // y rounded once where the profile rounds twice
  unfused,             // rms-quant computed by the vllm-unfused profile (R18)
  mean_over_h_minus_1, // ms = sum / (H - 1)
  half_sum,            // R12: r from the sum of squares of the first half of each row
  truncated_y,         // y truncated to bf16 (round toward zero)
  residual_unwritten,  // rms-add: the first residual element never written
  z_rounded,           // rms-add-quant, dynamic: x + residual rounded to T before it is squared
  ub_ignored,          // rms-quant per token: scale_ub not applied
};

// The profile's outputs at an r chosen by the fault, written into the backend's buffers.
class FaultBackend : public Backend {
 public:
  explicit FaultBackend(Fault f) : fault_(f) {}
  std::string name() const override { return "fault@host-w32"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no quant");
  }

  void norm(const Spec& spec, const Buffers& io) override {
    const Inputs in = widen(spec, io);
    Spec s = spec;
    Profile patched = *spec.profile;
    if (fault_ == Fault::eps_1e5) patched.eps = 1e-5f, patched.eps_added = double(1e-5f);
    if (fault_ == Fault::round_once) patched.rounding = norm::Rounding::once;
    if (fault_ == Fault::z_rounded) patched.dynamic_quant_z_fp32 = false;
    if (fault_ == Fault::ub_ignored) s.scale_ub = 0;
    s.profile = fault_ == Fault::unfused ? &profile("vllm-unfused") : &patched;
    if (fault_ == Fault::fp32_scales_packed) {
      s.layout = quant::Layout::row;
      s.ue8m0 = false;
    }
    Result r = normalize_profile(s, in);
    if (fault_ == Fault::r_at_interval_end || fault_ == Fault::r_off || fault_ == Fault::eps_outside_sqrt ||
        fault_ == Fault::mean_over_h_minus_1 || fault_ == Fault::half_sum) {
      const Ideal ideal = normalize_ideal(s, in, r);
      const double rel = r_bound(s, norm_budget(quant::default_budgets(), s).lanes);
      for (int64_t row = 0; row < s.m; ++row) {
        float rr = admissible_r(ideal.r[size_t(row)], rel).hi;
        if (fault_ == Fault::r_off) rr = float(ideal.r[size_t(row)] * (1 + std::ldexp(1.0, -12)));
        if (fault_ == Fault::eps_outside_sqrt) {  // 1 / (sqrt(ms) + eps) instead of 1 / sqrt(ms + eps)
          const double r = ideal.r[size_t(row)], ms = 1 / (r * r) - s.profile->eps;
          rr = float(1 / (std::sqrt(ms) + s.profile->eps));
        }
        if (fault_ == Fault::mean_over_h_minus_1) {
          const double r = ideal.r[size_t(row)], ms = 1 / (r * r) - s.profile->eps_added;
          rr = float(1 / std::sqrt(ms * double(s.h) / double(s.h - 1) + s.profile->eps_added));
        }
        if (fault_ == Fault::half_sum) {
          double sum = 0;
          for (int64_t col = 0; col < s.h / 2; ++col) sum += double(in.x[size_t(row * s.h + col)]) * in.x[size_t(row * s.h + col)];
          rr = float(1 / std::sqrt(sum / double(s.h) + s.profile->eps_added));
        }
        rerun_row(s, in, row, rr, r);
      }
    }
    if (fault_ == Fault::residual_fp32)
      for (size_t i = 0; i < r.residual.size(); ++i) r.residual[i] = uint16_t(std::bit_cast<uint32_t>(in.x[i] + in.residual[i]) >> 16);
    if (fault_ == Fault::nan_injected && !r.y.empty()) r.y[r.y.size() / 2] = 0x7FC0;
    if (fault_ == Fault::y_unwritten && !r.y.empty()) r.y.pop_back();
    if (fault_ == Fault::residual_unwritten) r.residual[0] = kPoison16;
    if (fault_ == Fault::truncated_y)  // round once: fl(fl(z r) w), its bf16 bits truncated
      for (int64_t i = 0; i < s.m * s.h; ++i)
        r.y[size_t(i)] = uint16_t(std::bit_cast<uint32_t>(in.x[size_t(i)] * r.r[size_t(i / s.h)] * in.weight[size_t(i % s.h)]) >> 16);
    copy(std::as_bytes(std::span(r.y)), io.y);
    copy(std::as_bytes(std::span(r.residual)), io.residual_out);
    copy(std::as_bytes(std::span(r.quant.codes)), std::as_writable_bytes(io.codes));
    // A writer of another layout fills what fits of the consumer's buffer (R1).
    copy(std::as_bytes(std::span(r.quant.storage)), std::as_writable_bytes(io.scales));
  }

 private:
  static Inputs widen(const Spec& s, const Buffers& io) {
    auto values = [&](std::span<const std::byte> raw) {
      std::vector<float> v(raw.size() / 2);
      for (size_t i = 0; i < v.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, &raw[2 * i], 2);
        v[i] = s.dtype == Format::bf16 ? bf16_to_float(h) : fp16_to_float(h);
      }
      return v;
    };
    return {values(io.x), values(io.residual), values(io.weight)};
  }
  static void rerun_row(const Spec& s, const Inputs& in, int64_t row, float rr, Result& r) {
    for (int64_t col = 0; col < s.h; ++col) {
      const size_t i = size_t(row * s.h + col);
      const Element e = normalize_element(s, in.x[i], in.residual.empty() ? 0.0f : in.residual[i],
                                          in.weight[size_t(col)], rr);
      if (!r.y.empty()) r.y[i] = e.y;
    }
  }
  // What fits; outputs an op does not have are empty (never memcpy a null pointer).
  static void copy(std::span<const std::byte> from, std::span<std::byte> to) {
    if (const size_t n = std::min(to.size(), from.size())) std::memcpy(to.data(), from.data(), n);
  }
  Fault fault_;
};

CaseResult run(std::string_view id, Fault f) {
  FaultBackend b(f);
  return run_case(Case::parse(id), b).result;
}

constexpr std::string_view kRms = "norm.rms/vllm/bf16/4x4096/normal/s1";
constexpr std::string_view kRmsAdd = "norm.rms-add/vllm/bf16/3x1025/normal_sigma=2/s1";
constexpr std::string_view kPacked = "norm.rms-quant/vllm/bf16/4x1024/e4m3fn/gs128/ue8m0-packed/normal/s1";
// Enough scales that some fp32 mantissa bytes are 0xFF, as in a real batch.
constexpr std::string_view kPackedBatch = "norm.rms-quant/vllm/bf16/256x1024/e4m3fn/gs128/ue8m0-packed/normal/s1";

}  // namespace

TEST(NormCaseId, RoundTripsOverTheCatalog) {
  const std::vector<Case> cases = catalog();
  ASSERT_GT(cases.size(), 100u);
  std::set<std::string> ids;
  for (const Case& c : cases) {
    EXPECT_EQ(Case::parse(c.id()).id(), c.id());
    EXPECT_TRUE(ids.insert(c.id()).second) << "duplicate " << c.id();
  }
}

TEST(NormCaseId, BadIdsNameTheProblem) {
  auto message = [](std::string_view id) {
    try {
      Case::parse(id);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("norm.rms/vllm/bf16/4x4096/normal").find("expected 6 segments"), std::string::npos);
  EXPECT_NE(message("norm.rms/nope/bf16/4x4096/normal/s1").find("valid"), std::string::npos);
  EXPECT_NE(message("norm.rms/vllm/fp32/4x4096/normal/s1"), "accepted");
  EXPECT_NE(message("norm.rms-quant/vllm/bf16/4x1000/e4m3fn/gs128/row/normal/s1").find("multiple"), std::string::npos);
  EXPECT_EQ(Case::parse("norm.rms-quant/vllm/bf16/4x1024/e4m3fn/token/normal/s1").spec.gs, 0);
}

TEST(NormCaseId, InputsDoNotDependOnTheProfile) {
  const Tensors a = Case::parse("norm.rms-quant/vllm/bf16/3x2048/e4m3fn/token/normal/s1").inputs();
  const Tensors b = Case::parse("norm.rms-quant/vllm-unfused/bf16/3x2048/e4m3fn/token/normal/s1").inputs();
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.weight, b.weight);
  const Tensors c = Case::parse("norm.rms-quant/vllm/bf16/3x2048/e4m3fn/token/normal/s2").inputs();
  EXPECT_NE(a.x, c.x);
}

TEST(NormCompare, ProfileExactOutputIsExact) {
  for (std::string_view id : {kRms, kRmsAdd, kPacked}) {
    const CaseResult r = run(id, Fault::none);
    EXPECT_EQ(r.verdict, Verdict::exact) << id << " " << r.message;
    EXPECT_EQ(r.n_over + r.n_nonfinite, 0u);
  }
}

// A bf16 row has only 256 significands of z, so a row flips an element with r only now and then:
// many rows make flips certain.
TEST(NormCompare, AnyRInTheProvenIntervalIsWithinBudgetAndCounted) {
  for (std::string_view id : {"norm.rms/vllm/fp16/16x4096/normal/s1", "norm.rms-add/hf/bf16/64x1025/normal/s1",
                              "norm.rms/aiter/fp16/2x16384/normal/s1"}) {
    const CaseResult r = run(id, Fault::r_at_interval_end);
    EXPECT_EQ(r.verdict, Verdict::within_budget) << id << " " << (r.first_bad.empty() ? "" : r.first_bad[0]);
    EXPECT_GT(r.n_within, 0u) << id;
    EXPECT_LT(r.n_within, r.elements / 20) << "the r window must stay narrow: " << id;
  }
}

TEST(NormCompare, AnROutsideTheBoundIsOverBudget) {
  const CaseResult r = run(kRms, Fault::r_off);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  ASSERT_FALSE(r.first_bad.empty());
  EXPECT_NE(r.first_bad[0].find("expected"), std::string::npos);
}

TEST(NormCompare, EpsOutsideTheSqrtIsCaughtWhereEpsMatters) {
  EXPECT_EQ(run("norm.rms/vllm/bf16/3x1025/normal_sigma=0.001/s1", Fault::eps_outside_sqrt).verdict, Verdict::over_budget);
}

// ---- diagnosis: the profile with one parameter changed, another profile, the r of each row ----

struct Story {
  Fault fault;
  std::string_view id;
  std::string_view message;  // the verdict is over-budget
};

constexpr Story kStories[] = {
    {Fault::eps_1e5, "norm.rms/vllm/bf16/3x1025/normal_sigma=0.001/s1",
     "profile mismatch: the output follows vllm with eps 1e-05 instead of 1e-06"},
    // rms-add: vLLM rounded once is not AITER, which squares the unrounded residual sum; it is
    // FlashInfer's fused norm (T residual, one rounding, rsqrtf): the data cannot tell the two apart.
    {Fault::round_once, kRmsAdd,
     "the data fits 2 explanations: profile mismatch: the output follows vllm with y rounded once instead of twice; "
     "or profile divergence: the output follows profile flashinfer, not vllm"},
    {Fault::unfused, "norm.rms-quant/vllm/bf16/3x2048/e4m3fn/gs128/ue8m0-packed/uniform_lo=-1e-07_hi=1e-07/s1",
     "profile divergence: the output follows profile vllm-unfused, not vllm"},
    {Fault::eps_outside_sqrt, "norm.rms/vllm/bf16/3x1025/normal_sigma=0.001/s1",
     "every row follows r = 1 / (sqrt(ms) + eps): eps added outside the square root"},
    {Fault::mean_over_h_minus_1, "norm.rms/vllm/bf16/4x1025/normal/s1",
     "every row follows the mean of the squares over 1024 elements, not H = 1025: a wrong element count (1/H) in the "
     "mean"},
    {Fault::half_sum, kRms,
     "4 of 4 rows follow a larger r than the profile's: the sum of squares misses part of the row: a reduction "
     "narrower than the row (R12: a width or mask written for 32 lanes), a dropped lane or warp partial, or elements "
     "never read"},
    {Fault::truncated_y, "norm.rms/aiter/bf16/4x4096/normal/s1",
     "every deviating output is at most 4 ulps toward zero from the profile's, none away from zero: a truncating "
     "conversion to bf16 (round toward zero) instead of RNE"},
    {Fault::y_unwritten, kRms, "1 y element never written (still the poison 0xA5A5): a missing store"},
    {Fault::residual_unwritten, kRmsAdd, "1 residual element never written (still the poison 0xA5A5): a missing store"},
    // Above the fused floor the unfused twin rounds z the same way: the data cannot tell them apart.
    {Fault::z_rounded, "norm.rms-add-quant/vllm/bf16/5x1024/e4m3fn/token/normal/s1",
     "the data fits 2 explanations: profile mismatch: the output follows vllm with the residual sum rounded to T "
     "before it is squared; or profile divergence: the output follows profile vllm-unfused, not vllm"},
    {Fault::ub_ignored, "norm.rms-quant/vllm/bf16/5x1024/e4m3fn/token.ub=1.5/normal/s1",
     "the scales follow the rows' whole amax: scale_ub 1.5 was not applied"},
    // A static scale: only the profiles with a static row are tried (trying aiter's, which has
    // none, threw a usage error out of the gate: exit 2 for a kernel bug). FlashInfer has one and
    // rounds once: the data cannot tell the two apart.
    {Fault::round_once, "norm.rms-quant/vllm/bf16/5x1024/e4m3fn/static=0.0123/normal/s1",
     "the data fits 2 explanations: profile mismatch: the output follows vllm with y rounded once instead of twice; "
     "or profile divergence: the output follows profile flashinfer, not vllm"},
};

TEST(NormDiagnosis, EachBugClassIsNamed) {
  for (const Story& s : kStories) {
    const CaseResult r = run(s.id, s.fault);
    EXPECT_EQ(r.verdict, Verdict::over_budget) << s.id << ": " << r.message;
    EXPECT_EQ(r.message, s.message) << s.id;
  }
}

TEST(NormDiagnosis, AnUnexplainedMismatchSaysSo) {
  const CaseResult r = run(kRms, Fault::nan_injected);
  EXPECT_EQ(r.message, "1 element over budget; no hypothesis explains the output");
}

TEST(NormCompare, ResidualMustBeTheRoundedSum) {
  const CaseResult r = run(kRmsAdd, Fault::residual_fp32);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  ASSERT_FALSE(r.first_bad.empty());
  EXPECT_EQ(r.first_bad[0].rfind("residual[", 0), 0u) << r.first_bad[0];
}

TEST(NormCompare, InjectedNanIsNonFinite) {
  const CaseResult r = run(kRms, Fault::nan_injected);
  EXPECT_EQ(r.verdict, Verdict::non_finite);
  EXPECT_EQ(r.n_nonfinite, 1u);
}

TEST(NormCompare, UnwrittenElementIsPoisonAndNamed) {
  const CaseResult r = run(kRms, Fault::y_unwritten);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  ASSERT_FALSE(r.first_bad.empty());
  EXPECT_NE(r.first_bad[0].find("never written"), std::string::npos) << r.first_bad[0];
}

// rms and rms-add judged a row at a time (run_case's slabs, here of one row) as they are judged
// whole: counts, ULPs, digest and the first bad lines with their rows in the whole case; a failing
// case is diagnosed on its first slab with a bad element and says which rows those are.
TEST(NormSlabs, JudgedARowAtATimeAsWhole) {
  const std::pair<std::string_view, Fault> cases[] = {
      {kRms, Fault::none},
      {kRmsAdd, Fault::none},
      {"norm.rms-add/hf/bf16/64x1025/normal/s1", Fault::r_at_interval_end},
      {kRms, Fault::nan_injected},
      {kRms, Fault::y_unwritten},
      {kRmsAdd, Fault::residual_fp32},
  };
  for (const auto& [id, fault] : cases) {
    const std::string what(id);
    FaultBackend a(fault), b(fault);
    const CaseResult whole = run_case(Case::parse(id), a, 0).result, rows = run_case(Case::parse(id), b, 1).result;
    if (passes(whole.verdict)) {
      test_support::expect_same_judgement(rows, whole, what);
      continue;
    }
    test_support::expect_same_counts(rows, whole, what);
    EXPECT_NE(rows.message.find(", the first slab with a bad element)"), std::string::npos) << what << ": " << rows.message;
  }
  // One bad element: the slab's story is the whole case's, with its rows named.
  FaultBackend a(Fault::nan_injected), b(Fault::nan_injected);
  const CaseResult whole = run_case(Case::parse(kRms), a, 0).result, rows = run_case(Case::parse(kRms), b, 1).result;
  EXPECT_EQ(rows.message, whole.message + " (diagnosed on rows [2, 3) of 4, the first slab with a bad element)");
}

// Judged in slabs, a production case holds its inputs and outputs whole and one slab's references;
// a repro bundle holds every reference whole, and its estimate says so.
TEST(NormSlabs, AProductionCaseHoldsItsReferencesASlabAtATime) {
  const std::string rms = "norm.rms/vllm/bf16/262160x8192/normal/s1";
  const double elements = 262160.0 * 8192;
  EXPECT_GT(host_bytes(rms), elements * 4);
  EXPECT_LT(host_bytes(rms), elements * 4 * 1.5 + 1e9);
  EXPECT_GE(bundle_bytes(rms), elements * 20);
  // rms-quant is judged whole.
  const std::string quant = "norm.rms-quant/vllm/bf16/32768x7168/e4m3fn/token/normal/s1";
  EXPECT_EQ(host_bytes(quant), bundle_bytes(quant));
}

// R1 (vLLM #40552): the fused norm+quant op writes fp32 scales where the consumer reads packed ue8m0.
TEST(NormCompare, R1PackedScaleNaNIsALayoutVerdictWithItsStory) {
  const CaseResult r = run(kPackedBatch, Fault::fp32_scales_packed);
  EXPECT_EQ(r.verdict, Verdict::layout) << r.message;
  EXPECT_NE(r.message.find("R1"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("row"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("ue8m0-packed"), std::string::npos) << r.message;
  // The consumer's dequantized values: some are NaN (a mantissa byte 0xFF).
  const size_t at = r.message.rfind(" of ");
  ASSERT_NE(at, std::string::npos) << r.message;
  const size_t start = r.message.rfind(' ', at - 1) + 1;
  EXPECT_GT(std::stoll(r.message.substr(start, at - start)), 0) << r.message;
}

// The faulty kernel as a named backend, for the CLI paths (repro, the HTML report).
void register_fault_r1() {
  register_backend("fault-r1", [](std::string_view) -> std::unique_ptr<Backend> {
    return std::make_unique<FaultBackend>(Fault::fp32_scales_packed);
  });
}

TEST(NormCompare, R1ReproPrintsTheStory) {
  register_fault_r1();
  cli::Selection s;
  s.backend = "fault-r1";
  s.archs = {"host-w32"};
  testing::internal::CaptureStdout();
  const int rc = cli::run_repro(std::string(kPackedBatch), s, "");
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("verdict  layout"), std::string::npos) << out;
  EXPECT_NE(out.find("diagnosis the fused op wrote fp32 scales"), std::string::npos) << out;
  EXPECT_NE(out.find("non-finite"), std::string::npos) << out;
  std::printf("%s", out.c_str());  // the story, as a user sees it
}

// R1's HTML report (issue 17): the layout verdict with its story, the repro command, the histogram.
TEST(NormCompare, R1HtmlReportTellsTheStory) {
  register_fault_r1();
  const std::string page = html_page(std::string(kPackedBatch), "fault-r1", "r1", "R1: packed-scale NaN (vLLM #40552)");
  EXPECT_NE(page.find("id=\"deviations\""), std::string::npos);
  EXPECT_NE(page.find("the fused op wrote fp32 scales"), std::string::npos);
  EXPECT_NE(page.find("ulpgate repro " + std::string(kPackedBatch)), std::string::npos);
  EXPECT_NE(page.find("id=\"histograms\""), std::string::npos);
}

TEST(NormBudget, RBoundIsNarrowAndGrowsWithH) {
  const Spec small = Case::parse("norm.rms/vllm/bf16/1x1024/normal/s1").spec;
  const Spec large = Case::parse("norm.rms/vllm/bf16/1x16384/normal/s1").spec;
  const double lanes = double(norm_budget(quant::default_budgets(), small).lanes);
  EXPECT_GE(lanes, 1);
  EXPECT_LT(r_bound(small, 128), r_bound(large, 128));
  EXPECT_LT(r_bound(large, 128), std::ldexp(1.0, -15));  // far below a bf16 half ulp (2^-9)
}

// R18: vllm (fused) and vllm-unfused part ways exactly where a group's amax < 1/512, and only in
// the catalog's divergence section; everywhere else the twins agree bit for bit.
TEST(NormDivergence, FusedAndUnfusedDivergeOnlyBelowTheFusedFloor) {
  const std::vector<Divergence> d = profile_divergences(catalog(), kDivergencePairs[0]);
  ASSERT_GT(d.size(), 10u);
  int64_t diverging = 0;
  for (const Divergence& x : d) {
    EXPECT_EQ(x.unexplained, 0) << x.case_a;
    const bool divergent_input = std::ranges::any_of(
        kDivergentInputs, [&](std::string_view in) { return x.case_a.find(in) != std::string::npos; });
    if (x.differing) {
      ++diverging;
      EXPECT_TRUE(divergent_input) << x.case_a;
      EXPECT_LT(x.max_amax, 0x1p-9f) << x.case_a;
    }
  }
  EXPECT_GE(diverging, 4);
}
