#include "harness/gemm/catalog.hpp"

namespace ulpgate::gemm {
namespace {

constexpr auto e4m3 = Format::e4m3fn, e5m2 = Format::e5m2, e4m3fnuz = Format::e4m3fnuz;

// Edge inputs (spec/gemm.md): max-magnitude codes (all +-max: the largest products and sums),
// fp8 subnormals (values down to 2^-24 of a block's amax quantize to subnormal codes and zeros),
// exact cancellation (D = 0), all-zero scale blocks (floored scales, zero block sums), all zeros,
// and NaN / Inf codes (model.hpp: their outputs are the IEEE evaluation of D).
constexpr std::string_view kEdgeInputs[] = {
    "near-overflow_spread=0", "pow2-boundary_emin=-24_emax=0", "cancel", "zero-blocks", "zeros", "normal_nan=997_inf=1009",
};

struct Shape {
  int64_t m, n, k;
};

Case make(Op op, std::string_view profile_name, Format a, Format b, bool ue8m0, Format out, Shape sh,
          std::string_view input = "normal", uint64_t seed = 1) {
  Case c;
  c.spec.op = op;
  c.spec.profile = &profile(profile_name);
  c.spec.a_format = a, c.spec.b_format = b, c.spec.out = out, c.spec.ue8m0 = ue8m0;
  c.spec.m = sh.m, c.spec.n = sh.n, c.spec.k = sh.k;
  c.input = Input::parse(input);
  c.seed = seed;
  return c;
}

// Every profile x op x format pair it takes (and ue8m0 block scales where it has them), fp32 out,
// plus bf16 for its first pair: every scale and weight layout at an odd M, a partial N block
// and a partial K block (672 = 5 x 128 + 32).
void add_profiles(std::vector<Case>& out) {
  constexpr Shape kShape{19, 160, 672};
  for (const Profile& p : profiles())
    for (Op op : {Op::tensor, Op::rowwise, Op::block, Op::mx}) {
      if (!p.supports(op)) continue;
      for (bool ue8m0 : {false, true}) {
        if (ue8m0 && (op != Op::block || !p.takes_ue8m0)) continue;
        for (const FormatPair& pair : p.pairs) out.push_back(make(op, p.name, pair.a, pair.b, ue8m0, Format::fp32, kShape));
        out.push_back(make(op, p.name, p.pairs[0].a, p.pairs[0].b, ue8m0, Format::bf16, kShape));
      }
    }
}

// DeepSeek-V3 shapes (DeepGEMM's 128-blocks): decode batches (M = 1, 7) in CI; prefill-sized M
// on a GPU (M = 16384 where N K is at most 2^24: 1.2e8 outputs), and at M = 128 every other
// block-scaled kernel of the layer: cuBLASLt's fp32 and DeepGEMM's ue8m0 block scales, MX.
void add_deepseek(std::vector<Case>& out, Tier tier) {
  for (auto [n, k] : kDeepSeekNK)
    for (int64_t m : {1, 7, 128, 4096, 16384}) {
      const bool ci = m == 1 || (m == 7 && k <= 7168 && n <= 7168);
      const bool full = m != 16384 || n * k <= (int64_t(1) << 24);
      if (ci || (tier == Tier::full && full)) out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, false, Format::bf16, {m, n, k}));
    }
  if (tier == Tier::full)
    for (auto [n, k] : kDeepSeekNK) {
      out.push_back(make(Op::block, "cublaslt", e4m3, e4m3, false, Format::bf16, {128, n, k}));
      out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, true, Format::bf16, {128, n, k}));
      out.push_back(make(Op::mx, "ocp-mx", e4m3, e4m3, false, Format::bf16, {128, n, k}));
    }
}

// Llama-3-70B served in FP8 (GPU only): per-tensor scales (cuBLASLt, as vLLM and TensorRT-LLM
// ship it) at every M, per-row (FBGEMM-style) at prefill M, and 128-blocks with ue8m0 scales and
// MX at M = 4096; M = 16384 on the square output projection.
void add_llama(std::vector<Case>& out, Tier tier) {
  if (tier != Tier::full) return;
  for (auto [n, k] : kLlama70bNK) {
    for (int64_t m : {1, 128, 4096}) out.push_back(make(Op::tensor, "cublaslt", e4m3, e4m3, false, Format::bf16, {m, n, k}));
    out.push_back(make(Op::rowwise, "cublaslt", e4m3, e4m3, false, Format::bf16, {4096, n, k}));
  }
  out.push_back(make(Op::tensor, "cublaslt", e4m3, e4m3, false, Format::bf16, {16384, 8192, 8192}));
  out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, true, Format::bf16, {4096, 8192, 28672}));
  out.push_back(make(Op::mx, "ocp-mx", e4m3, e4m3, false, Format::bf16, {4096, 10240, 8192}));
}

// Odd M, M = 0, K = 0, and K up to 16384.
void add_shapes(std::vector<Case>& out) {
  for (int64_t m : {0, 1, 3, 127, 129})
    out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, false, Format::bf16, {m, 256, 512}, "normal", uint64_t(m + 1)));
  out.push_back(make(Op::tensor, "cublaslt", e4m3, e5m2, false, Format::fp32, {0, 64, 256}));
  out.push_back(make(Op::block, "cublaslt", e4m3, e4m3, false, Format::fp32, {4, 64, 0}));
  for (Op op : {Op::tensor, Op::rowwise, Op::block})
    out.push_back(make(op, "cublaslt", e4m3, e4m3, false, Format::fp32, {4, 128, 16384}));
  out.push_back(make(Op::mx, "ocp-mx", e4m3, e4m3, false, Format::fp32, {4, 128, 16384}));
}

void add_edges(std::vector<Case>& out) {
  constexpr Shape kShape{16, 128, 512};
  // Scales at the edges of their encodings: fp32 and ue8m0 block scales, MX scales inside the step.
  out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, false, Format::fp32, kShape, "scale-edges"));
  out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, true, Format::fp32, kShape, "scale-edges"));
  out.push_back(make(Op::block, "cublaslt", e4m3, e4m3, false, Format::fp32, kShape, "scale-edges"));
  out.push_back(make(Op::mx, "ocp-mx", e4m3, e4m3, false, Format::fp32, kShape, "scale-edges"));
  for (std::string_view d : kEdgeInputs) {
    out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, false, Format::bf16, kShape, d));
    out.push_back(make(Op::block, "deepgemm", e4m3, e4m3, true, Format::fp32, kShape, d));
    out.push_back(make(Op::tensor, "cublaslt", e4m3, e5m2, false, Format::fp32, kShape, d));
    out.push_back(make(Op::rowwise, "aiter", e4m3fnuz, e4m3fnuz, false, Format::bf16, kShape, d));
    out.push_back(make(Op::block, "aiter-bpreshuffle", e4m3fnuz, e4m3fnuz, false, Format::fp32, kShape, d));
    out.push_back(make(Op::mx, "ocp-mx", e4m3, e5m2, false, Format::fp32, kShape, d));
  }
}

}  // namespace

std::vector<Case> catalog(Tier tier) {
  std::vector<Case> out;
  add_profiles(out);
  add_shapes(out);
  add_edges(out);
  add_deepseek(out, tier);
  add_llama(out, tier);
  return out;
}

}  // namespace ulpgate::gemm
