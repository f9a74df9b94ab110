// The GEMM family's harness: case ids (round trip, errors naming the segment), inputs quantized as
// producers do and bit-reproducible, the catalog's tiers, and the comparator proven with a
// test-only backend that writes a reference model's replay with one controlled fault.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "harness/gemm/catalog.hpp"
#include "harness/gemm/run_case.hpp"
#include "harness/golden/golden_file.hpp"
#include "reference/gemm/layout.hpp"
#include "suites/sample.hpp"

using namespace ulpgate;
using namespace ulpgate::gemm;

namespace {

enum class Fault { none, flip_one, nan_one, unwritten_rows, budget_only, budget_only_flip };

// Writes `writes`'s replay of the operands the buffers hold; claims `claims`.
class ReferenceBackend : public Backend {
 public:
  ReferenceBackend(std::string writes, std::string claims, Fault f = Fault::none, std::string arch = "")
      : writes_(std::move(writes)), claims_(std::move(claims)), arch_(std::move(arch)), fault_(f) {}
  std::string name() const override { return "reference@test"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no quant");
  }
  GemmClaim gemm(const Spec& s, const Buffers& io) override {
    Output out = writes_ == "ideal" ? gemm_ideal(s, logical(s, io)).out
                                    : gemm_model(s, parse_variant(writes_)->model, logical(s, io));
    const size_t width = s.out == Format::bf16 ? 2 : 4, at = out.bits.size() / 2;
    if (fault_ == Fault::flip_one || fault_ == Fault::budget_only_flip) out.bits[at] ^= 1;
    if (fault_ == Fault::nan_one) out.bits[at] = s.out == Format::bf16 ? 0x7FC0 : 0x7FC00000;
    for (size_t i = 0; i < out.bits.size(); ++i)
      if (fault_ != Fault::unwritten_rows || int64_t(i) >= 2 * s.n) std::memcpy(io.d.data() + i * width, &out.bits[i], width);
    return {claims_, fault_ == Fault::budget_only || fault_ == Fault::budget_only_flip, "the reference replay of " + writes_,
            arch_};
  }

