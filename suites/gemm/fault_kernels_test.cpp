// The GEMM diagnosis proven with faulty variants of the real portable kernel (known-bugs.md R10,
// R13, R14, R15; spec/gemm.md "Tile-level diagnosis"): each fault is the kernel with one thing
// wrong — a Faults functor (the scale index, the output a thread computes, the value it stores),
// one field of its plan (a scale layout, the fp8 format it decodes), its buffers (weights not
// pre-shuffled) or its claim — and must get its verdict with a message that names it. A fault
// whose data no known story explains (one element off) must get none.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "harness/cli/reports.hpp"
#include "suites/html_page.hpp"
#include "harness/gemm/run_case.hpp"
#include "kernels/gemm/gemm_host.hpp"
#include "kernels/portable/arch.hpp"

using namespace ulpgate;
using namespace ulpgate::gemm;
using gemm_kernels::Coord;
using gemm_kernels::NoFault;

namespace {

// R15 (TIRx-kernels #5): the scale index ignores the K-block.
struct FirstKBlockScales : NoFault {
  int64_t scale_block(int64_t) const { return 0; }
};

// A wrong tile offset: outputs in rows 0..31, cols 32..63 are computed from cols 0..31.
struct LeftTile : NoFault {
  Coord source(int64_t m, int64_t n) const { return m < 32 && n >= 32 && n < 64 ? Coord{m, n - 32} : Coord{m, n}; }
};

// A K-block scale index off by one: block kb reads the scales of kb + 1 (the last its own).
struct NextKBlockScales : NoFault {
  int64_t last;
  int64_t scale_block(int64_t kb) const { return kb < last ? kb + 1 : kb; }
};

// A's scale row index off by one: row r reads row r + 1's scales (the last its own).
struct NextScaleRow : NoFault {
  int64_t last;
  int64_t scale_row(int64_t r) const { return r < last ? r + 1 : r; }
};

// An output index off by one row: D[m, n] gets D[m + 1, n] (the last row its own).
struct RowOffset : NoFault {
  int64_t last;
  Coord source(int64_t m, int64_t n) const { return {m < last ? m + 1 : m, n}; }
};

// e4m3fn's NaN codes (0x7F, 0xFF) of A decoded as +-480: a bit-shift decoder without the NaN case.
struct NanCodesAsNumbers : NoFault {
  float decoded(bool of_b, uint32_t code, float v) const {
    return !of_b && (code & 0x7fu) == 0x7fu ? (code & 0x80u ? -480.0f : 480.0f) : v;
  }
};

// B's subnormal codes (exponent field 0) decoded as zeros of their sign.
struct SubnormalCodesFlushed : NoFault {
  float decoded(bool of_b, uint32_t code, float v) const {
    return of_b && (code & 0x78u) == 0 && (code & 0x07u) ? (code & 0x80u ? -0.0f : 0.0f) : v;
  }
};

// e4m3 subnormal codes of both operands decoded as if exponent field 0 were 1 (the implicit bit kept).
struct SubnormalsAsNormals : NoFault {
  float decoded(bool, uint32_t code, float v) const {
    return (code & 0x78u) == 0 && (code & 0x07u) ? (v < 0 ? -1.0f : 1.0f) * float(8 + (code & 7u)) * 0x1p-9f : v;
  }
};

// The K-blocks summed from the last.
struct KBlocksFromLast : NoFault {
  int64_t blocks;
  int64_t kblock_order(int64_t i) const { return blocks - 1 - i; }
};

// One output one fp32 ulp off.
struct OneElementOff : NoFault {
  float stored(int64_t m, int64_t n, float d) const { return m == 3 && n == 5 ? std::nextafter(d, INFINITY) : d; }
};

enum class Fault {
  unshuffled_weights,  // R14: row-major weights handed to the bpreshuffle kernel
  first_kblock_scales, // R15
  transposed_scales,   // R13: A's col storage read as row
  fnuz_as_ocp,         // R10: e4m3fnuz codes decoded as e4m3fn
  ocp_as_fnuz,         // R10: e4m3fn codes decoded as e4m3fnuz (gfx950 data on a gfx942 kernel)
  wrong_tile,
  claims_sm90,         // the fp32-fma kernel claiming the sm90 model
  one_element_off,
  next_kblock_scales,  // scale map: K-block kb reads kb + 1's scales
  next_scale_row,      // scale map: A's row r reads row r + 1's scales
  row_offset,          // position: every output one row on
  e5m2_as_e4m3,        // decoding: B's e5m2 codes decoded as e4m3fn
  other_scale_rule,    // arithmetic: the K-block combine of another profile (a-first for product-first)
  k_halves_swapped,    // permutation: B's 16-K halves of each 32-K chunk swapped as the kernel loads them
  subnormal_scales_ftz,  // decoding: fp32 scales that are subnormal read as 0 (a flush-to-zero load)
  reversed_k,          // arithmetic: K summed from its end
  b_transposed,        // permutation: B [N, K] read as [K, N]
  a_word_bytes_reversed,  // permutation: the 4 codes of every 32-bit word of A in reverse order
  nan_codes_as_numbers,   // decoding: A's e4m3fn NaN codes read as +-480
  subnormal_codes_flushed,  // decoding: B's subnormal codes read as zeros
  subnormals_as_normals,    // decoding: subnormal codes read with the implicit bit
  each_kblock_reversed,     // arithmetic: each K-block summed from its end
  kblocks_from_last,        // arithmetic: the K-blocks summed from the last
};

// The kernel run on operands it reads under a permutation: element (r, c) of A and B [rows, K] is
// read from flat index source(r, c, rows, K) (nullptr: as stored).
using Source = int64_t (*)(int64_t r, int64_t c, int64_t rows, int64_t k);
void run_permuted(const Spec& s, const Buffers& io, Source a_source, Source b_source) {
  const auto read = [&s](std::span<const uint8_t> codes, int64_t rows, Source source) {
    std::vector<uint8_t> out(codes.begin(), codes.end());
    if (source)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < s.k; ++c) out[size_t(r * s.k + c)] = codes[size_t(source(r, c, rows, s.k))];
    return out;
  };
  const std::vector<uint8_t> a = read(io.a, s.m, a_source), b = read(io.b, s.n, b_source);
  Buffers permuted = io;
  permuted.a = a, permuted.b = b;
  gemm_kernels::run_gemm_host(kHostW32, s, permuted);
}

