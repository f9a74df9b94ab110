// allreduce.rms / allreduce.rms-quant through the harness: ids, inputs, the fused kernels on the
// host world at every host arch, and the stage-by-stage story of each fault: R21 (fp32 weights
// read as bf16), a two-shot partition that never reached a rank, ranks adding in their own order,
// a missing end barrier, ranks summed in T at every hop, the residual added before the rounding.
#include <gtest/gtest.h>

#include <cstring>

#include "harness/allreduce/fused_run.hpp"
#include "harness/backends/kernel_backends.hpp"
#include "harness/quant/budget.hpp"
#include "kernels/allreduce/fused_host.hpp"
#include "kernels/portable/arch.hpp"
#include "suites/harness/usage_error.hpp"

namespace ulpgate::allreduce {
namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string story(const CaseResult& r) {
  std::string s = std::string(verdict_name(r.verdict)) + ": " + r.message;
  for (const std::string& l : r.first_bad) s += "\n  " + l;
  return s;
}

CaseResult run(std::string_view id, Backend& b) { return family_of(id).run(id, b, nullptr); }

constexpr std::string_view kRms = "allreduce.rms/flashinfer-1shot/w2/bf16/5x1024/w.fp32/normal/s1";
constexpr std::string_view kTwoShot = "allreduce.rms/flashinfer-2shot/w4/bf16/5x1024/w.bf16/normal/s1";
// Values over 2^-24..2^24: the order in which four ranks are added shows in their fp32 sum.
constexpr std::string_view kWide = "allreduce.rms/flashinfer-1shot/w4/bf16/5x1024/w.bf16/pow2-boundary_emin=-24_emax=24/s1";

TEST(FusedCase, IdsRoundTripAndBadOnesSayWhy) {
  for (const std::string& id : fused_catalog_ids(Tier::ci)) {
    EXPECT_EQ(FusedCase::parse(id).id(), id);
    EXPECT_EQ(family_of(id).name, "allreduce");
    EXPECT_EQ(family_of(id).canonical_id(id), id);
  }
  EXPECT_TRUE(has(usage_error([] { FusedCase::parse("allreduce.rms/flashinfer-1shot/w3/bf16/5x1024/w.bf16/normal/s1"); }),
                  "world size 3 is not 2, 4, 6 or 8"));
  EXPECT_TRUE(has(usage_error([] { FusedCase::parse("allreduce.rms/flashinfer-1shot/w2/bf16/5x1024/w.fp16/normal/s1"); }),
                  "bad weights segment 'w.fp16' (expected w.bf16 or w.fp32)"));
  EXPECT_TRUE(has(usage_error([] { FusedCase::parse("allreduce.rms/nvls/w2/bf16/5x1024/w.bf16/normal/s1"); }),
                  "unknown fused all-reduce variant 'nvls'"));
  EXPECT_TRUE(has(usage_error([] { FusedCase::parse("allreduce.rms-quant/flashinfer-1shot/w2/bf16/5x1024/w.bf16/e4m3fnuz/token/normal/s1"); }),
                  "flashinfer-1shot writes e4m3fn only"));
  EXPECT_TRUE(has(usage_error([] { FusedCase::parse("allreduce.rms-quant/flashinfer-1shot/w2/bf16/5x1000/w.bf16/e4m3fn/gs128/row/normal/s1"); }),
                  "its norm stage"));
  EXPECT_TRUE(has(usage_error([] { FusedCase::parse("allreduce.rms-quant/flashinfer-1shot/w2/bf16/5x1024/w.bf16/e4m3fn/gs128/row/normal/s1"); }),
                  "writes per-group scales as ue8m0-packed only"));
}

TEST(FusedCase, ShardingsReduceTheSameInputsAndRanksDiffer) {
  const FusedTensors a = FusedCase::parse(kRms).inputs();
  std::string two(kRms);
  two.replace(two.find("1shot"), 5, "2shot");
  const FusedTensors b = FusedCase::parse(two).inputs();
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_NE(a.x[0], a.x[1]);
  size_t not_bf16 = 0;  // fp32 weights that bf16 cannot hold: R21 must change the outputs
  for (float w : a.weight_values) not_bf16 += decode_f32(Format::bf16, float_to_bf16(w)) != w;
  EXPECT_GT(not_bf16, a.weight_values.size() * 9 / 10);
}

TEST(FusedCase, TheSumIsTheRankOrderFp32SumRoundedOnce) {
  const FusedCase c = FusedCase::parse(kTwoShot);
  const FusedTensors t = c.inputs();
  const FusedExpected e = fused_expected(c, t);
  for (size_t i = 0; i < e.sum.size(); i += 97) {
    float s = 0;
    for (size_t r = 0; r < t.x.size(); ++r) s += decode_f32(Format::bf16, t.x_bits(r, i));
    EXPECT_EQ(e.sum[i], float_to_bf16(s)) << i;
  }
  EXPECT_EQ(e.norm.profile.residual.size(), e.sum.size());
}

TEST(FusedKernels, TheCatalogPassesOnTheHostWorldAtEveryHostArch) {
  register_kernel_backends();
  for (std::string_view arch : {"host-w32", "host-w64", "sm90", "gfx942"}) {
    const std::unique_ptr<Backend> b = make_backend("host", arch);
    for (const std::string& id : fused_catalog_ids(Tier::ci)) {
      const CaseResult r = run(id, *b);
      EXPECT_TRUE(passes(r.verdict)) << arch << " " << id << ": " << story(r);
      EXPECT_GT(r.elements, 0u) << id;
    }
  }
}

// ---- faulty kernels ---------------------------------------------------------------------------

template <class Faults>
class FaultyFused : public Backend {
 public:
  explicit FaultyFused(Faults f, bool weights_as_t = false) : faults_(f), weights_as_t_(weights_as_t) {}
  std::string name() const override { return "faulty@host-w32"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  std::string declines(const FusedSpec&) const override { return ""; }
  void allreduce_norm(const FusedSpec& spec, std::span<const FusedRankBuffers> io) override {
    try {
      allreduce_kernels::run_fused_host(kHostW32, spec, io, world_, faults_, weights_as_t_);
    } catch (const host_simt::KernelError& e) {
      throw BackendError(e.what());
    }
  }

 private:
  Faults faults_;
  bool weights_as_t_;
  allreduce_kernels::HostWorld world_;
};

struct OwnOrder : allreduce_kernels::NoFault {
  int first_rank(int rank, int) const { return rank; }
};
struct NoEndBarrier : allreduce_kernels::NoFault {
  bool end_barrier() const { return false; }
};
struct Rank0NeverSendsToRank2 : allreduce_kernels::NoFault {
  bool gathers(int rank, int owner) const { return !(rank == 2 && owner == 0); }
};

TEST(FusedFaults, Fp32WeightsReadAsBf16AreR21) {
  FaultyFused<allreduce_kernels::NoFault> b({}, true);
  for (std::string_view id : {kRms, std::string_view("allreduce.rms-quant/flashinfer-2shot/w4/bf16/5x1024/w.fp32/e4m3fn/token/normal/s1")}) {
    const CaseResult r = run(id, b);
    EXPECT_FALSE(passes(r.verdict)) << story(r);
    EXPECT_TRUE(has(r.message, "the norm stage read the fp32 weights as bf16 (R21)")) << r.message;
  }
}

TEST(FusedFaults, ATwoShotPartitionThatNeverArrivedIsNamedByItsRows) {
  FaultyFused<Rank0NeverSendsToRank2> b({});
  const CaseResult r = run(kTwoShot, b);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  EXPECT_TRUE(has(r.message, "rank 2 differs from rank 0 (every rank must get the same bits) in 2 of 5 rows: exactly "
                             "rows [0, 2), the rows rank 0 reduces: its sums did not reach rank 2"))
      << r.message;
}

TEST(FusedFaults, RanksAddingInTheirOwnOrderDisagree) {
  FaultyFused<OwnOrder> b({});
  const CaseResult r = run(kWide, b);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  EXPECT_TRUE(has(r.message, "rank 1 differs from rank 0")) << r.message;
}

TEST(FusedFaults, AMissingEndBarrierIsAKernelError) {
  FaultyFused<NoEndBarrier> b({});
  const CaseResult r = run(kRms, b);
  EXPECT_EQ(r.verdict, Verdict::error) << story(r);
  EXPECT_TRUE(has(r.message, "missing end barrier")) << r.message;
}

// Outputs of the reference's norm stage on another sum: how the comparator names the stage.
class OtherSum : public Backend {
 public:
  enum class Sum { per_hop, unrounded };
  explicit OtherSum(Sum s) : sum_(s) {}
  std::string name() const override { return "other-sum"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  std::string declines(const FusedSpec&) const override { return ""; }
  void allreduce_norm(const FusedSpec& spec, std::span<const FusedRankBuffers> io) override {
    const norm::Spec& s = spec.norm;
    const size_t n = size_t(s.m * s.h);
    const auto at = [](std::span<const std::byte> b, size_t i) {
      uint16_t v;
      std::memcpy(&v, b.data() + 2 * i, 2);
      return decode_f32(Format::bf16, v);
    };
    norm::Inputs in;
    for (size_t i = 0; i < n; ++i) {
      float acc = at(io[0].x, i);
      for (size_t r = 1; r < io.size(); ++r) {
        acc += at(io[r].x, i);
        if (sum_ == Sum::per_hop) acc = decode_f32(Format::bf16, float_to_bf16(acc));
      }
      in.x.push_back(acc);
      in.residual.push_back(at(io[0].norm.residual, i));
    }
    for (size_t i = 0; i < size_t(s.h); ++i) in.weight.push_back(at(io[0].norm.weight, i));
    const norm::Result p = norm::normalize_profile(s, in);
    for (const FusedRankBuffers& b : io) {
      std::memcpy(b.norm.residual_out.data(), p.residual.data(), b.norm.residual_out.size());
      std::memcpy(b.norm.y.data(), p.y.data(), b.norm.y.size());
    }
  }

 private:
  Sum sum_;
};

TEST(FusedCompare, TheAllreduceStageIsNamedByTheSumItsResidualFollows) {
  constexpr std::string_view id = kWide;
  OtherSum per_hop(OtherSum::Sum::per_hop), unrounded(OtherSum::Sum::unrounded);
  const CaseResult a = run(id, per_hop), b = run(id, unrounded);
  EXPECT_EQ(a.verdict, Verdict::over_budget) << story(a);
  EXPECT_TRUE(has(a.message, "the all-reduce stage: the written-back residual T(s + residual) differs at")) << a.message;
  EXPECT_TRUE(has(a.message, "the ranks were added in bf16, rounded at every hop, not in fp32")) << a.message;
  EXPECT_EQ(b.verdict, Verdict::over_budget) << story(b);
  EXPECT_TRUE(has(b.message, "the residual was added to the fp32 sum before it was rounded to bf16")) << b.message;
}

// The judgment a slab of rows at a time (one row a slab here) gives what the whole comparison
// gives: the same counts and verdict on every ci case, and on faulty outputs the whole comparison's
// stage story (it is what a failing case gets).
TEST(FusedCompare, SlabsJudgeAsTheWholeComparison) {
  register_kernel_backends();
  const std::unique_ptr<Backend> host = make_backend("host", "host-w32");
  FaultyFused<allreduce_kernels::NoFault> r21({}, true);
  FaultyFused<OwnOrder> own({});
  OtherSum per_hop(OtherSum::Sum::per_hop);
  const std::pair<Backend*, std::string_view> faulty[] = {{&r21, kRms}, {&own, kWide}, {&per_hop, kWide}};
  std::vector<std::pair<Backend*, std::string>> runs;
  for (const std::string& id : fused_catalog_ids(Tier::ci)) runs.emplace_back(host.get(), id);
  for (const auto& [b, id] : faulty) runs.emplace_back(b, std::string(id));
  size_t in_slabs = 0;
  for (const auto& [b, id] : runs) {
    const FusedCase c = FusedCase::parse(id);
    const FusedRun run = run_fused(c, *b);
    const CaseResult whole = fused_compare(c, run.inputs, fused_expected(c, run.inputs), run.observed, quant::default_budgets());
    const CaseResult slabs = fused_judged(c, run.inputs, run.observed, *b, nullptr, c.spec.norm.h);
    EXPECT_EQ(slabs.verdict, whole.verdict) << id << ": " << story(slabs) << "\nwhole: " << story(whole);
    EXPECT_EQ(slabs.message, whole.message) << id;
    EXPECT_EQ(slabs.elements, whole.elements) << id;
    EXPECT_EQ(slabs.n_exact, whole.n_exact) << id;
    EXPECT_EQ(slabs.n_within, whole.n_within) << id;
    EXPECT_EQ(slabs.n_over, whole.n_over) << id;
    EXPECT_EQ(slabs.n_nonfinite, whole.n_nonfinite) << id;
    EXPECT_EQ(slabs.n_nan, whole.n_nan) << id;
    EXPECT_EQ(slabs.max_ulp, whole.max_ulp) << id;
    EXPECT_EQ(slabs.case_id, c.id());
    EXPECT_EQ(slabs.family, "allreduce");
    in_slabs += norm::judged_in_slabs(c.spec.norm) && passes(whole.verdict);
  }
  EXPECT_GE(in_slabs, 10u);  // most ci cases take the slabs
}

}  // namespace
}  // namespace ulpgate::allreduce