 private:
  std::string writes_, claims_, arch_;
  Fault fault_;
};

CaseResult run(std::string_view id, std::string writes, std::string claims, Fault f = Fault::none,
               std::string arch = "") {
  ReferenceBackend b(std::move(writes), std::move(claims), f, std::move(arch));
  return run_case(Case::parse(id), b).result;
}

std::string parse_error(std::string_view id) {
  try {
    Case::parse(id);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "accepted";
}

constexpr std::string_view kBlock = "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x256x1024/normal/s1";
constexpr std::string_view kTensor = "gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/16x64x4096/normal/s1";

}  // namespace

TEST(GemmCaseId, RoundTripsOverBothTiers) {
  std::set<std::string> ids;
  for (Tier t : {Tier::ci, Tier::full})
    for (const Case& c : catalog(t)) {
      EXPECT_EQ(Case::parse(c.id()).id(), c.id());
      ids.insert(c.id());
    }
  EXPECT_EQ(ids.size(), catalog(Tier::full).size()) << "duplicate ids, or ci cases missing from full";
  EXPECT_EQ(Case::parse("gemm.block/deepgemm/e4m3fn.e4m3fn.ue8m0/bf16/128x7168x2048/normal/s1").spec.ue8m0, true);
  const Case c = Case::parse("gemm.tensor/cublaslt/e4m3fn.e5m2/fp32/7x256x4096/near-overflow_spread=0/s3");
  EXPECT_EQ(c.spec.b_format, Format::e5m2);
  EXPECT_EQ(c.spec.n, 256);
  EXPECT_EQ(c.seed, 3u);
  EXPECT_EQ(Case::parse("gemm.rowwise/aiter/e4m3fnuz.e4m3fnuz/bf16/16x128x512/cancel/s1").input.structure,
            Structure::cancel);
}

TEST(GemmCaseId, BadIdsAreUsageErrorsNamingTheSegment) {
  const std::string good = "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x256x1024/normal/s1";
  EXPECT_EQ(parse_error(good), "accepted");
  const std::pair<std::string, std::string> bad[] = {
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x256x1024/normal", "expected 7 segments op/profile/A.B[.ue8m0]/out/MxNxK/input/sN, got 6"},
      {"gemm.blok/deepgemm/e4m3fn.e4m3fn/bf16/16x256x1024/normal/s1", "bad op segment 'gemm.blok': unknown gemm op"},
      {"gemm.block/deepgem/e4m3fn.e4m3fn/bf16/16x256x1024/normal/s1", "bad profile segment 'deepgem': unknown gemm profile"},
      {"gemm.block/deepgemm/e4m3fn/bf16/16x256x1024/normal/s1", "bad formats segment 'e4m3fn': expected A.B or A.B.ue8m0"},
      {"gemm.block/deepgemm/e4m3fn.e4m3fn.ue8m1/bf16/16x256x1024/normal/s1", "bad formats segment 'e4m3fn.e4m3fn.ue8m1'"},
      {"gemm.block/deepgemm/e4m3fn.e4m4/bf16/16x256x1024/normal/s1", "bad formats segment 'e4m3fn.e4m4': unknown format"},
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/fp16/16x256x1024/normal/s1", "bad output segment 'fp16': the output is bf16 or fp32"},
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x256/normal/s1", "shape '16x256' is not MxNxK"},
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x256xk/normal/s1", "bad K 'k'"},
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x256x1024/normall/s1", "bad input segment 'normall'"},
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x256x1024/normal/t1", "seed segment 't1' must start with 's'"},
      {"gemm.mx/ocp-mx/e4m3fn.e4m3fn/fp32/4x8x48/normal/s1", "K = 48 is not a multiple of the MX block (32)"},
      {"gemm.block/cublaslt/e4m3fn.e4m3fn.ue8m0/bf16/4x8x256/normal/s1", "profile 'cublaslt' has no ue8m0 scale layout"},
      {"gemm.block/deepgemm/e4m3fn.e5m2/bf16/4x8x256/normal/s1", "does not take e4m3fn x e5m2"},
      {"gemm.block/aiter-bpreshuffle/e4m3fn.e4m3fn/bf16/4x24x256/normal/s1", "N = 24 and K = 256 must be multiples"},
  };
  for (const auto& [id, want] : bad) {
    const std::string got = parse_error(id);
    EXPECT_NE(got.find(want), std::string::npos) << id << ": " << got;
    EXPECT_EQ(got.rfind("case '" + id + "'", 0), 0u) << got;
  }
}

// The operands are the same bits on every machine: pinned digests of one case's codes and scales.
TEST(GemmInputs, AreBitReproducibleFromTheId) {
  const Case c = Case::parse("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/3x200x300/normal/s1");
  const Operands x = c.operands(), y = c.operands();
  EXPECT_EQ(x.a, y.a);
  EXPECT_EQ(x.sb, y.sb);
  EXPECT_EQ(digest_hex(output_digest(std::as_bytes(std::span(x.a)))), "d8e72914ccbe1370");
  EXPECT_EQ(digest_hex(output_digest(std::as_bytes(std::span(x.b)))), "1ba9742806732d1a");
  EXPECT_EQ(digest_hex(output_digest(std::as_bytes(std::span(x.sa)))), "9ff4b0cace99c904");
  EXPECT_NE(Case::parse("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/3x200x300/normal/s2").operands().a, x.a);
}

// Every profile, op and output of a shape quantizes the same real values: the same codes where
// the scale geometry and formats agree.
TEST(GemmInputs, DoNotDependOnProfileOrOutput) {
  const Operands a = Case::parse("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/5x256x512/normal/s1").operands();
  const Operands b = Case::parse("gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/5x256x512/normal/s1").operands();
  EXPECT_EQ(a.a, b.a);
  EXPECT_EQ(a.sb, b.sb);
}

// Quantized as producers do: each A group and each B block holds a code at the format's max
// (its amax / scale), scales are amax / max, powers of two for ue8m0.
TEST(GemmInputs, AreQuantizedPerScaleBlock) {
  for (bool ue8m0 : {false, true}) {
    Case c = Case::parse("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/5x256x512/normal/s1");
    c.spec.ue8m0 = ue8m0;
    const Operands in = c.operands();
    for (int64_t m = 0; m < 5; ++m)
      for (int64_t kb = 0; kb < 4; ++kb) {
        double amax = 0;
        for (int64_t k = kb * 128; k < (kb + 1) * 128; ++k) amax = std::max(amax, std::fabs(decode(Format::e4m3fn, in.a[size_t(m * 512 + k)])));
        int e;
        if (ue8m0) {  // scale rounded up to a power of two: amax / s in (224, 448]
          EXPECT_GT(amax, 224) << m << " " << kb;
          EXPECT_EQ(std::frexp(in.sa[size_t(m * 4 + kb)], &e), 0.5f);
        } else {
          EXPECT_EQ(amax, 448) << m << " " << kb;
        }
      }
  }
}

TEST(GemmInputs, EdgeInputsAreWhatTheyClaim) {
  const auto operands = [](std::string_view input, std::string_view pair = "e4m3fn.e4m3fn") {
    return Case::parse("gemm.block/cutlass-blockwise/" + std::string(pair) + "/fp32/16x256x512/" + std::string(input) + "/s1")
        .operands();
  };
  for (uint8_t code : operands("near-overflow_spread=0").a) EXPECT_EQ(code & 0x7F, 0x7E);  // +-448
  const Operands sub = operands("pow2-boundary_emin=-24_emax=0");
  EXPECT_GT(std::count_if(sub.a.begin(), sub.a.end(), [](uint8_t c) { return c != 0 && c != 0x80 && (c & 0x78) == 0; }), 100);
  const Operands nan = operands("normal_nan=997_inf=1009", "e4m3fn.e5m2");
  EXPECT_GT(std::count_if(nan.a.begin(), nan.a.end(), [](uint8_t c) { return (c & 0x7F) == 0x7F; }), 0);  // NaN (and Inf) -> NaN
  EXPECT_GT(std::count_if(nan.b.begin(), nan.b.end(), [](uint8_t c) { return (c & 0x7F) == 0x7C; }), 0);  // Inf stays Inf
  // zero-blocks: A's block kb of row m is all zero exactly where (m + kb) % 3 == 0.
  const Operands zero = operands("zero-blocks");
  for (int64_t m = 0; m < 16; ++m)
    for (int64_t kb = 0; kb < 4; ++kb) {
      const auto block = std::span(zero.a).subspan(size_t(m * 512 + kb * 128), 128);
      EXPECT_EQ(std::ranges::all_of(block, [](uint8_t c) { return c == 0; }), (m + kb) % 3 == 0) << m << " " << kb;
    }
  // cancel: D is exactly zero, for the block scales of every K-block cancel pairwise.
  const Case c = Case::parse("gemm.block/deepgemm/e4m3fn.e4m3fn/fp32/16x256x1024/cancel/s1");
  const Ideal ideal = gemm_ideal(c.spec, c.operands());
  for (double v : ideal.exact) ASSERT_EQ(v, 0.0);
}

TEST(GemmCatalog, CiFitsTheHostAndFullAddsTheLargeShapes) {
  const std::vector<Case> ci = catalog(Tier::ci), full = catalog(Tier::full);
  EXPECT_GT(ci.size(), 90u);
  EXPECT_GT(full.size(), ci.size());
  double macs = 0;
  std::set<std::string> profiles_seen;
  for (const Case& c : ci) {
    macs += double(c.spec.m) * double(c.spec.n) * double(c.spec.k);
    profiles_seen.insert(std::string(c.spec.profile->name));
    EXPECT_LE(c.spec.m, 129) << c.id();
  }
  EXPECT_LT(macs, 1e9) << "the ci tier must run on the host emulation in CI time";
  EXPECT_EQ(profiles_seen.size(), profiles().size());
  EXPECT_TRUE(std::ranges::any_of(full, [](const Case& c) { return c.spec.m == 4096 && c.spec.k == 18432; }));
}

// ---- the comparator ------------------------------------------------------------------------------

// A kernel that follows its claim is exact, whatever the model: every validated model's replay
// under its own claim, over the catalog's smaller cases (the kernel suite runs all of it).
TEST(GemmCompare, AModelsOwnReplayIsExactOnTheCatalog) {
  int item = 0;
  for (const Case& c : catalog(Tier::ci)) {
    if (double(c.spec.m) * double(c.spec.n) * double(c.spec.k) > 2e7 || !test_support::sampled(item++)) continue;
    for (std::string m : {"sm90", "sm90-fast-accum", "fp32-fma"}) {
      const CaseResult r = run(c.id(), m, m);
      ASSERT_EQ(r.verdict, Verdict::exact) << c.id() << " " << m << ": " << r.message
                                           << (r.first_bad.empty() ? "" : " " + r.first_bad[0]);
      EXPECT_EQ(r.max_ulp, 0);
      EXPECT_EQ(r.note, "claims " + m + " (bit-exact); ran: the reference replay of " + m);
    }
  }
}

TEST(GemmCompare, OneFlippedBitIsOverBudgetAndNamed) {
  const CaseResult r = run(kBlock, "fp32-fma", "fp32-fma", Fault::flip_one);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_EQ(r.n_over, 1u);
  EXPECT_EQ(r.max_ulp, 1);
  ASSERT_FALSE(r.first_bad.empty());
  EXPECT_EQ(r.first_bad[0].rfind("d[8,0]: got ", 0), 0u) << r.first_bad[0];
  EXPECT_NE(r.first_bad[0].find("fp32-fma gives"), std::string::npos) << r.first_bad[0];
  EXPECT_EQ(r.message.rfind("no known fault explains the 1 bad output", 0), 0u) << r.message;
}

TEST(GemmCompare, ANanWhereDIsFiniteIsNonFinite) {
  const CaseResult r = run(kBlock, "fp32-fma", "fp32-fma", Fault::nan_one);
  EXPECT_EQ(r.verdict, Verdict::non_finite);
  EXPECT_EQ(r.n_nonfinite, 1u);
  EXPECT_EQ(r.n_nan, 1u);
}

TEST(GemmCompare, UnwrittenOutputsAreThePoisonAndSaidSo) {
  const CaseResult r = run(kBlock, "fp32-fma", "fp32-fma", Fault::unwritten_rows);
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_EQ(r.n_over, 512u);
  EXPECT_NE(r.first_bad[0].find("= poison: never written"), std::string::npos) << r.first_bad[0];
  EXPECT_EQ(r.message, "512 outputs were never written (they hold the poison), in rows 0..1, cols 0..255");
}

// Budget-only claims (split-K, an unknown order) leave the order open: the suite identifies it
// (fp32-fma outputs are exact as fp32-fma), and where nothing reproduces the outputs (the ideal's
// fp32-fma outputs with one bit flipped) the claimed model's bound judges them: within budget.
TEST(GemmCompare, BudgetOnlyClaimsAreIdentifiedOrJudgedByTheBound) {
  const CaseResult found = run(kTensor, "fp32-fma", "sm90", Fault::budget_only);
  EXPECT_EQ(found.verdict, Verdict::exact) << found.message;
  EXPECT_EQ(found.model, "fp32-fma");
  EXPECT_EQ(found.message, "outputs follow fp32-fma (fp32 FMA, one chain over all K) (identified)");
  const CaseResult r = run(kTensor, "fp32-fma", "sm90", Fault::budget_only_flip);
  EXPECT_EQ(r.verdict, Verdict::within_budget) << r.message << r.model << (r.first_bad.empty() ? "" : r.first_bad[0]);
  EXPECT_GT(r.n_within, 0u);
  EXPECT_EQ(r.model, "");
  EXPECT_NE(r.message.find("no known accumulation reproduces the outputs"), std::string::npos) << r.message;
  EXPECT_EQ(r.note, "claims sm90 (budget only); ran: the reference replay of fp32-fma");
  // The same outputs claimed bit-exact are not sm90's, and the story says whose they are.
  const CaseResult strict = run(kTensor, "fp32-fma", "sm90");
  EXPECT_EQ(strict.verdict, Verdict::over_budget);
  EXPECT_EQ(strict.message, "outputs follow fp32-fma (fp32 FMA, one chain over all K), not sm90 (promotion every 128 K)");
}

// spec/gemm.md: a kernel must say which mode it claims, and the suite tells which mode the
// outputs follow: fast-accum outputs (cuBLASLt FAST_ACCUM) where promotion every 128 was claimed.
TEST(GemmCompare, FastAccumOutputsWherePromotionWasClaimedAreNamed) {
  const CaseResult r = run(kTensor, "sm90-fast-accum", "sm90");
  EXPECT_EQ(r.verdict, Verdict::over_budget);
  EXPECT_EQ(r.message, "outputs follow sm90-fast-accum (one chain over all K), not sm90 (promotion every 128 K)");
}

TEST(GemmCompare, AClaimOfAnUnknownModelOrNoGemmIsAnError) {
  const CaseResult r = run(kBlock, "fp32-fma", "sm91");
  EXPECT_EQ(r.verdict, Verdict::error);
  EXPECT_NE(r.message.find("claims an unknown accumulator model: unknown accumulator model 'sm91'"), std::string::npos)
      << r.message;
  class NoGemm : public ReferenceBackend {
   public:
    NoGemm() : ReferenceBackend("", "") {}
    GemmClaim gemm(const Spec& s, const Buffers& io) override { return Backend::gemm(s, io); }
  } none;
  const CaseResult e = run_case(Case::parse(kBlock), none).result;
  EXPECT_EQ(e.verdict, Verdict::error);
  EXPECT_EQ(e.message, "reference@test has no GEMM kernels");
}

TEST(GemmCompare, ZeroRowsAreACleanNoOp) {
  const CaseResult r = run("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/0x256x512/normal/s1", "fp32-fma", "fp32-fma");
  EXPECT_EQ(r.verdict, Verdict::exact);
  EXPECT_EQ(r.elements, 0u);
}

// A case larger than the machine is refused from its id before anything is allocated (exit 2).
TEST(GemmCompare, AHugeShapeIsRefusedBeforeAllocation) {
  ReferenceBackend b("fp32-fma", "fp32-fma");
  try {
    ulpgate::run_case("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/65536x65536x65536/normal/s1", b, nullptr, uint64_t(1) << 30);
    FAIL() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("needs about 4.81e+11 bytes of host memory, more than the limit"), std::string::npos)
        << e.what();
  }
}