class FaultyKernel : public Backend {
 public:
  explicit FaultyKernel(Fault f) : fault_(f) {}
  std::string name() const override { return "fault@host-w32"; }
  void quant(const quant::Spec&, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    throw BackendError("no quant");
  }

  GemmClaim gemm(const Spec& s, const Buffers& io) override {
    const GemmClaim claim{fault_ == Fault::claims_sm90 ? "sm90" : gemm_kernels::kClaimedModel, false, "a faulty kernel", ""};
    switch (fault_) {
      case Fault::unshuffled_weights: {
        const std::vector<uint8_t> rows = unshuffle(io.b, s.n, s.k);  // the logical [N, K] weights
        Buffers unshuffled = io;
        unshuffled.b = rows;
        gemm_kernels::run_gemm_host(kHostW32, s, unshuffled);
        return claim;
      }
      case Fault::first_kblock_scales: return gemm_kernels::run_gemm_host(kHostW32, s, io, FirstKBlockScales{}), claim;
      case Fault::wrong_tile: return gemm_kernels::run_gemm_host(kHostW32, s, io, LeftTile{}), claim;
      case Fault::one_element_off: return gemm_kernels::run_gemm_host(kHostW32, s, io, OneElementOff{}), claim;
      case Fault::claims_sm90: return gemm_kernels::run_gemm_host(kHostW32, s, io), claim;
      case Fault::subnormal_scales_ftz: {  // every subnormal fp32 word of the scale storage read as +0
        const auto flushed = [](std::span<const uint8_t> bytes) {
          std::vector<uint8_t> out(bytes.begin(), bytes.end());
          for (size_t i = 0; i + 4 <= out.size(); i += 4) {
            float v;
            std::memcpy(&v, &out[i], 4);
            if (std::fpclassify(v) == FP_SUBNORMAL) std::memset(&out[i], 0, 4);
          }
          return out;
        };
        const std::vector<uint8_t> sa = flushed(io.sa), sb = flushed(io.sb);
        Buffers ftz = io;
        ftz.sa = sa, ftz.sb = sb;
        gemm_kernels::run_gemm_host(kHostW32, s, ftz);
        return claim;
      }
      case Fault::reversed_k: {  // the kernel walks K backwards: its operands, reversed along K
        const Source reversed = [](int64_t r, int64_t c, int64_t, int64_t k) { return r * k + k - 1 - c; };
        return run_permuted(s, io, reversed, reversed), claim;
      }
      case Fault::each_kblock_reversed: {  // each 128-K block walked backwards (K a multiple of 128)
        const Source reversed = [](int64_t r, int64_t c, int64_t, int64_t k) { return r * k + c / 128 * 128 + 127 - c % 128; };
        return run_permuted(s, io, reversed, reversed), claim;
      }
      case Fault::k_halves_swapped:  // the kernel reads B[n, k ^ 16]
        return run_permuted(s, io, nullptr, [](int64_t r, int64_t c, int64_t, int64_t k) { return r * k + (c ^ 16); }), claim;
      case Fault::b_transposed:
        return run_permuted(s, io, nullptr, [](int64_t r, int64_t c, int64_t rows, int64_t) { return c * rows + r; }), claim;
      case Fault::a_word_bytes_reversed:
        return run_permuted(s, io, [](int64_t r, int64_t c, int64_t, int64_t k) { return r * k + (c ^ 3); }, nullptr), claim;
      case Fault::nan_codes_as_numbers: return gemm_kernels::run_gemm_host(kHostW32, s, io, NanCodesAsNumbers{}), claim;
      case Fault::subnormal_codes_flushed:
        return gemm_kernels::run_gemm_host(kHostW32, s, io, SubnormalCodesFlushed{}), claim;
      case Fault::subnormals_as_normals: return gemm_kernels::run_gemm_host(kHostW32, s, io, SubnormalsAsNormals{}), claim;
      case Fault::kblocks_from_last:
        return gemm_kernels::run_gemm_host(kHostW32, s, io, KBlocksFromLast{{}, (s.k + 127) / 128}), claim;
      case Fault::next_kblock_scales:
        return gemm_kernels::run_gemm_host(kHostW32, s, io, NextKBlockScales{{}, (s.k + 127) / 128 - 1}), claim;
      case Fault::next_scale_row: return gemm_kernels::run_gemm_host(kHostW32, s, io, NextScaleRow{{}, s.m - 1}), claim;
      case Fault::row_offset: return gemm_kernels::run_gemm_host(kHostW32, s, io, RowOffset{{}, s.m - 1}), claim;
      default: break;
    }
    gemm_kernels::GemmPlan plan = gemm_kernels::plan_gemm(s, io, gemm_kernels::kHostBlocks);
    if (fault_ == Fault::transposed_scales) plan.math.sa_map.layout = quant::Layout::row;
    const Format read_as = fault_ == Fault::fnuz_as_ocp ? Format::e4m3fn : Format::e4m3fnuz;
    if (fault_ == Fault::fnuz_as_ocp || fault_ == Fault::ocp_as_fnuz)
      plan.math.a_format = plan.math.b_format = gemm_kernels::fp8_format(read_as);
    if (fault_ == Fault::e5m2_as_e4m3) plan.math.b_format = gemm_kernels::fp8_format(Format::e4m3fn);
    if (fault_ == Fault::other_scale_rule) plan.math.rule = ScaleRule::a_first;
    gemm_kernels::launch_gemm(plan, gemm_kernels::GemmPointers::of(io),
                              [](const LaunchConfig& cfg, const auto& k) { host_simt::launch(kHostW32, cfg, k); });
    return claim;
  }

