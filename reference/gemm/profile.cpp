#include "reference/gemm/profile.hpp"

#include <array>

#include "reference/formats/name_table.hpp"

namespace ulpgate::gemm {
namespace {

using enum ScaleRule;
using quant::Layout;
constexpr auto e4m3 = Format::e4m3fn, e5m2 = Format::e5m2, e4m3fnuz = Format::e4m3fnuz;

constexpr NameTable<Op, 4> kOps{{{{Op::tensor, "gemm.tensor"},
                                  {Op::rowwise, "gemm.rowwise"},
                                  {Op::block, "gemm.block"},
                                  {Op::mx, "gemm.mx"}}}};
constexpr NameTable<ScaleRule, 3> kRules{
    {{{product_first, "product-first"}, {a_first, "a-first"}, {b_first, "b-first"}}}};

constexpr uint8_t ops(std::initializer_list<Op> list) {
  uint8_t bits = 0;
  for (Op op : list) bits |= uint8_t(1u << int(op));
  return bits;
}

// cuBLASLt FP8: at least one operand E4M3 (no E5M2 x E5M2).
constexpr std::array kCublasPairs{FormatPair{e4m3, e4m3}, FormatPair{e4m3, e5m2}, FormatPair{e5m2, e4m3}};
constexpr std::array kOcpPairs{FormatPair{e4m3, e4m3}, FormatPair{e4m3, e5m2}, FormatPair{e5m2, e4m3},
                               FormatPair{e5m2, e5m2}};
constexpr std::array kE4m3Only{FormatPair{e4m3, e4m3}};
// AMD: gfx942 (MI300) runs the fnuz formats, gfx950 the OCP ones (spec/formats.md).
constexpr std::array kAmdPairs{FormatPair{e4m3fnuz, e4m3fnuz}, FormatPair{e4m3, e4m3}};

constexpr ScaleLayouts kMxSwizzle{Layout::mx_swizzle_128x4, Layout::mx_swizzle_128x4};
constexpr ScaleLayouts kRowRow{Layout::row, Layout::row};
constexpr ScaleLayouts kColRow{Layout::col, Layout::row};

// One row per library. Scale layouts follow spec/gemm.md "Scale and weight layouts"; rules and
// promotion follow "Hardware accumulation" (measured on an H200 for cuBLASLt) or the source named.
// name, ops, format pairs, promote K, tensor / rowwise / block rule, block scale layouts,
// takes ue8m0, ue8m0 layouts, MX layouts, weights
constexpr std::array kProfiles = {
    // cuBLASLt (PyTorch _scaled_mm), default FP8 mode: chains of 4 MMA steps (128 K) added into
    // fp32; block scaling main = fma(G, fl(sa sb), main); rowwise RN(sa RN(sb acc)) (both
    // measured). The tensor epilogue is not measured yet: product-first is the default, b-first
    // the alternative a hardware run decides between. Block scales (CUDA >= 12.9,
    // VEC128_32F / BLK128x128_32F): A (M, K/128) and B (K/128, N/128), both column-major, i.e.
    // `col` over [M, K/128] and `row` over [N/128, K/128]. MXFP8 (sm100): mx-swizzle-128x4.
    Profile{"cublaslt", ops({Op::tensor, Op::rowwise, Op::block, Op::mx}), kCublasPairs, 128,
            product_first, b_first, product_first, kColRow, false, kColRow, kMxSwizzle, WeightLayout::row},
    // CUBLASLT_MATMUL_DESC_FAST_ACCUM: one MMA chain over all of K (measured bit-exactly).
    Profile{"cublaslt-fast-accum", ops({Op::tensor, Op::rowwise}), kCublasPairs, 0, product_first,
            b_first, product_first, kColRow, false, kColRow, kMxSwizzle, WeightLayout::row},
    // DeepGEMM sm90 fp8_gemm.cuh: 4 WGMMA with scale-d = 0 at each 128-block start, then
    // `final_accum += scale_a * scale_b * accum` with the product formed first (one FFMA). A
    // scales fp32 per 1x128, M-major, M padded to 4 (`col-tma`); B scales fp32 (N/128, K/128).
    // sm100: ue8m0 scales, four packed per int32 (`ue8m0-packed`).
    Profile{"deepgemm", ops({Op::block}), kE4m3Only, 128, product_first, product_first,
            product_first, {Layout::col_tma, Layout::row}, true,
            {Layout::ue8m0_packed, Layout::ue8m0_packed}, kMxSwizzle, WeightLayout::row},
    // CUTLASS sm90 blockwise, include/cutlass/gemm/collective/fp8_accumulation.hpp (03a62b4):
    // `accum_(i) += accum_temp_(i) * scaleA(i) * scaleB(i)`: fl(G sa), then an FFMA with sb.
    // Scale layouts as vLLM instantiates it: Sm90BlockwiseScaleConfig<1, 128, 128,
    // GMMA::Major::MN, GMMA::Major::K>, i.e. A M-major (`col`), B K-major (`row`).
    Profile{"cutlass-blockwise", ops({Op::block}), kOcpPairs, 128, product_first, product_first,
            a_first, kColRow, false, kColRow, kMxSwizzle, WeightLayout::row},
    // AITER CK kernels. gemm_a8w8_blockscale: composable_kernel
    // blockwise_gemm_pipeline_xdlops_v2_ab_scale.hpp (016fd77): a fresh per-scale-block
    // accumulator, then `c += c_per_scale * a_scale * b_scale` (fl(G sa), FMA with sb: hipcc
    // contracts). x_scale (M, K/128), w_scale (N/128, K/128), fp32 row-major. gemm_a8w8
    // (rowwise): CK's MultiplyMultiply epilogue `c * d0 * d1` with d0 the per-row x_scale.
    // AMD fp32 MFMA accumulators: no promotion.
    Profile{"aiter", ops({Op::rowwise, Op::block}), kAmdPairs, 0, product_first, a_first, a_first,
            kRowRow, false, kRowRow, kMxSwizzle, WeightLayout::row},
    // AITER bpreshuffle block-scale GEMM (sglang's AMD block-scaled linear layers): weights
    // pre-shuffled in 16x32 tiles, x_scale transposed (physically [K/128][M], `aiter-tview`).
    Profile{"aiter-bpreshuffle", ops({Op::block}), kAmdPairs, 0, product_first, a_first, a_first,
            {Layout::aiter_tview, Layout::row}, false, kRowRow, kMxSwizzle, WeightLayout::bpreshuffle},
    // AITER Triton gemm_a8w8_blockscale (aiter/ops/triton/_triton_kernels/gemm_a8w8_blockscale.py,
    // 0d9067e): `accumulator += tl.dot(a, b) * a_scale[:, None] * b_scale[None, :]`, one fresh
    // dot per 128-K block; Triton's default fp fusion makes the add an FMA: fl(G sa), FMA with sb.
    Profile{"aiter-triton", ops({Op::block}), kAmdPairs, 0, product_first, a_first, a_first, kRowRow,
            false, kRowRow, kMxSwizzle, WeightLayout::row},
    // OCP MX: ue8m0 per 32 K applied inside the MMA (sm100 tcgen05 block_scale, gfx950 scaled
    // MFMA); a kernel that leaves the MMA per 32 K combines with one FMA. mx-swizzle-128x4.
    Profile{"ocp-mx", ops({Op::mx}), kOcpPairs, 0, product_first, product_first, product_first,
            kRowRow, false, kRowRow, kMxSwizzle, WeightLayout::row},
};

}  // namespace

std::string_view op_name(Op op) { return kOps.name(op); }
Op parse_op(std::string_view name) { return kOps.parse(name, "gemm op"); }
std::string op_names() { return kOps.choices(); }
std::string_view scale_rule_name(ScaleRule r) { return kRules.name(r); }

bool Profile::takes(Format a, Format b) const {
  for (FormatPair p : pairs)
    if (p.a == a && p.b == b) return true;
  return false;
}

std::string Profile::ops_text() const {
  std::string s;
  for (auto& [op, name] : kOps.rows)
    if (supports(op)) s += (s.empty() ? "" : ", ") + std::string(name);
  return s;
}

std::string Profile::pairs_text() const {
  std::string s;
  for (FormatPair p : pairs)
    s += (s.empty() ? "" : ", ") + std::string(format_name(p.a)) + " x " + std::string(format_name(p.b));
  return s;
}

std::span<const Profile> profiles() { return kProfiles; }
std::string profile_names() { return row_names(profiles()); }
const Profile& profile(std::string_view name) { return row_named(profiles(), name, "gemm profile"); }

}  // namespace ulpgate::gemm