// Identification (identify.hpp): a kernel that claims nothing gets the order its outputs follow,
// named, and the exact verdict; a faulty kernel that follows another model is named as that model.
TEST(GemmIdentify, UnclaimedOutputsAreNamedByTheOrderTheyFollow) {
  // Wide-exponent data tells the steps apart; long K tells promotions and splits apart.
  constexpr std::string_view kWide = "gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/8x32x4096/pow2-boundary_emin=-24_emax=0/s1";
  const struct {
    std::string_view id, writes;
  } cases[] = {
      {kWide, "sm90"},
      {kWide, "sm90-fast-accum"},
      {kWide, "sm90-mma-f16"},
      {kWide, "sm90-mma-fp8"},
      {kWide, "sm100"},
      {kWide, "sm89"},
      {kWide, "sm100/split=4:pairwise"},  // 25-bit partials: their fp32 sums round, so the order shows
      {kWide, "sm100/split=5:sequential"},
      {kWide, "sm90/promote=256"},
      {"gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/4x128x1024/pow2-boundary_emin=-24_emax=0/s1", "sm90-mma-f16"},
      {"gemm.rowwise/aiter/e4m3fnuz.e4m3fnuz/fp32/8x32x2048/pow2-boundary_emin=-24_emax=0/s1", "gfx942"},
  };
  int item = 0;
  for (const auto& c : cases) {
    if (!test_support::sampled(item++)) continue;
    const CaseResult r = run(c.id, std::string(c.writes), "");
    EXPECT_EQ(r.verdict, Verdict::exact) << c.id << " " << c.writes << ": " << r.message;
    // Named as written, or by an equivalent name of the same order (K split in 4 single chains
    // added pairwise is promotion every 2048 K with K split in 2).
    ASSERT_FALSE(r.model.empty()) << c.id << " " << c.writes << ": " << r.message;
    EXPECT_TRUE(same_order(Case::parse(c.id).spec, parse_variant(r.model)->model, parse_variant(c.writes)->model))
        << c.writes << " named " << r.model;
    EXPECT_TRUE(r.message.starts_with("outputs follow ")) << r.message;
    EXPECT_NE(r.message.find(r.model + " ("), std::string::npos) << r.message;
    EXPECT_EQ(r.note, "claims no accumulator model; ran: the reference replay of " + std::string(c.writes));
  }
  EXPECT_EQ(run(kWide, "sm90-mma-f16", "").message,
            "outputs follow sm90-mma-f16 (promotion every 128 K) (identified)");
  // A claim names the variant, and is held to it bit for bit: 25-bit partials round when added.
  EXPECT_EQ(run(kWide, "sm100/split=4:pairwise", "sm100/split=4:pairwise").verdict, Verdict::exact);
  EXPECT_EQ(run(kWide, "sm100/split=4:pairwise", "sm100/split=4:sequential").verdict, Verdict::over_budget);
  EXPECT_EQ(run(kWide, "sm90", "sm90/split=99:pairwise").verdict, Verdict::error);
}

