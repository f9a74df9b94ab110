#include "harness/norm/catalog.hpp"

namespace ulpgate::norm {
namespace {

constexpr int64_t kHidden[] = {17, 1025, 5137, 8193, 7168, 16384};

// Edge inputs for the norm itself.
constexpr std::string_view kEdgeInputs[] = {
    "normal_sigma=0.001",               // ms comparable to eps: eps inside the sqrt matters
    "zeros",                            // r = 1/sqrt(eps)
    "outliers_every=256_mag=10000",     // a few values dominate the sum of squares
    "normal_nan=97_inf=131",            // NaN and Inf poison their rows
    "uniform_lo=-8_hi=8_den=64",        // input subnormals
    "near-overflow_max=60000",          // large values: squares near 4e9
};

Case make(Op op, std::string_view profile_name, Format dtype, int64_t m, int64_t h, std::string_view dist) {
  Case c;
  c.spec.op = op;
  c.spec.profile = &profile(profile_name);
  c.spec.dtype = dtype;
  c.spec.m = m;
  c.spec.h = h;
  c.dist = Distribution::parse(dist);
  return c;
}

Case quant_case(std::string_view profile_name, Format fp8, int gs, quant::Layout l, bool ue8m0, int64_t m, int64_t h,
                std::string_view dist, Op op = Op::rms_quant) {
  Case c = make(op, profile_name, Format::bf16, m, h, dist);
  c.spec.format = fp8;
  c.spec.gs = gs;
  c.spec.layout = gs == 0 ? quant::Layout::token : l;
  c.spec.ue8m0 = ue8m0 || quant::is_ue8m0_layout(l);
  return c;
}

void add_norm_cases(std::vector<Case>& out) {
  for (Op op : {Op::rms, Op::rms_add})
    for (std::string_view p : {"vllm", "aiter", "hf"})
      for (Format t : {Format::bf16, Format::fp16})
        for (int64_t h : kHidden) out.push_back(make(op, p, t, h > 8192 ? 2 : 3, h, "normal"));
  for (Op op : {Op::rms, Op::rms_add})
    for (std::string_view p : {"vllm", "aiter"})
      for (std::string_view d : kEdgeInputs) out.push_back(make(op, p, Format::bf16, 3, 1025, d));
}

void add_quant_cases(std::vector<Case>& out) {
  using quant::Layout;
  struct Scales {
    int gs;
    Layout layout;
    bool ue8m0;
  };
  constexpr Scales kScales[] = {{0, Layout::token, false},  {64, Layout::row, false},    {128, Layout::row, false},
                                {128, Layout::col, false},  {128, Layout::col_tma, false}, {128, Layout::row, true},
                                {64, Layout::ue8m0_packed, true}, {128, Layout::ue8m0_packed, true}};
  for (std::string_view p : {"vllm", "vllm-unfused", "aiter"})
    for (const Scales& s : kScales) out.push_back(quant_case(p, Format::e4m3fn, s.gs, s.layout, s.ue8m0, 5, 1024, "normal"));
  for (const Scales& s : kScales) out.push_back(quant_case("aiter", Format::e4m3fnuz, s.gs, s.layout, s.ue8m0, 5, 1024, "normal"));
  // Large and odd hidden sizes, and the edge inputs, with packed ue8m0 and per-token scales.
  for (std::string_view p : {"vllm", "aiter"}) {
    out.push_back(quant_case(p, Format::e4m3fn, 128, Layout::ue8m0_packed, true, 2, 7168, "normal"));
    out.push_back(quant_case(p, Format::e4m3fn, 128, Layout::ue8m0_packed, true, 2, 16384, "normal"));
    out.push_back(quant_case(p, Format::e4m3fn, 0, Layout::token, false, 3, 5137, "normal"));
    for (std::string_view d : kEdgeInputs) out.push_back(quant_case(p, Format::e4m3fn, 128, Layout::ue8m0_packed, true, 3, 1024, d));
  }
  // R18: the fused and unfused scale floors part ways below amax 1/512.
  for (std::string_view p : {"vllm", "vllm-unfused"})
    for (std::string_view d : kDivergentInputs)
      for (const Scales& s : {kScales[0], kScales[2], kScales[7]})
        out.push_back(quant_case(p, Format::e4m3fn, s.gs, s.layout, s.ue8m0, 3, 2048, d));
}

// norm.rms-add-quant (dynamic per token and per group, fp32 and packed ue8m0 scales), vLLM's
// scale_ub (one that caps the amax, one that does not) and static per-tensor scales (a power of
// two, one whose reciprocal rounds, one that clips) with and without the residual.
void add_fused_variants(std::vector<Case>& out) {
  using quant::Layout;
  for (std::string_view p : {"vllm", "vllm-unfused", "aiter"}) {
    out.push_back(quant_case(p, Format::e4m3fn, 0, Layout::token, false, 5, 1024, "normal", Op::rms_add_quant));
    out.push_back(quant_case(p, Format::e4m3fn, 128, Layout::row, false, 5, 1024, "normal", Op::rms_add_quant));
    out.push_back(quant_case(p, Format::e4m3fn, 128, Layout::ue8m0_packed, true, 3, 7168, "normal", Op::rms_add_quant));
  }
  for (std::string_view d : {"zeros", "normal_nan=97_inf=131", "outliers_every=256_mag=10000", "normal_sigma=0.001"})
    out.push_back(quant_case("vllm", Format::e4m3fn, 0, Layout::token, false, 3, 1024, d, Op::rms_add_quant));
  for (Op op : {Op::rms_quant, Op::rms_add_quant})
    for (float ub : {1.5f, 100.0f}) {
      Case c = quant_case("vllm", Format::e4m3fn, 0, Layout::token, false, 5, 1024, "normal", op);
      c.spec.scale_ub = ub;
      out.push_back(c);
    }
  for (Op op : {Op::rms_quant, Op::rms_add_quant})
    for (std::string_view p : {"vllm", "vllm-unfused"})
      for (float s : {0.0078125f, 0.0123f, 0.002f}) {
        Case c = quant_case(p, Format::e4m3fn, 0, Layout::token, false, 5, 1024, "normal", op);
        c.spec.static_scale = s;
        out.push_back(c);
      }
  for (std::string_view d : {"normal_nan=97_inf=131", "zeros"}) {
    Case c = quant_case("vllm", Format::e4m3fn, 0, Layout::token, false, 3, 1024, d, Op::rms_add_quant);
    c.spec.static_scale = 0.0123f;
    out.push_back(c);
  }
}

// Tier full: a DeepSeek-V3 prefill's 32768 tokens x 7168 and 16384 x 16384 in every op, with
// the fused quantization's per-token, packed ue8m0 group and static scales, and a norm over more
// than 2^31 elements (2^18 + 16 rows of 8192).
void add_production_shapes(std::vector<Case>& out) {
  using quant::Layout;
  out.push_back(make(Op::rms, "vllm", Format::bf16, 32768, 7168, "normal"));
  out.push_back(make(Op::rms, "aiter", Format::fp16, 16384, 16384, "normal"));
  out.push_back(make(Op::rms_add, "vllm", Format::bf16, 32768, 7168, "normal"));
  out.push_back(make(Op::rms_add, "hf", Format::bf16, 16384, 16384, "normal"));
  out.push_back(quant_case("vllm", Format::e4m3fn, 0, Layout::token, false, 32768, 7168, "normal"));
  out.push_back(quant_case("vllm", Format::e4m3fn, 128, Layout::ue8m0_packed, true, 32768, 7168, "normal"));
  out.push_back(quant_case("aiter", Format::e4m3fnuz, 128, Layout::row, false, 16384, 16384, "normal"));
  out.push_back(quant_case("vllm", Format::e4m3fn, 128, Layout::ue8m0_packed, true, 32768, 7168, "normal", Op::rms_add_quant));
  Case fixed = quant_case("vllm", Format::e4m3fn, 0, Layout::token, false, 32768, 7168, "normal", Op::rms_add_quant);
  fixed.spec.static_scale = 0.0123f;
  out.push_back(fixed);
  out.push_back(make(Op::rms, "vllm", Format::bf16, (int64_t(1) << 18) + 16, 8192, "normal"));
}

}  // namespace

std::vector<Case> catalog(Tier tier) {
  std::vector<Case> out;
  add_norm_cases(out);
  add_quant_cases(out);
  add_fused_variants(out);
  if (tier == Tier::full) add_production_shapes(out);
  return out;
}

}  // namespace ulpgate::norm
