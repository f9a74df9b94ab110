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

// sm90 FP8 MMA step (spec/gemm.md "Hardware accumulation" steps 1-5): k = 32, u = 2^(E - 13),
// terms truncated toward zero, E >= -133, the exact sum truncated to 14 significant bits.
constexpr MmaStep kSm90{32, 1, 13, toward_zero, -133, 14, rz};

// fp32 FMA as a step of one product: the product and c aligned to u = 2^(E - 32) with round to
// odd, then RNE to 24 bits on fp32's grid. The term that sets E is exact (a product has at most 8
// bits, from 2^(pe+1) down to 2^(pe-6); c 24 bits from 2^ec), so at most the other one is rounded.
// If E is c's (|c| >= 2^E), a rounded product lies below 2^(E-24) and |sum| > 2^(E-1); if E is
// the product's (|p| >= 2^(E-6), fp8 subnormals included), a rounded c lies below 2^(E-8) and
// |sum| > 2^(E-7). Either way the sum's fp32 quantum is at least 2^(E-30) = 4u, and RNE of a value
// rounded to odd two bits below its quantum is RNE of the exact value; without a rounded term the
// sum is exact. So the step is fmaf (checked against a literal std::fma loop in the tests).
constexpr MmaStep kFma{1, 1, 32, odd, kNoFloor, 24, rne};

// One row per arch x library mode.
// name, arch, validated, source, step, promote K, scales in the MMA
constexpr std::array kModels = {
    AccumModel{"sm90-fast-accum", "sm90", true,
               "spec/gemm.md: cuBLASLt CUBLASLT_MATMUL_DESC_FAST_ACCUM on an H200, bit-exact on 100% of "
               "compared outputs: one chain of sm90 steps over all of K",
               kSm90, 0, false},
    AccumModel{"sm90", "sm90", true,
               "spec/gemm.md: cuBLASLt default FP8 on an H200, bit-exact on 100% of compared outputs: chains "
               "of 4 steps (128 K) from zero, each added into fp32 with RN; block scaling: the 4-step chain "
               "per 128-block (DeepGEMM sm90: 4 WGMMA with scale-d = 0 per block)",
               kSm90, 128, false},
    AccumModel{"fp32-fma", "simt", true,
               "a portable SIMT kernel's declared order: acc = fmaf(a_k, b_k, acc) in fp32, K ascending, "
               "from zero per segment (IEEE fmaf, no FTZ: exact by definition)",
               kFma, 0, false},
    AccumModel{"sm100", "sm100", false,
               "spec/gemm.md hypothesis: tcgen05 FP8 keeps 25 fraction bits with truncation and accumulates "
               "all of K in tensor memory (fp32); ue8m0 block scales act inside tcgen05.mma block_scale. "
               "Assumed: k = 32, sm90's E floor, the fp32 sum truncated to 24 bits",
               MmaStep{32, 1, 25, toward_zero, -133, 24, rz}, 0, true},
    AccumModel{"sm89", "sm89", false,
               "spec/gemm.md hypothesis: Ada / L40S sums 16-product blocks with 13 fraction bits. Assumed: "
               "sm90's truncations and E floor, promotion every 128 K as on sm90",
               MmaStep{16, 1, 13, toward_zero, -133, 14, rz}, 128, false},
    AccumModel{"gfx942", "gfx942", false,
               "spec/gemm.md hypothesis: MI300 sums 16-product blocks, even and odd products separately, "
               "alignment round-down and RNE. Assumed: 24 fraction bits, no E floor, an fp32 (RNE) "
               "MFMA accumulator over all of K",
               MmaStep{16, 2, 24, down, kNoFloor, 24, rne}, 0, false},
    AccumModel{"gfx950", "gfx950", false,
               "spec/gemm.md hypothesis: gfx950 scaled MFMA (v_mfma_scale_f32_*_f8f6f4) applies one ue8m0 "
               "per 32 K inside the MFMA. Assumed: gfx942's alignment with 32-product steps",
               MmaStep{32, 2, 24, down, kNoFloor, 24, rne}, 0, true},
};

constexpr NameTable<Align, 3> kAligns{{{{toward_zero, "toward-zero"}, {down, "down"}, {odd, "odd"}}}};

}  // namespace

std::string_view align_name(Align a) { return kAligns.name(a); }
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
  detail::decode_rows(da, ta, a.data(), 0, 1, int64_t(a.size()), scaled);
  detail::decode_rows(db, tb, b.data(), 0, 1, int64_t(b.size()), [](int64_t, int64_t) { return 0; });
  double err = 0;
  const float r = detail::run_step(step, {da.v(0), db.v(0), da.e(0), db.e(0), int(a.size())}, c, bound ? &err : nullptr);
  if (bound) *bound = err;
  return r;
}

}  // namespace ulpgate::gemm