// Only the paths the arch's kernels can take are candidates: CDNA3 outputs from a kernel on sm90
// are not named, and the loosest sm90 bound judges them.
TEST(GemmIdentify, OnlyTheArchsPathsArePlausible) {
  constexpr std::string_view kFnuz = "gemm.rowwise/aiter/e4m3fnuz.e4m3fnuz/fp32/8x32x2048/pow2-boundary_emin=-24_emax=0/s1";
  const CaseResult r = run(kFnuz, "gfx942", "", Fault::none, "sm90");
  EXPECT_EQ(r.model, "");
  EXPECT_TRUE(passes(r.verdict)) << r.message;
  EXPECT_NE(r.message.find("no known accumulation reproduces the outputs (tried "), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("sm90-mma-f16, sm90-mma-fp8, sm80-mma-f16"), std::string::npos) << r.message;
  EXPECT_EQ(r.message.find("gfx942"), std::string::npos) << r.message;
  EXPECT_EQ(run(kFnuz, "gfx942", "", Fault::none, "gfx942").model, "gfx942");
  // An output off by one bit is reproduced by nothing; within the loosest bound it passes.
  const CaseResult flipped = run(kTensor, "sm90", "", Fault::flip_one, "sm90");
  EXPECT_EQ(flipped.verdict, Verdict::within_budget) << flipped.message;
  EXPECT_EQ(flipped.model, "");
}

// Data that cannot tell orders apart (all products zero): exact, the first named, the rest counted.
TEST(GemmIdentify, OrdersTheDataCannotTellApartAreAllNamed) {
  const CaseResult r = run("gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/4x32x512/zeros/s1", "sm90", "", Fault::none, "sm90");
  EXPECT_EQ(r.verdict, Verdict::exact);
  EXPECT_EQ(r.model, "sm90");  // the first candidate: the arch's rows in table order
  EXPECT_NE(r.message.find("other orders agree on a sample of D"), std::string::npos) << r.message;
}
