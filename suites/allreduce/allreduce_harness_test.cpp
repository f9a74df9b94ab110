// The all-reduce family through the harness: case ids, exactly summable inputs, the custom kernels
// on the host backend (the world's ranks as one host-SIMT world launch), the refusals R19 allows,
// and a verdict with its story for every faulty variant: a kernel that ignores the storage offset,
// ranks that add in their own order, a missing end barrier, a write into an input, a run that is
// not repeatable, the wrong kernel for the size; and NCCL's per-hop rounding within its budget.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <set>

#include "harness/allreduce/catalog.hpp"
#include "harness/allreduce/compare.hpp"
#include "harness/allreduce/reveal.hpp"
#include "harness/allreduce/run_case.hpp"
#include "harness/backends/kernel_backends.hpp"
#include "harness/quant/budget.hpp"
#include "kernels/allreduce/allreduce_host.hpp"
#include "suites/harness/usage_error.hpp"

namespace ulpgate::allreduce {
namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::unique_ptr<Backend> host() {
  static const bool registered = (register_kernel_backends(), true);
  (void)registered;
  return make_backend("host", "host-w32");
}

CaseResult run(std::string_view id, Backend& b) { return family_of(id).run(id, b, nullptr); }

std::string story(const CaseResult& r) {
  std::string s = std::string(verdict_name(r.verdict)) + ": " + r.message;
  for (const std::string& l : r.first_bad) s += "\n  " + l;
  return s;
}

// ---- ids and inputs -------------------------------------------------------------------------

TEST(AllreduceCase, EveryCatalogIdRoundTrips) {
  for (Tier t : {Tier::ci, Tier::full})
    for (const Case& c : catalog(t)) {
      EXPECT_EQ(Case::parse(c.id()).id(), c.id());
      EXPECT_EQ(&family_of(c.id()), &family_of("allreduce/nccl/bf16/w2/8/out-of-place/normal/s1"));
    }
  EXPECT_GT(catalog(Tier::full).size(), catalog(Tier::ci).size());
}

TEST(AllreduceCase, BadIdsNameWhatIsWrong) {
  EXPECT_EQ(usage_error([] { Case::parse("allreduce/custom-1shot/bf16/w3/8/out-of-place/normal/s1"); }),
            "case 'allreduce/custom-1shot/bf16/w3/8/out-of-place/normal/s1': world size 3 is not 2, 4, 6 or 8");
  EXPECT_TRUE(has(usage_error([] { Case::parse("allreduce/custom-9shot/bf16/w2/8/out-of-place/normal/s1"); }),
                  "unknown all-reduce variant 'custom-9shot' (valid: custom-1shot, custom-2shot, custom-auto, nccl)"));
  EXPECT_TRUE(has(usage_error([] { Case::parse("allreduce/nccl/bf16/w2/8/sideways/normal/s1"); }),
                  "bad placement 'sideways' (expected in-place or out-of-place)"));
  EXPECT_TRUE(has(usage_error([] { Case::parse("allreduce/nccl/bf16/w2/8@x/in-place/normal/s1"); }), "bad view offset 'x'"));
  EXPECT_TRUE(has(usage_error([] { Case::parse("allreduce/nccl/e4m3fn/w2/8/in-place/normal/s1"); }), "bf16, fp16 or fp32"));
  EXPECT_TRUE(has(usage_error([] { Case::parse("allreduce/nccl/bf16/w2/8/in-place/normal"); }), "expected 8 segments"));
  EXPECT_EQ(Case::parse("allreduce/nccl/bf16/w2/8@0/in-place/normal/s1").id(), "allreduce/nccl/bf16/w2/8/in-place/normal/s1");
}

TEST(AllreduceCase, ExactInputsSumExactlyInEveryOrder) {
  for (Format t : {Format::bf16, Format::fp16, Format::fp32}) {
    const Case c = Case::parse("allreduce/nccl/" + std::string(format_name(t)) + "/w8/4096/out-of-place/exact/s3");
    const Inputs in = c.inputs();
    const Ideal i = ideal(c.spec, in);
    EXPECT_EQ(ordered_sum(c.spec, Order::rank_order, in), i.bits) << format_name(t);
    EXPECT_EQ(ordered_sum(c.spec, Order::rotated, in), i.bits) << format_name(t);
    size_t nonzero = 0;
    for (uint32_t b : i.bits) nonzero += decode(t, b) != 0;
    EXPECT_GT(nonzero, 3900u) << "not a test on zeros";
  }
}

TEST(AllreduceCase, VariantsOfOneShapeReduceTheSameInputs) {
  const Inputs a = Case::parse("allreduce/nccl/bf16/w4/4096/out-of-place/normal/s1").inputs();
  EXPECT_EQ(Case::parse("allreduce/custom-2shot/bf16/w4/4096@24/in-place/normal/s1").inputs(), a);
  EXPECT_NE(Case::parse("allreduce/custom-2shot/bf16/w4/4096/in-place/normal/s2").inputs(), a);
  EXPECT_NE(a[0], a[1]) << "ranks hold different values";
}

// ---- the custom kernels on the host ---------------------------------------------------------

TEST(AllreduceHost, EveryCustomVariantIsBitExactToItsOrder) {
  auto b = host();
  for (std::string_view v : {"custom-1shot", "custom-2shot", "custom-auto"})
    for (std::string_view t : {"bf16", "fp16", "fp32"})
      for (std::string_view w : {"w2", "w4", "w6", "w8"}) {
        const std::string id = "allreduce/" + std::string(v) + "/" + std::string(t) + "/" + std::string(w) +
                               "/1552/out-of-place/pow2-boundary_emin=-24_emax=24/s1";
        const CaseResult r = run(id, *b);
        EXPECT_EQ(r.verdict, Verdict::exact) << id << "\n" << story(r);
        EXPECT_TRUE(has(r.note, v == "custom-2shot" ? "two-shot" : "one-shot")) << r.note;
      }
}

TEST(AllreduceHost, InPlaceViewsAndEdgeInputs) {
  auto b = host();
  for (std::string id : {"allreduce/custom-2shot/bf16/w4/6152/in-place/normal/s1",
                         "allreduce/custom-1shot/fp32/w8/3076@12/in-place/normal/s1",
                         "allreduce/custom-2shot/bf16/w4/4096@24/out-of-place/normal/s1",
                         "allreduce/custom-1shot/bf16/w4/2048/out-of-place/normal_nan=97_inf=89_den=13/s1",
                         "allreduce/custom-2shot/fp16/w4/2048/out-of-place/near-overflow_max=65504_spread=0/s1",
                         "allreduce/custom-auto/bf16/w8/131072/out-of-place/normal/s1"}) {
    const CaseResult r = run(id, *b);
    EXPECT_EQ(r.verdict, Verdict::exact) << id << "\n" << story(r);
  }
}

TEST(AllreduceHost, RefusalsTheSpecAllowsPass) {
  auto b = host();
  const CaseResult view = run("allreduce/custom-1shot/bf16/w4/4096@24+40/out-of-place/normal/s1", *b);
  EXPECT_EQ(view.verdict, Verdict::exact) << story(view);
  EXPECT_TRUE(has(view.message, "refused, as allowed")) << view.message;
  EXPECT_TRUE(has(view.message, "not weakly contiguous")) << view.message;
  const CaseResult odd = run("allreduce/custom-2shot/bf16/w4/7/out-of-place/normal/s1", *b);
  EXPECT_TRUE(has(odd.message, "not a multiple of 16")) << story(odd);
  const CaseResult big = run("allreduce/custom-auto/fp32/w2/2097156/out-of-place/normal/s1", *b);
  EXPECT_TRUE(has(big.message, "larger than the registered buffer")) << story(big);
  EXPECT_EQ(big.verdict, Verdict::exact);
}

TEST(AllreduceHost, NcclIsDeclinedOnTheHost) {
  auto b = host();
  EXPECT_TRUE(has(usage_error([&] { run("allreduce/nccl/bf16/w2/8/out-of-place/normal/s1", *b); }), "NCCL runs on GPUs only"));
}

// At sm90 the host replays NCCL's ring where it was measured (reference/allreduce/nccl_ring.cpp),
// and is held to it bit for bit; elsewhere it declines.
TEST(AllreduceHost, NcclIsReplayedWhereItsRingWasMeasured) {
  host();
  const std::unique_ptr<Backend> b = make_backend("host", "sm90");
  const CaseResult r = run("allreduce/nccl/fp16/w4/2048/out-of-place/near-overflow_max=65504_spread=0/s1", *b);
  EXPECT_EQ(r.verdict, Verdict::exact) << story(r);
  EXPECT_TRUE(has(r.note, "NCCL's ring as measured")) << r.note;
  EXPECT_TRUE(has(r.message, "elements are Inf as NCCL's measured ring makes them")) << r.message;  // fp16 partial sums
  EXPECT_TRUE(has(usage_error([&] { run("allreduce/nccl/bf16/w8/6152/out-of-place/normal/s1", *b); }),
                  "only where its order was measured"));
}

// Outputs in another ring's order (the chunks of a 2 KiB message on a 12 KiB one) are not NCCL's:
// over budget at the first element where the orders differ, naming the measured ring's bits.
TEST(AllreduceHost, AnotherRingsOrderIsNotNcclsMeasuredOne) {
  const Case c = Case::parse("allreduce/nccl/bf16/w4/6152/out-of-place/normal/s1");
  const Inputs in = c.inputs();
  Expected e = expected(c, in);
  hold_to_ring(e, c, *find_ring_order("sm90", 4, 12304), in);
  const std::vector<uint32_t> other = ring_sum(c.spec, *find_ring_order("sm90", 4, 2048), in);
  const CaseResult r = compare(c, in, e, Outputs(4, other), quant::default_budgets());
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  ASSERT_FALSE(r.first_bad.empty());
  EXPECT_TRUE(has(r.first_bad[0], "NCCL's measured ring gives")) << r.first_bad[0];
  EXPECT_TRUE(has(r.message, "not the sum of NCCL's ring as measured (NCCL 2.28.3, 4 H200s")) << r.message;
  EXPECT_TRUE(has(r.message, "ulpgate reveal --case " + c.id())) << r.message;
  EXPECT_EQ(compare(c, in, e, Outputs(4, e.bits), quant::default_budgets()).verdict, Verdict::exact);
}

// A case the backend declines is declined before its host memory is weighed: a sign-off on a
// machine too small for NCCL's 1 GiB world of 8 lists it as not runnable instead of stopping.
TEST(AllreduceHost, ADeclinedCaseIsNotWeighed) {
  auto b = host();
  const char* huge = "allreduce/nccl/bf16/w8/536870912/out-of-place/normal/s1";
  EXPECT_THROW(ulpgate::run_case(huge, *b, nullptr, uint64_t(1) << 20), NotSupported);
  try {  // a case it runs is still refused when it does not fit
    ulpgate::run_case("allreduce/custom-1shot/bf16/w8/536870912/out-of-place/normal/s1", *b, nullptr, uint64_t(1) << 20);
    FAIL() << "accepted";
  } catch (const NotSupported& e) {
    FAIL() << e.what();
  } catch (const UsageError& e) {
    EXPECT_TRUE(has(e.what(), "bytes of host memory, more than the limit")) << e.what();
  }
}

// ---- faulty variants ------------------------------------------------------------------------

// The custom kernels on the host with a fault, as a backend.
template <class Faults>
class FaultyKernel : public Backend {
 public:
  explicit FaultyKernel(Faults f) : faults_(f) {}
  std::string name() const override { return "faulty@host-w32"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  AllreduceClaim allreduce(const Spec& spec, std::span<const RankBuffers> io) override {
    try {
      return {allreduce_kernels::run_allreduce_host(kHostW32, spec, io, world_, faults_), "faulty"};
    } catch (const host_simt::KernelError& e) {
      throw BackendError(e.what());
    }
  }

 private:
  Faults faults_;
  allreduce_kernels::HostWorld world_;
};

struct OwnOrder : allreduce_kernels::NoFault {  // each rank starts its sum at itself
  int first_rank(int rank, int) const { return rank; }
};
struct NoEndBarrier : allreduce_kernels::NoFault {
  bool end_barrier() const { return false; }
};
struct Rank1SkipsPartition0 : allreduce_kernels::NoFault {  // a gather loop that misses one owner on one rank
  bool gathers(int rank, int owner) const { return !(rank == 1 && owner == 0); }
};

// Inputs whose order shows: the fp32 sum of a few `normal` samples (short significands) is exact
// in any order; powers of two and their neighbours over 2^-24..2^24 are not.
TEST(AllreduceFaults, RanksAddingInTheirOwnOrderDisagree) {
  FaultyKernel<OwnOrder> b({});
  const CaseResult r = run("allreduce/custom-1shot/fp32/w4/3076/out-of-place/pow2-boundary_emin=-24_emax=24/s1", b);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  EXPECT_TRUE(has(r.message, "ranks disagree: rank 1 differs from rank 0")) << r.message;
  EXPECT_TRUE(has(r.message, "each rank adds in a different order")) << r.message;
}

// Rank 1 never gathers partition 0: only rank 1's output holds the poison there, and the story
// names the rank and the partition (not only "ranks disagree").
TEST(AllreduceFaults, APartitionNeverGatheredIsNamedByRankAndPartition) {
  FaultyKernel<Rank1SkipsPartition0> b({});
  const CaseResult r = run("allreduce/custom-2shot/bf16/w4/6152/out-of-place/normal/s1", b);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  EXPECT_EQ(r.message, "1536 of 24608 elements never written (poison): rank 1: y[0..1535] = partition 0, never gathered")
      << r.message;
}

// The same on a view with a storage offset (partitions are the view's), and in place, where the
// elements never gathered keep the rank's own input instead of the poison.
TEST(AllreduceFaults, APartitionNeverGatheredIsNamedOnOffsetViewsAndInPlace) {
  FaultyKernel<Rank1SkipsPartition0> b({});
  const CaseResult view = run("allreduce/custom-2shot/bf16/w4/4096@24/out-of-place/normal/s1", b);
  EXPECT_EQ(view.message, "1024 of 16384 elements never written (poison): rank 1: y[0..1023] = partition 0, never gathered")
      << view.message;
  const CaseResult in_place = run("allreduce/custom-2shot/bf16/w4/4096@24/in-place/normal/s1", b);
  EXPECT_EQ(in_place.verdict, Verdict::over_budget) << story(in_place);
  EXPECT_EQ(in_place.message,
            "1024 of 16384 elements never written (in place: they still hold the rank's own input): rank 1: y[0..1023] = "
            "partition 0, never gathered")
      << in_place.message;
}

TEST(AllreduceFaults, AMissingEndBarrierIsAKernelError) {
  FaultyKernel<NoEndBarrier> b({});
  for (std::string v : {"custom-1shot", "custom-2shot"}) {
    const CaseResult r = run("allreduce/" + v + "/bf16/w4/6152/out-of-place/normal/s1", b);
    EXPECT_EQ(r.verdict, Verdict::error) << story(r);
    EXPECT_TRUE(has(r.message, "missing end barrier")) << r.message;
  }
}

// A kernel that assumes its tensor starts at its storage (R19, the seed PR): it reduces the first
// `count` elements of every storage and writes there.
class IgnoresOffset : public Backend {
 public:
  std::string name() const override { return "ignores-offset@host-w32"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  AllreduceClaim allreduce(const Spec& spec, std::span<const RankBuffers> io) override {
    Spec flat = spec;
    flat.view = {spec.view.count};
    const size_t bytes = size_t(spec.bytes());
    std::vector<RankBuffers> from_start;
    for (const RankBuffers& b : io) from_start.push_back({b.input.first(bytes), b.output.first(bytes)});
    return inner_->allreduce(flat, from_start);
  }

 private:
  std::unique_ptr<Backend> inner_ = host();
};

// Rank 1's input read one element on (a pointer advanced once too often): every rank sums x1[i + 1].
class Rank1ReadsOneOn : public Backend {
 public:
  std::string name() const override { return "rank1-one-on@host-w32"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  AllreduceClaim allreduce(const Spec& spec, std::span<const RankBuffers> io) override {
    const size_t elem = size_t(info(spec.dtype).bits / 8);
    moved_.assign(io[1].input.begin() + ptrdiff_t(elem), io[1].input.end());
    moved_.resize(io[1].input.size());
    std::vector<RankBuffers> bufs(io.begin(), io.end());
    bufs[1].input = moved_;
    return inner_->allreduce(spec, bufs);
  }

 private:
  std::vector<std::byte> moved_;
  std::unique_ptr<Backend> inner_ = host();
};

TEST(AllreduceFaults, ARanksInputReadAtAnOffsetIsNamed) {
  Rank1ReadsOneOn b;
  const CaseResult r = run("allreduce/custom-1shot/fp32/w4/3076/out-of-place/pow2-boundary_emin=-24_emax=24/s1", b);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  EXPECT_EQ(r.message, "rank 1's input is read 1 element on (y[i] sums x1[i + 1]): an offset into that rank's buffer")
      << r.message;
}

TEST(AllreduceFaults, IgnoringTheStorageOffsetWritesOutsideTheView) {
  IgnoresOffset b;
  const CaseResult r = run("allreduce/custom-2shot/bf16/w4/4096@24/out-of-place/normal/s1", b);
  EXPECT_EQ(r.verdict, Verdict::out_of_bounds) << story(r);
  EXPECT_TRUE(has(r.message, "before the start of 'y's view (rank 0)'")) << r.message;
  EXPECT_TRUE(has(r.message, "inside its outputs: over-budget")) << r.message;
}

// A correct reduction, then something a buggy implementation does after it.
class After : public Backend {
 public:
  enum class What { write_input, second_run_differs, refuse_everything, run_one_shot };
  explicit After(What w) : what_(w) {}
  std::string name() const override { return "after@host-w32"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  AllreduceClaim allreduce(const Spec& spec, std::span<const RankBuffers> io) override {
    if (what_ == What::refuse_everything) throw Refused("this kernel refuses everything");
    Spec s = spec;
    if (what_ == What::run_one_shot) s.variant = &variant("custom-1shot");
    const AllreduceClaim c = inner_->allreduce(s, io);
    const size_t at = size_t(spec.view.offset) * 2;
    if (what_ == What::write_input) io[1].input[at + 6] ^= std::byte{1};
    if (what_ == What::second_run_differs && ++calls_ == 2)
      for (const RankBuffers& b : io) b.output[at] ^= std::byte{1};
    return c;
  }

 private:
  What what_;
  int calls_ = 0;
  std::unique_ptr<Backend> inner_ = host();
};

TEST(AllreduceFaults, WritingIntoAnInputOutOfPlace) {
  After b(After::What::write_input);
  const CaseResult r = run("allreduce/custom-1shot/bf16/w4/4096/out-of-place/normal/s1", b);
  EXPECT_EQ(r.verdict, Verdict::out_of_bounds) << story(r);
  EXPECT_TRUE(has(r.message, "the kernel wrote into rank 1's input x")) << r.message;
  EXPECT_TRUE(has(r.message, "the first x[3]")) << r.message;
}

TEST(AllreduceFaults, ARepeatedRunThatDiffers) {
  After b(After::What::second_run_differs);
  const CaseResult r = run("allreduce/custom-1shot/bf16/w2/4096/out-of-place/normal/s1", b);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  EXPECT_TRUE(has(r.message, "not deterministic: a repeated run gave rank 0 different bits at 1 elements")) << r.message;
}

TEST(AllreduceFaults, RefusingAnInputItMustReduceIsAnError) {
  After b(After::What::refuse_everything);
  const CaseResult r = run("allreduce/custom-1shot/bf16/w2/4096/out-of-place/normal/s1", b);
  EXPECT_EQ(r.verdict, Verdict::error) << story(r);
  EXPECT_TRUE(has(r.message, "refused an input it must reduce: this kernel refuses everything")) << r.message;
}

TEST(AllreduceFaults, TheWrongKernelForTheSize) {
  After b(After::What::run_one_shot);  // the rule says two-shot at 512 KiB on 4 ranks
  const CaseResult r = run("allreduce/custom-auto/fp32/w4/131072/out-of-place/pow2-boundary_emin=-24_emax=24/s1", b);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << story(r);
  EXPECT_TRUE(has(r.message, "the selection rule picks the other kernel")) << r.message;
}

// NCCL's arithmetic: a ring whose partial sums are rounded to the dtype at every hop, starting at
// a rank that depends on the chunk; every rank receives the same bits.
class RingModel : public Backend {
 public:
  std::string name() const override { return "ring-model"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  AllreduceClaim allreduce(const Spec& spec, std::span<const RankBuffers> io) override {
    const size_t w = info(spec.dtype).bits / 8, at = size_t(spec.view.offset) * w, n = size_t(spec.view.count);
    const Conversion round{spec.dtype, Overflow::nosat, Rounding::rne};
    for (size_t i = 0; i < n; ++i) {
      const int first = int((i * size_t(spec.world)) / std::max<size_t>(n, 1));
      float acc = 0;
      for (int k = 0; k < spec.world; ++k) {
        uint32_t x = 0;
        std::memcpy(&x, io[size_t((first + k) % spec.world)].input.data() + at + i * w, w);
        acc = float(decode(spec.dtype, encode(double(acc) + decode(spec.dtype, x), round)));
      }
      const uint32_t y = encode(double(acc), round);
      for (const RankBuffers& b : io) std::memcpy(b.output.data() + at + i * w, &y, w);
    }
    return {Order::per_hop, "a ring model"};
  }
};

TEST(AllreduceNccl, PerHopRoundingIsWithinItsBudgetAndExactOnExactInputs) {
  RingModel b;
  const CaseResult normal = run("allreduce/nccl/bf16/w8/6152/out-of-place/normal/s1", b);
  EXPECT_EQ(normal.verdict, Verdict::within_budget) << story(normal);
  EXPECT_GT(normal.n_within, 100u);
  const CaseResult exact = run("allreduce/nccl/bf16/w8/6152/out-of-place/exact/s1", b);
  EXPECT_EQ(exact.verdict, Verdict::exact) << story(exact);
  // The same ring judged as a custom kernel (fp32 once): over budget.
  const CaseResult custom = run("allreduce/custom-1shot/bf16/w8/6152/out-of-place/normal/s1", b);
  EXPECT_EQ(custom.verdict, Verdict::over_budget) << story(custom);
}

}  // namespace
}  // namespace ulpgate::allreduce

// ---- ulpgate reveal: the order of the ranks per element and output rank ---------------------------

namespace ulpgate::allreduce {
namespace {

RevealedAllreduce reveal(std::string_view id, Backend& b) { return reveal_allreduce(Case::parse(id).spec, b); }

std::vector<int> from(int first, int world) {
  std::vector<int> order;
  for (int k = 0; k < world; ++k) order.push_back((first + k) % world);
  return order;
}

TEST(AllreduceReveal, TheCustomKernelsFollowTheirDocumentedOrders) {
  auto b = host();
  for (std::string_view id : {"allreduce/custom-1shot/bf16/w8/1024/out-of-place/normal/s1",
                              "allreduce/custom-2shot/fp16/w4/1000/in-place/normal/s1",
                              "allreduce/custom-2shot/fp32/w6/600/out-of-place/normal/s1"}) {
    const RevealedAllreduce r = reveal(id, *b);
    ASSERT_TRUE(r.deterministic && r.problem.empty()) << id << "\n" << r.story();
    const Spec s = Case::parse(id).spec;
    EXPECT_EQ(r.calls, s.world * (s.world - 1));  // every pair of ranks, twice
    std::set<std::string> trees;
    for (const RevealedRun& run : r.runs) {
      EXPECT_EQ(run.tree, run.expected) << id << "\n" << r.story();
      EXPECT_EQ(run.ranks, "0-" + std::to_string(s.world - 1));
      trees.insert(run.tree);
    }
    // One-shot: rank order everywhere; two-shot: each partition from its owner.
    EXPECT_EQ(trees.size(), resolved_order(s) == Order::rotated ? size_t(s.world) : size_t(1)) << r.story();
    if (resolved_order(s) == Order::rank_order) {
      EXPECT_EQ(*trees.begin(), "((((((r0+r1)+r2)+r3)+r4)+r5)+r6)+r7");
    }
  }
}

TEST(AllreduceReveal, RanksStartingAtThemselvesAreRevealedPerOutputRank) {
  FaultyKernel<OwnOrder> b({});
  const RevealedAllreduce r = reveal("allreduce/custom-1shot/bf16/w4/64/out-of-place/normal/s1", b);
  ASSERT_TRUE(r.deterministic && r.problem.empty()) << r.story();
  ASSERT_EQ(r.runs.size(), 4u) << r.story();
  for (int rank = 0; rank < 4; ++rank) {
    const RevealedRun& run = r.runs[size_t(rank)];
    EXPECT_EQ(run.ranks, std::to_string(rank));
    EXPECT_EQ(run.tree, chain_tree(from(rank, 4))) << r.story();
    EXPECT_EQ(run.tree == run.expected, rank == 0) << r.story();
  }
}

TEST(AllreduceReveal, ARingsChunksShowAsRunsOfElements) {
  RingModel b;  // per hop, from a rank that depends on the element's chunk
  const RevealedAllreduce r = reveal("allreduce/nccl/bf16/w4/64/out-of-place/normal/s1", b);
  ASSERT_TRUE(r.deterministic && r.problem.empty()) << r.story();
  ASSERT_EQ(r.runs.size(), 4u) << r.story();
  for (int chunk = 0; chunk < 4; ++chunk) {
    EXPECT_EQ(r.runs[size_t(chunk)].begin, 16 * chunk);
    EXPECT_EQ(r.runs[size_t(chunk)].tree, chain_tree(from(chunk, 4))) << r.story();
    EXPECT_EQ(r.runs[size_t(chunk)].expected, "");  // NCCL states no order
  }
}

// The measurements behind nccl_ring.cpp's rows: at every element range NCCL's reveal on 4 H200s
// printed (golden/sm90/nccl-reveal-h200x4.txt), the row's chain is the tree revealed.
TEST(AllreduceReveal, NcclsRingRowsGiveTheTreesRevealedOnTheH200s) {
  std::ifstream file(std::string(ULPGATE_SOURCE_DIR) + "/golden/sm90/nccl-reveal-h200x4.txt");
  ASSERT_TRUE(file) << "golden/sm90/nccl-reveal-h200x4.txt";
  const std::regex head(R"(^reveal (\S+) on vendor@sm90$)"), run(R"(^  elements (\d+)\.\.(\d+), output of rank 0-\d: (\S+)$)");
  std::optional<Spec> spec;
  int ranges = 0, messages = 0;
  for (std::string line; std::getline(file, line);) {
    std::smatch m;
    if (std::regex_match(line, m, head)) spec = Case::parse(m[1].str()).spec, ++messages;
    if (!std::regex_match(line, m, run)) continue;
    ASSERT_TRUE(spec);
    const RingOrder* ring = find_ring_order("sm90", spec->world, spec->bytes());
    ASSERT_NE(ring, nullptr) << spec->world << " ranks, " << spec->bytes() << " bytes";
    const int64_t width = info(spec->dtype).bits / 8;
    for (const int64_t e : {std::stoll(m[1].str()), std::stoll(m[2].str())}) {
      const std::string tree = spec->world == 2 ? chain_tree({0, 1}) : chain_tree(from(ring->first_rank(e * width), spec->world));
      EXPECT_EQ(tree, m[3].str()) << spec->bytes() << " bytes, element " << e;
    }
    ++ranges;
  }
  EXPECT_EQ(messages, 32);
  EXPECT_GT(ranges, 1000);
}

// Revealing the host's replay of a measured ring gives back a row with that ring's chains.
TEST(AllreduceReveal, ARevealedRingBecomesARowWithItsChains) {
  host();
  const std::unique_ptr<Backend> b = make_backend("host", "sm90");
  for (std::string_view id : {"allreduce/nccl/bf16/w4/6152/out-of-place/normal/s1", "allreduce/nccl/bf16/w4/1048576/out-of-place/normal/s1"}) {
    const Spec s = Case::parse(id).spec;
    const RevealedAllreduce r = reveal(id, *b);
    ASSERT_TRUE(r.deterministic && r.problem.empty()) << r.story();
    const std::optional<RingOrder> fit = fit_ring(s, "sm90", r.runs);
    ASSERT_TRUE(fit) << r.story();
    const RingOrder* measured = find_ring_order("sm90", 4, s.bytes());
    for (int64_t at = 0; at < s.bytes(); at += 2) ASSERT_EQ(fit->first_rank(at), measured->first_rank(at)) << id << " byte " << at;
    EXPECT_TRUE(has(r.story(), "as a row of reference/allreduce/nccl_ring.cpp")) << r.story();
  }
  RingModel other;  // chains from rank k, not k + 1: no ring row
  EXPECT_FALSE(fit_ring(Case::parse("allreduce/nccl/bf16/w4/64/out-of-place/normal/s1").spec, "sm90",
                        reveal("allreduce/nccl/bf16/w4/64/out-of-place/normal/s1", other).runs));
}

// A sum whose first rank is drawn on every call (as atomics would order it).
class RandomStart : public Backend {
 public:
  std::string name() const override { return "random-start"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {}
  AllreduceClaim allreduce(const Spec& spec, std::span<const RankBuffers> io) override {
    const size_t w = info(spec.dtype).bits / 8, at = size_t(spec.view.offset) * w;
    const int first = int(rng_() % unsigned(spec.world));
    for (size_t i = 0; i < size_t(spec.view.count); ++i) {
      float acc = 0;
      for (int k = 0; k < spec.world; ++k) {
        uint32_t x = 0;
        std::memcpy(&x, io[size_t((first + k) % spec.world)].input.data() + at + i * w, w);
        acc += decode_f32(spec.dtype, x);
      }
      const uint32_t y = encode(double(acc), Conversion{spec.dtype, Overflow::nosat, Rounding::rne});
      for (const RankBuffers& r : io) std::memcpy(r.output.data() + at + i * w, &y, w);
    }
    return {Order::rank_order, "random start"};
  }

 private:
  std::mt19937 rng_{3};
};

TEST(AllreduceReveal, AnOrderDrawnPerCallIsNotGiven) {
  RandomStart b;
  const RevealedAllreduce r = reveal("allreduce/custom-1shot/fp32/w8/16/out-of-place/normal/s1", b);
  EXPECT_FALSE(r.deterministic);
  EXPECT_TRUE(r.runs.empty());
  EXPECT_TRUE(has(r.story(), "not deterministic")) << r.story();
}

}  // namespace
}  // namespace ulpgate::allreduce
