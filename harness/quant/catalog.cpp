#include "harness/quant/catalog.hpp"

#include <set>

namespace ulpgate::quant {
namespace {

// Mandatory edge inputs (spec/quant.md "Mandatory edge inputs"), as distributions.
constexpr std::string_view kEdgeInputs[] = {
    "normal_sigma=2",                     // typical activations
    "zeros",                              // all-zero groups: the stored floor scale per profile
    "pow2-boundary_scale=448_emin=-4_emax=4",  // amax at 448 * 2^k: scales exactly at powers of two
    "pow2-boundary_scale=1.75_emin=-6_emax=6", // bf16 1.75 * 2^e
    "pow2-boundary_scale=672_emin=-2_emax=2",  // 1.5 * 448
    "uniform_lo=-0.001_hi=0.001",         // amax below 1/512 (fused vs unfused floors)
    "uniform_lo=-5e-05_hi=5e-05",         // amax below 1e-4 (DeepGEMM's floor)
    "uniform_lo=-5e-11_hi=5e-11",         // amax below 1e-10
    "normal_nan=97_inf=131",              // NaN and +-Inf elements
    "outliers_every=256_mag=10000",       // tiny negatives next to huge values: -0 and fnuz 0x80
    "near-overflow_max=448",              // around the fp8 max
    "uniform_lo=-8_hi=8_den=64",          // input subnormals
    "ties_scale=0.25",                    // exact fp8 rounding ties (scale 2^-2 under division)
};

Case make(Op op, const Profile& p, Format f, Format in, int64_t m, int64_t k, int gs, Layout l, bool ue8m0,
          std::string_view dist, uint64_t seed = 1) {
  Case c;
  c.spec = Spec{op, &p, f, gs, l, ue8m0 || is_ue8m0_layout(l), m, k};
  c.spec.ue8m0 = c.spec.pow2_scales();
  c.input = in;
  c.dist = Distribution::parse(dist);
  c.seed = seed;
  return c;
}

void add_group_cases(std::vector<Case>& out) {
  const Layout layouts[] = {Layout::row, Layout::col, Layout::col_tma, Layout::aiter_tview, Layout::ue8m0_packed};
  for (const Profile& p : profiles()) {
    if (p.mx != MxRule::none) continue;
    for (Format f : {Format::e4m3fn, Format::e4m3fnuz}) {
      if (!p.supports(f)) continue;
      // Every layout, fp32 and ue8m0 scales.
      for (Layout l : layouts)
        for (bool ue8m0 : {false, true})
          if (ue8m0 || !is_ue8m0_layout(l)) out.push_back(make(Op::group, p, f, Format::bf16, 31, 640, 128, l, ue8m0, "normal_sigma=2"));
      // Every edge input, fp32 row scales and packed ue8m0 scales.
      for (std::string_view d : kEdgeInputs)
        for (Layout l : {Layout::row, Layout::ue8m0_packed})
          out.push_back(make(Op::group, p, f, Format::bf16, 3, 512, 128, l, false, d));
    }
  }
  // Shapes, group sizes and input dtypes.
  for (std::string_view name : {"vllm", "aiter"})
    for (int64_t m : {0, 1, 3, 31, 127})
      for (int64_t k : {640, 768})
        for (int gs : {32, 64, 128})
          out.push_back(make(Op::group, profile(name), Format::e4m3fn, Format::bf16, m, k, gs,
                             Layout::ue8m0_packed, true, "normal", uint64_t(m + k + gs)));
  for (Format in : {Format::fp16, Format::fp32})
    for (const Profile& p : profiles())
      if (p.mx == MxRule::none)
        out.push_back(make(Op::group, p, Format::e4m3fn, in, 5, 256, 64, Layout::row, false, "normal_sigma=4"));
}

void add_token_and_block_cases(std::vector<Case>& out) {
  for (const Profile& p : profiles()) {
    if (p.mx != MxRule::none) continue;
    for (Format f : {Format::e4m3fn, Format::e4m3fnuz}) {
      if (!p.supports(f)) continue;
      for (std::string_view d : {"normal_sigma=2", "zeros", "normal_nan=97_inf=131"})
        out.push_back(make(Op::token, p, f, Format::bf16, 7, 1000, 1000, Layout::token, false, d));
      for (std::string_view d : {"normal", "outliers_every=1000"})
        for (bool ue8m0 : {false, true})
          out.push_back(make(Op::block, p, f, Format::bf16, 200, 300, 128, Layout::row, ue8m0, d));
    }
  }
}

void add_mx_cases(std::vector<Case>& out) {
  for (std::string_view name : {"ocp-mx", "te"}) {
    for (Layout l : {Layout::mx_row, Layout::mx_swizzle_128x4})
      for (std::string_view d : {"normal_sigma=2", "pow2-boundary_scale=500_emin=-3_emax=3", "zeros",
                                 "normal_nan=97_inf=131", "outliers_every=64"})
        out.push_back(make(Op::mx, profile(name), Format::e4m3fn, Format::bf16, 130, 96, 32, l, true, d));
    // More than one 512-byte swizzle atom along K as well as along M (G = 10: three atom
    // columns, the last one partly padding), as every real hidden size has: the order of the
    // atoms is only seen here.
    out.push_back(make(Op::mx, profile(name), Format::e4m3fn, Format::bf16, 130, 320, 32, Layout::mx_swizzle_128x4,
                       true, "normal_sigma=2"));
  }
}

// quant.tensor: every per-tensor row, format and edge input, dynamic and static; shapes whose
// element count is not a multiple of a vector (the tail) and that span many thread blocks (the
// grid-wide amax), fp16 and fp32 inputs.
void add_tensor_cases(std::vector<Case>& out) {
  const auto tensor = [&](const Profile& p, Format f, Format in, int64_t m, int64_t k, float scale,
                          std::string_view d, uint64_t seed = 1) {
    Case c = make(Op::tensor, p, f, in, m, k, 0, Layout::row, false, d, seed);
    c.spec.static_scale = scale;
    out.push_back(c);
  };
  for (const Profile& p : tensor_profiles())
    for (Format f : {Format::e4m3fn, Format::e4m3fnuz}) {
      if (!p.supports(f) || p.fused_only) continue;
      for (std::string_view d : {"normal_sigma=2", "zeros", "normal_nan=97_inf=131", "outliers_every=256_mag=10000",
                                 "near-overflow_max=448", "uniform_lo=-8_hi=8_den=64", "uniform_lo=-5e-11_hi=5e-11"})
        tensor(p, f, Format::bf16, 31, 640, 0, d);
      // A power of two, a scale whose reciprocal rounds, one that clips, NaN and Inf elements.
      for (float s : {0.015625f, 0.0123f, 0.002f}) tensor(p, f, Format::bf16, 31, 640, s, "normal_sigma=2");
      tensor(p, f, Format::bf16, 31, 640, 0.0123f, "normal_nan=97_inf=131");
    }
  for (const Profile& p : tensor_profiles()) {
    if (p.fused_only) continue;
    for (int64_t m : {0, 1, 3, 127}) tensor(p, Format::e4m3fn, Format::bf16, m, 1001, 0, "normal", uint64_t(m + 1));
    tensor(p, Format::e4m3fn, Format::bf16, 64, 7168, 0, "normal_sigma=3");
    for (Format in : {Format::fp16, Format::fp32}) tensor(p, Format::e4m3fn, in, 5, 250, 0, "normal_sigma=4");
  }
}

// A silu-mul row's scales: the group layouts its kernel writes (row, transposed, TMA-aligned, and
// DeepGEMM's packed ue8m0 where it has a ue8m0 form), or an MX row's byte layouts, with its group.
bool silu_mx(const Profile& p) { return p.mx != MxRule::none; }
std::vector<Layout> silu_layouts(const Profile& p) {
  if (silu_mx(p)) return {Layout::mx_row, Layout::mx_swizzle_128x4};
  if (p.fp32_scales_only) return {Layout::row, Layout::col, Layout::col_tma};
  return {Layout::row, Layout::col, Layout::col_tma, Layout::ue8m0_packed};
}
Layout silu_row_layout(const Profile& p) { return silu_mx(p) ? Layout::mx_row : Layout::row; }
int silu_group(const Profile& p, int gs) { return silu_mx(p) ? 32 : gs; }

// The layout a silu-mul row's DeepSeek-shaped cases take: the last of its layouts (DeepGEMM's
// packed ue8m0, the TMA-aligned fp32 scales of a kernel with no ue8m0 form, the MX swizzle).
Layout silu_packed_layout(const Profile& p) { return silu_layouts(p).back(); }

// quant.silu-mul: every silu-mul row with the scale layouts its kernel writes, the edge inputs
// (exp overflowing and underflowing, NaN/Inf, outliers, zeros), a partial last chunk row count,
// fp16 input.
void add_silu_mul_cases(std::vector<Case>& out) {
  for (const Profile& p : silu_mul_profiles()) {
    const auto silu = [&](Format in, int64_t m, int64_t k, int gs, Layout l, std::string_view d) {
      out.push_back(make(Op::silu_mul, p, Format::e4m3fn, in, m, k, silu_group(p, gs), l, false, d));
    };
    for (Layout l : silu_layouts(p)) silu(Format::bf16, 7, 1024, 128, l, "normal_sigma=2");
    silu(Format::bf16, 5, 512, 64, silu_row_layout(p), "normal_sigma=2");
    for (std::string_view d : {"zeros", "normal_nan=97_inf=131", "outliers_every=256_mag=10000", "near-overflow_max=448",
                               "uniform_lo=-120_hi=120", "uniform_lo=-8_hi=8_den=64"})
      silu(Format::bf16, 3, 512, 128, silu_row_layout(p), d);
    silu(Format::fp16, 5, 256, 128, silu_mx(p) ? Layout::mx_swizzle_128x4 : Layout::col_tma, "normal");
    silu(Format::bf16, 9, 7168, 128, silu_packed_layout(p), "normal");
  }
}

void add_random_shapes(std::vector<Case>& out) {
  const Rng rng("quant.catalog.random-shapes", 1);
  for (uint64_t i = 0; i < 8; ++i) {
    const int gs = 32 << rng.below(3 * i, 3);
    const int64_t m = 1 + int64_t(rng.below(3 * i + 1, 100));
    const int64_t k = gs * (1 + int64_t(rng.below(3 * i + 2, 24)));
    out.push_back(make(Op::group, profile(i % 2 ? "sglang" : "deepgemm"), Format::e4m3fn, Format::bf16, m, k, gs,
                       i % 3 ? Layout::col_tma : Layout::ue8m0_packed, i % 3 == 0, "normal_sigma=3", 100 + i));
  }
}

// Tier full: the shapes the kernels run in production, which only a GPU backend runs in minutes:
// a DeepSeek-V3 prefill's 32768 tokens x 7168 and a 16384 x 16384 tensor in each op and its main
// scale layouts, and two tensors of more than 2^31 elements (a 32-bit index or a float count of
// elements breaks only there): the group kernel's packed ue8m0 scales and the per-tensor kernel's
// grid-wide amax.
void add_production_shapes(std::vector<Case>& out) {
  const auto group = [&](std::string_view p, Format f, int64_t m, int64_t k, Layout l, bool ue8m0) {
    out.push_back(make(Op::group, profile(p), f, Format::bf16, m, k, 128, l, ue8m0, "normal_sigma=2"));
  };
  group("vllm", Format::e4m3fn, 32768, 7168, Layout::row, false);
  group("deepgemm", Format::e4m3fn, 32768, 7168, Layout::ue8m0_packed, true);
  group("sglang", Format::e4m3fn, 16384, 16384, Layout::col_tma, false);
  group("aiter", Format::e4m3fnuz, 16384, 16384, Layout::row, true);
  group("deepgemm", Format::e4m3fn, 65536, 32896, Layout::ue8m0_packed, true);  // 2^31 + 2^23 elements
  out.push_back(make(Op::token, profile("vllm"), Format::e4m3fn, Format::bf16, 32768, 7168, 7168, Layout::token, false,
                     "normal_sigma=2"));
  out.push_back(make(Op::block, profile("deepgemm"), Format::e4m3fn, Format::bf16, 16384, 16384, 128, Layout::row, true,
                     "normal"));
  out.push_back(make(Op::mx, profile("te"), Format::e4m3fn, Format::bf16, 32768, 7168, 32, Layout::mx_swizzle_128x4,
                     true, "normal_sigma=2"));
  const auto tensor = [&](std::string_view p, Format f, int64_t m, int64_t k, float scale) {
    Case c = make(Op::tensor, tensor_profile(p), f, Format::bf16, m, k, 0, Layout::row, false, "normal_sigma=2");
    c.spec.static_scale = scale;
    out.push_back(c);
  };
  tensor("vllm", Format::e4m3fn, 32768, 7168, 0);
  tensor("te", Format::e4m3fn, 16384, 16384, 0.0123f);
  tensor("sglang", Format::e4m3fn, 65536, 32800, 0);  // 2^31 + 2^21 elements, one amax
  for (const Profile& p : silu_mul_profiles())
    out.push_back(make(Op::silu_mul, p, Format::e4m3fn, Format::bf16, 32768, 7168, silu_group(p, 128),
                       silu_packed_layout(p), false, "normal_sigma=2"));
}

}  // namespace

std::vector<Case> catalog(Tier tier) {
  std::vector<Case> out;
  add_group_cases(out);
  add_token_and_block_cases(out);
  add_mx_cases(out);
  add_tensor_cases(out);
  add_silu_mul_cases(out);
  add_random_shapes(out);
  if (tier == Tier::full) add_production_shapes(out);
  return out;
}

}  // namespace ulpgate::quant