 private:
  Fault fault_;
};

CaseResult run(std::string_view id, Fault f) {
  FaultyKernel b(f);
  return run_case(Case::parse(id), b).result;
}

bool has_line(const CaseResult& r, std::string_view text) {
  return std::ranges::any_of(r.first_bad, [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

std::string lines(const CaseResult& r) {
  std::string s = r.message;
  for (const std::string& l : r.first_bad) s += "\n" + l;
  return s;
}

constexpr std::string_view kR15 = "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/32x256x2048/normal/s1";

}  // namespace

namespace {

// Each fault, its verdict and the story that names it (and, where given, a line of its error maps).
struct Expectation {
  Fault fault;
  std::string_view id;
  Verdict verdict;
  std::string_view story, map_line;
};
const Expectation kExpected[] = {
    {Fault::unshuffled_weights, "gemm.block/aiter-bpreshuffle/e4m3fnuz.e4m3fnuz/bf16/64x256x1024/normal/s1", Verdict::layout,
     "the weights are row-major [N, K], not pre-shuffled, but the kernel reads bpreshuffle 16x32 tiles (R14; weight "
     "layouts row vs bpreshuffle)", ""},
    {Fault::first_kblock_scales, kR15, Verdict::over_budget,
     "every K-block reads the scales of K-block 0 (R15: the scale index ignores the K-block; A and B scales)",
     "  K-blocks 1..15 behave as if scaled by the scale of K-block 0"},
    {Fault::transposed_scales, "gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/64x256x1024/normal/s1", Verdict::layout,
     "A scales are stored as col but the kernel reads them as row (R13; layouts col vs row)", ""},
    // OCP codes read as fnuz: every value halved and no NaN, so the data tells A, B and both apart.
    {Fault::ocp_as_fnuz, "gemm.rowwise/aiter/e4m3fn.e4m3fn/bf16/32x256x512/normal/s1", Verdict::layout,
     "A and B codes are e4m3fn bytes but the kernel reads them as e4m3fnuz (OCP read as fnuz, R10: every product 1/4)",
     "  K-blocks 0..3 behave as if scaled 0.25x"},
    {Fault::wrong_tile, "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/64x96x512/normal/s1", Verdict::layout,
     "output rows 0..31, cols 32..63 hold the values of rows 0..31, cols 0..31 (a wrong output tile)",
     "error map by output tile (8 x 16 elements"},
    // The fitted families (issue 34): scale index maps, output positions, decodings.
    // The kernel takes one K-block index for both operands' scales, so the story names both.
    {Fault::next_kblock_scales, kR15, Verdict::over_budget,
     "A and B scales are read at K-block kb + 1 (the last block its own): a K-block scale index off by one", ""},
    {Fault::next_scale_row, kR15, Verdict::over_budget,
     "A scales are read at scale row r + 1 (the last row its own): a scale row index off by one", ""},
    {Fault::row_offset, "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/64x96x512/normal/s1", Verdict::layout,
     "6042 outputs hold the value of D[m + 1, n] (an output index off by (1, 0))", ""},
    // e5m2 codes read as e4m3 stay finite, so the data tells which operand (e4m3 read as e5m2 would
    // turn every cell's largest codes into Inf and NaN: all outputs NaN, whoever misread).
    {Fault::e5m2_as_e4m3, "gemm.block/cublaslt/e4m3fn.e5m2/fp32/19x160x672/normal/s1", Verdict::layout,
     "B codes are e5m2 bytes but the kernel decodes them as e4m3fn (the element formats mixed up)", ""},
    {Fault::other_scale_rule, "gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/64x256x1024/normal/s1", Verdict::over_budget,
     "the K-block combine is a-first (fl(fl(G sa) sb)), where cublaslt is product-first (fl(G fl(sa sb))): a scale "
     "rule of another profile", ""},
    // Swapping K in B pairs a[k] with b[k ^ 16], as swapping it in A does: the same products, so
    // the story keeps both candidates.
    {Fault::k_halves_swapped, "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/64x96x512/normal/s1", Verdict::layout,
     "the data fits 2 explanations: A is read with the two 16-K halves of every 32-K chunk swapped (an operand "
     "permutation inside the loaded tile); or B is read with the two 16-K halves of every 32-K chunk swapped (an "
     "operand permutation inside the loaded tile)", ""},
    // A's subnormal scale (2^-140) times B's (about 2^-8) is a subnormal product the FTZ arithmetic
    // flushes anyway, so whether A's was flushed first cannot show; B's (3e-39) meets A's 2^127.
    {Fault::subnormal_scales_ftz, "gemm.block/deepgemm/e4m3fn.e4m3fn/fp32/16x128x512/scale-edges/s1",
     Verdict::over_budget,
     "the data fits 2 explanations: B scales: subnormal fp32 scales flushed to zero; or A and B scales: subnormal "
     "fp32 scales flushed to zero", ""},
    {Fault::reversed_k, "gemm.tensor/cublaslt/e4m3fn.e5m2/fp32/16x128x512/pow2-boundary_emin=-24_emax=0/s1",
     Verdict::over_budget, "K is summed from its end (the operands taken in reverse K order)", ""},
    // Issue 34's remaining families: whole-operand and in-word permutations, edge-code decodings,
    // the K orders of block ops.
    {Fault::b_transposed, "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/64x96x512/normal/s1", Verdict::layout,
     "B is read as [K, N] row-major but stored [N, K] (a transposed operand layout)", ""},
    // A K permutation of A pairs the same codes as the same permutation of B: both stay candidates.
    {Fault::a_word_bytes_reversed, "gemm.rowwise/aiter/e4m3fnuz.e4m3fnuz/bf16/32x256x512/normal/s1", Verdict::layout,
     "the data fits 2 explanations: A is read with the 4 codes of every 32-bit word in reverse order (an operand "
     "permutation inside the loaded tile); or B is read with the 4 codes of every 32-bit word in reverse order (an "
     "operand permutation inside the loaded tile)", ""},
    {Fault::nan_codes_as_numbers, "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x128x512/normal_nan=997_inf=1009/s1",
     Verdict::over_budget,  // no code holds 480: the story fits where the bad outputs are, not their values
     "partly explained: A codes: the NaN / Inf codes decoded as numbers (a decoder without the special-value case): the outputs that "
     "touch them are finite", ""},
    {Fault::subnormal_codes_flushed, "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/16x128x512/pow2-boundary_emin=-24_emax=0/s1",
     Verdict::over_budget, "B codes: subnormal codes flushed to zero (a flush-to-zero decoder)", ""},
    {Fault::subnormals_as_normals, "gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/16x128x512/pow2-boundary_emin=-24_emax=0/s1",
     Verdict::over_budget,
     "A and B codes: subnormal codes read as normals (exponent field 0 taken as 1 with the implicit bit: a decoder "
     "without the subnormal case)", ""},
    {Fault::each_kblock_reversed, "gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/16x128x512/pow2-boundary_emin=-24_emax=0/s1",
     Verdict::over_budget, "each K-block is summed from its end (the blocks in order)", ""},
    {Fault::kblocks_from_last, "gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/16x128x512/pow2-boundary_emin=-24_emax=0/s1",
     Verdict::over_budget, "the K-blocks are taken from the last (each block summed in ascending K)", ""},
    // K = 672: the partial last block (32 K) is summed first.
    {Fault::kblocks_from_last, "gemm.block/cublaslt/e4m3fn.e4m3fn/fp32/19x160x672/normal/s1", Verdict::over_budget,
     "the K-blocks are taken from the last (each block summed in ascending K)", ""},
    {Fault::claims_sm90, "gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/16x64x4096/normal/s1", Verdict::over_budget,
     "outputs follow fp32-fma (fp32 FMA, one chain over all K), not sm90 (promotion every 128 K)", ""},
};

}  // namespace

TEST(GemmFaults, EachFaultGetsItsVerdictAndTheStoryThatNamesIt) {
  for (const Expectation& e : kExpected) {
    const CaseResult r = run(e.id, e.fault);
    EXPECT_EQ(r.verdict, e.verdict) << e.id << ": " << lines(r);
    EXPECT_EQ(r.message, e.story) << e.id;
    EXPECT_TRUE(e.map_line.empty() || has_line(r, e.map_line)) << e.id << ": " << lines(r);
    EXPECT_TRUE(has_line(r, "error map by output tile")) << e.id;
  }
}

// fnuz codes read as OCP: every value doubled, and each row's amax code 0x7F (240) reads as the
// e4m3fn NaN, so every output is NaN whichever operand was misread: the story names R10 as the
// candidates the data allows.
TEST(GemmFaults, R10FnuzReadAsOcpIsALayout) {
  const CaseResult r = run("gemm.rowwise/aiter/e4m3fnuz.e4m3fnuz/bf16/32x256x512/normal/s1", Fault::fnuz_as_ocp);
  EXPECT_EQ(r.verdict, Verdict::layout) << lines(r);
  EXPECT_NE(r.message.find("A and B codes are e4m3fnuz bytes but the kernel reads them as e4m3fn (fnuz read as OCP, R10"),
            std::string::npos)
      << r.message;
  EXPECT_GT(r.n_nonfinite, 0u);
}

TEST(GemmFaults, OneElementOffIsOverBudgetWithNoFalseStory) {
  const CaseResult r = run("gemm.block/deepgemm/e4m3fn.e4m3fn/fp32/16x128x512/normal/s1", Fault::one_element_off);
  EXPECT_EQ(r.verdict, Verdict::over_budget) << lines(r);
  EXPECT_EQ(r.n_over, 1u);
  EXPECT_EQ(r.message.rfind("no known fault explains the 1 bad output (tried:", 0), 0u) << r.message;
  EXPECT_EQ(r.first_bad[0].rfind("d[3,5]: got ", 0), 0u) << r.first_bad[0];
  EXPECT_FALSE(has_line(r, "as if")) << lines(r);
}

// The faulty kernel as a named backend, for the CLI paths (repro, the HTML report).
void register_fault_r15() {
  register_backend("fault-r15", [](std::string_view) -> std::unique_ptr<Backend> {
    return std::make_unique<FaultyKernel>(Fault::first_kblock_scales);
  });
}

// What `ulpgate repro` prints for R15 (the README's example).
TEST(GemmFaults, R15ReproPrintsTheStoryAndTheMaps) {
  register_fault_r15();
  cli::Selection s;
  s.backend = "fault-r15";
  s.archs = {"host-w32"};
  testing::internal::CaptureStdout();
  const int rc = cli::run_repro(std::string(kR15), s, "");
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("verdict  over-budget"), std::string::npos) << out;
  EXPECT_NE(out.find("note     claims fp32-fma (bit-exact); ran: a faulty kernel"), std::string::npos) << out;
  EXPECT_NE(out.find("diagnosis every K-block reads the scales of K-block 0"), std::string::npos) << out;
  std::printf("%s", out.c_str());
}

// R15's HTML report (issue 17): the K-block diagnosis and the error maps drawn as heat maps.
TEST(GemmFaults, R15HtmlReportDrawsTheMaps) {
  register_fault_r15();
  const std::string page = html_page(std::string(kR15), "fault-r15", "r15", "R15: every K-block reads one scale slice");
  EXPECT_NE(page.find("every K-block reads the scales of K-block 0"), std::string::npos);
  EXPECT_NE(page.find("bad elements by output tile"), std::string::npos);
  EXPECT_NE(page.find("effective scale f by K-block"), std::string::npos);
  size_t svgs = 0;  // the histogram and the three maps
  for (size_t at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1)) ++svgs;
  EXPECT_GE(svgs, 4u);
}
