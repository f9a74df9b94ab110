#include "reference/gemm/model.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "reference/formats/name_table.hpp"
#include "reference/gemm/step.hpp"

namespace ulpgate::gemm {
namespace {

using enum Align;
constexpr auto rz = Rounding::rz;
constexpr auto rne = Rounding::rne;

// The matrix-unit steps, each MMA-Sim's instruction model (arXiv 2511.10909; `mmasim` 2.1.1:
// nv_ptx/sim.py, amd/sim.py, arithmetic/fdpa.py) in this file's terms: T_FDPA is a fused step
// (F = frac_bits, RZ-E8M13 = 14 truncated bits, RZ-FP32 = 24, L_max = k, e_zero = e_floor),
// GTR_FDPA a late one. suites/oracle compares each with MMA-Sim bit for bit.
//
// sm90 wgmma FP8 (spec/gemm.md steps 1-5, measured on an H200): k = 32, u = 2^(E - 13), terms
// truncated toward zero, E >= -133, the exact sum truncated to 14 significant bits.
constexpr MmaStep kSm90{32, 1, 13, toward_zero, -133, 14, rz};
// Hopper mma.sync f16/bf16 m16n8k16 (MMA-Sim "Hopper": F = 25, 32 bytes = 16 products, RZ-FP32).
// Hopper has no FP8 mma.sync unit: an FP8 `mma.sync` (Triton's tiles of fewer than 64 rows) runs
// as fp8 converted to fp16 and this step, so an e4m3 subnormal counts at its fp16 exponent.
constexpr MmaStep kSm90MmaF16{16, 1, 25, toward_zero, -133, 24, rz, Join::fused, 0, Exponents::fp16};
// Hopper's FP8 mma.sync path as Triton lowers it (tiles under 64 rows): four e4m3 codes of a
// register converted pairwise (cvt.rn.f16x2.e4m3x2) into two f16x2 registers that feed two
// m16n8k16 f16 steps, so of each 32 K the first step takes the runs 0-1, 4-5, ..., 28-29 and the
// second 2-3, 6-7, ..., 30-31.
constexpr MmaStep kSm90MmaFp8{16, 1, 25, toward_zero, -133, 24, rz, Join::fused, 0, Exponents::fp16, 2};
// Ampere / Ada mma.sync f16/bf16 m16n8k16 (MMA-Sim "Ampere", "Ada Lovelace": F = 24, 16 bytes =
// 8 products, e_zero = -132, RZ-FP32).
constexpr MmaStep kSm80MmaF16{8, 1, 24, toward_zero, -132, 24, rz, Join::fused, 0, Exponents::fp16};
constexpr MmaStep kSm80MmaBf16{8, 1, 24, toward_zero, -132, 24, rz, Join::fused, 0, Exponents::bf16};
// Ada mma.sync FP8 m16n8k32 (MMA-Sim "Ada Lovelace": F = 13, 16 products, RZ-E8M13, e_zero -132).
constexpr MmaStep kSm89Fp8{16, 1, 13, toward_zero, -132, 14, rz};
// Blackwell tcgen05.mma kind::f8f6f4 and kind::mxf8f6f4 block32 (MMA-Sim "Blackwell": T_FDPA and
// ST_FDPA with F = 25, 32 products, RZ-FP32, e_zero -133; the ue8m0 scales join each product's
// exponent inside the step).
constexpr MmaStep kSm100{32, 1, 25, toward_zero, -133, 24, rz};
// CDNA3 FP8/BF8 MFMA (v_mfma_f32_{32x32x16,16x16x32}_{fp8,bf8}_{fp8,bf8}; MMA-Sim "CDNA3":
// GTR_FDPA with F = 24, F2 = 31, RNE-FP32, 16 products): even and odd products truncated on their
// own maximum exponents, floor-aligned into a dot that meets c late, 31 fraction bits, RNE to fp32.
constexpr MmaStep kCdna3{16, 2, 24, toward_zero, kNoFloor, 24, rne, Join::late, 31};
// CDNA4 scaled MFMA: no validated source. Hypothesis: CDNA3's step over 32 products.
constexpr MmaStep kCdna4{32, 2, 24, toward_zero, kNoFloor, 24, rne, Join::late, 31};

// fp32 FMA as a step of one product: the product and c aligned to u = 2^(E - 32) with round to
// odd, then RNE to 24 bits on fp32's grid. The term that sets E is exact (a product has at most 8
// bits, from 2^(pe+1) down to 2^(pe-6); c 24 bits from 2^ec), so at most the other one is rounded.
// If E is c's (|c| >= 2^E), a rounded product lies below 2^(E-24) and |sum| > 2^(E-1); if E is
// the product's (|p| >= 2^(E-6), fp8 subnormals included), a rounded c lies below 2^(E-8) and
// |sum| > 2^(E-7). Either way the sum's fp32 quantum is at least 2^(E-30) = 4u, and RNE of a value
// rounded to odd two bits below its quantum is RNE of the exact value; without a rounded term the
// sum is exact. So the step is fmaf (checked against a literal std::fma loop in the tests).
constexpr MmaStep kFma{1, 1, 32, odd, kNoFloor, 24, rne};

constexpr std::string_view kMmaSim = "MMA-Sim 2.1.1: 100,000 random dot products per instruction and the edge "
                                     "inputs, bit for bit (ctest -L oracle)";

// One row per matrix path x library mode.
// name, arch, validated, source, step, promote K, scales in the MMA, validation, runs on
constexpr std::array kModels = {
    AccumModel{"sm90", "sm90", true,
               "spec/gemm.md: cuBLASLt default FP8 on an H200, bit-exact on 100% of compared outputs: chains "
               "of 4 wgmma steps (128 K) from zero, each added into fp32 with RN; block scaling: the 4-step "
               "chain per 128-block (DeepGEMM sm90: 4 WGMMA with scale-d = 0 per block)",
               kSm90, 128, false, "hardware: H200 (cuBLASLt, torch._scaled_mm), 2026-11; the step also by MMA-Sim 2.1.1",
               "sm90"},
    AccumModel{"sm90-fast-accum", "sm90", true,
               "spec/gemm.md: cuBLASLt CUBLASLT_MATMUL_DESC_FAST_ACCUM on an H200, bit-exact on 100% of "
               "compared outputs: one chain of sm90 wgmma steps over all of K",
               kSm90, 0, false, "hardware: H200 (cuBLASLt, torch._scaled_mm), 2026-11; the step also by MMA-Sim 2.1.1",
               "sm90"},
    // Revealed orders (`ulpgate reveal`, harness/gemm/reveal.hpp): cuBLASLt's split-K algorithms at
    // tall-K shapes, sm90 steps and chains in parts of a fixed K added sequentially in fp32.
    AccumModel{"sm90-cublaslt-parts3072", "sm90", true,
               "cuBLASLt 13.1 block-scaled split-K (algo 66 family) at 4x128x16384: the sm90 order in parts "
               "of 3072 K (24 K-blocks; the last 1024), each part's main from +0, the parts' fp32 partials "
               "added in order",
               kSm90, 128, false,
               "hardware: revealed by `ulpgate reveal` on an H200, cuBLASLt 130100, gemm.block "
               "e4m3fn 4x128x16384 fp32, 2026-11-25; bit for bit on the catalog case",
               "sm90", 1, Combine::sequential, 3072},
    AccumModel{"sm90-fast-accum-cublaslt-parts2816", "sm90", true,
               "cuBLASLt 13.1 fast-accumulation split-K at 4x128x16384: one chain of sm90 steps per part of "
               "2816 K (the last 2304), the parts' fp32 partials added in order",
               kSm90, 0, false,
               "hardware: revealed by `ulpgate reveal` on an H200, cuBLASLt 130100, gemm.tensor "
               "cublaslt-fast-accum e4m3fn 4x128x16384 fp32, 2026-11-25",
               "sm90", 1, Combine::sequential, 2816},
    AccumModel{"sm90-mma-f16", "sm90", true,
               "Hopper mma.sync m16n8k16 f16 (the path of FP8 tl.dot with tiles under 64 rows: fp8 converted "
               "to fp16): 16-product steps, 25 fraction bits, truncation, the fp32 sum truncated; one chain "
               "per 128 K, as Triton's block-scaled GEMMs restart tl.dot per K-block",
               kSm90MmaF16, 128, false,
               "hardware: H200 mma.sync.m16n8k16 f16, 262,144 of 262,144 chained outputs (suites/oracle/"
               "mma_sync_probe.cu), 2026-11; MMA-Sim 2.1.1 likewise",
               "sm90"},
    AccumModel{"sm90-mma-fp8", "sm90", true,
               "an FP8 tl.dot with tiles under 64 rows on sm90 (Triton): e4m3 converted pairwise to f16, each 32 K "
               "in two m16n8k16 f16 steps taking K in alternate runs of 2; one chain per 128 K",
               kSm90MmaFp8, 128, false,
               "hardware: H200, Triton 3.6 block-scaled FP8 GEMM with 16-row tiles, 4 of 4 cases bit for bit "
               "(wide exponents included; examples/torch/report/IDENTIFY.md), 2026-11",
               "sm90"},
    AccumModel{"sm80-mma-f16", "sm80", true,
               "Ampere / Ada mma.sync m16n8k16 f16 on fp8 values converted to fp16: 8-product steps, 24 "
               "fraction bits, truncation; one chain per 128 K",
               kSm80MmaF16, 128, false, kMmaSim, "sm80 sm89 sm90"},
    AccumModel{"sm80-mma-bf16", "sm80", true,
               "Ampere / Ada mma.sync m16n8k16 bf16 on fp8 values converted to bf16: as sm80-mma-f16 with "
               "bf16 exponents (e5m2 subnormals at their true exponent)",
               kSm80MmaBf16, 128, false, kMmaSim, "sm80 sm89 sm90"},
    AccumModel{"fp32-fma", "simt", true,
               "a portable SIMT kernel's declared order: acc = fmaf(a_k, b_k, acc) in fp32, K ascending, "
               "from zero per segment (IEEE fmaf, no FTZ: exact by definition)",
               kFma, 0, false, "exact by definition (IEEE fmaf; held to std::fma by the tests)"},
    AccumModel{"sm100", "sm100", true,
               "tcgen05.mma kind::f8f6f4 (and kind::mxf8f6f4 block32 with ue8m0 scales inside the step): "
               "32-product steps, 25 fraction bits, truncation, the fp32 sum truncated; one chain over all "
               "of K in tensor memory",
               kSm100, 0, true, kMmaSim, "sm100"},
    AccumModel{"sm89", "sm89", true,
               "Ada mma.sync m16n8k32 FP8: 16-product steps, 13 fraction bits, a 14-bit truncated sum. The "
               "library's promotion every 128 K is assumed (as on sm90)",
               kSm89Fp8, 128, false, "MMA-Sim 2.1.1 for the step (ctest -L oracle); the promotion: hypothesis",
               "sm89"},
    AccumModel{"gfx942", "gfx942", true,
               "CDNA3 v_mfma_f32_32x32x16_fp8_fp8 (and its 16x16x32 / bf8 forms): 16-product steps, even "
               "and odd products truncated on their own exponents (24 fraction bits), floor-aligned, C "
               "met late at 31 fraction bits, RNE to fp32; the MFMA accumulator carried over all of K",
               kCdna3, 0, true, kMmaSim, "gfx942"},
    AccumModel{"gfx950", "gfx950", false,
               "hypothesis: gfx950 scaled MFMA (v_mfma_scale_f32_*_f8f6f4) applies one ue8m0 per 32 K inside "
               "the MFMA; no validated source: CDNA3's step over 32 products is assumed",
               kCdna4, 0, true, "hypothesis: no hardware and no MMA-Sim model of CDNA4", "gfx950"},
};

constexpr NameTable<Align, 3> kAligns{{{{toward_zero, "toward-zero"}, {down, "down"}, {odd, "odd"}}}};
constexpr NameTable<Join, 2> kJoins{{{{Join::fused, "fused"}, {Join::late, "late"}}}};
constexpr NameTable<Exponents, 3> kExponents{{{{Exponents::fp8, "fp8"}, {Exponents::fp16, "fp16"}, {Exponents::bf16, "bf16"}}}};
constexpr NameTable<Combine, 2> kCombines{{{{Combine::sequential, "sequential"}, {Combine::pairwise, "pairwise"}}}};

}  // namespace

std::string_view align_name(Align a) { return kAligns.name(a); }
std::string_view join_name(Join j) { return kJoins.name(j); }
std::string_view exponents_name(Exponents e) { return kExponents.name(e); }
std::string_view combine_name(Combine c) { return kCombines.name(c); }

int64_t units_per_part(const AccumModel& m, int64_t units, int64_t unit_k) {
  if (m.part_k > 0) return std::max<int64_t>(1, m.part_k / unit_k);
  return m.split > 1 ? (units + m.split - 1) / m.split : 0;
}

bool AccumModel::runs_on_arch(std::string_view arch_name) const {
  if (runs_on.empty()) return true;
  for (size_t at = 0; at < runs_on.size();) {
    const size_t end = std::min(runs_on.find(' ', at), runs_on.size());
    if (runs_on.substr(at, end - at) == arch_name) return true;
    at = end + 1;
  }
  return false;
}
std::span<const AccumModel> models() { return kModels; }
std::string model_names() { return row_names(models()); }
const AccumModel& model(std::string_view name) { return row_named(models(), name, "accumulator model"); }

float mma_step(const MmaStep& step, Format af, Format bf, std::span<const uint8_t> a, std::span<const uint8_t> b,
               float c, int scale_exp, double* bound) {
  if (a.size() != b.size() || a.size() > size_t(detail::kMaxStep) || !detail::valid(step))
    throw UsageError("mma_step: A and B need the same number of codes, at most " + std::to_string(detail::kMaxStep) +
                     ", and a step of 1 to that many products and groups");
  const detail::CodeTable &ta = detail::code_table(af), &tb = detail::code_table(bf);
  const bool finite = std::ranges::all_of(a, [&](uint8_t x) { return ta.finite[x]; }) &&
                      std::ranges::all_of(b, [&](uint8_t x) { return tb.finite[x]; });
  if (!finite) {  // model.hpp: non-finite inputs follow IEEE double arithmetic
    double d = c;
    for (size_t i = 0; i < a.size(); ++i) d += ta.value[a[i]] * tb.value[b[i]] * detail::pow2(scale_exp);
    if (bound) *bound = std::numeric_limits<double>::infinity();
    return float(d);
  }
  detail::DecodedRows da, db;
  const auto scaled = [&](int64_t, int64_t) { return scale_exp; };
  detail::decode_rows(da, ta, a.data(), 0, 1, int64_t(a.size()), scaled, step.exponents);
  detail::decode_rows(db, tb, b.data(), 0, 1, int64_t(b.size()), [](int64_t, int64_t) { return 0; }, step.exponents);
  double err = 0;
  const float r = detail::run_step(step, {da.v(0), db.v(0), da.e(0), db.e(0), int(a.size())}, c, bound ? &err : nullptr);
  if (bound) *bound = err;
  return r;
}

float mma_chain(const MmaStep& step, Format af, Format bf, std::span<const uint8_t> a, std::span<const uint8_t> b,
                float c, std::span<const int> scale_exp) {
  if (a.size() != b.size() || !detail::valid(step)) throw UsageError("mma_chain: A and B need the same number of codes and a valid step");
  const size_t steps = (a.size() + size_t(step.k) - 1) / size_t(step.k);
  if (!scale_exp.empty() && scale_exp.size() != steps)
    throw UsageError("mma_chain: one scale exponent per step (" + std::to_string(steps) + "), got " + std::to_string(scale_exp.size()));
  const auto k = int64_t(a.size());
  const auto none = [](int64_t, int64_t) { return 0; };
  detail::DecodedRows da, db;
  if (scale_exp.empty() || step.k_run) {
    if (!scale_exp.empty() && std::ranges::any_of(scale_exp, [](int e) { return e != 0; }))
      throw UsageError("mma_chain: scales inside an interleaved step are not modelled");
    detail::decode_rows(da, detail::code_table(af), a.data(), 0, 1, k, none, step.exponents);
  } else {
    detail::decode_rows(da, detail::code_table(af), a.data(), 0, 1, k,
                        [&](int64_t, int64_t i) { return scale_exp[size_t(i / step.k)]; }, step.exponents);
  }
  detail::decode_rows(db, detail::code_table(bf), b.data(), 0, 1, k, none, step.exponents);
  const detail::CodeTable &ta = detail::code_table(af), &tb = detail::code_table(bf);
  const bool finite = std::ranges::all_of(a, [&](uint8_t x) { return ta.finite[x]; }) &&
                      std::ranges::all_of(b, [&](uint8_t x) { return tb.finite[x]; });
  if (!finite) {  // model.hpp: non-finite inputs follow IEEE double arithmetic
    double d = c;
    for (int64_t i = 0; i < k; ++i) d += da.value[size_t(i)] * db.value[size_t(i)];
    return float(d);
  }
  detail::for_each_step(step, {da.v(0), db.v(0), da.e(0), db.e(0), int(k)},
                        [&](const detail::Products& p) { c = detail::run_step(step, p, c, nullptr); });
  return c;
}

}  // namespace ulpgate::gemm
