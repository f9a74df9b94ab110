#include "harness/moe/catalog.hpp"

namespace ulpgate::moe {

std::vector<Case> catalog(Tier tier) {
  std::vector<std::string> ids = {
      "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1",
      "moe.gemm/deepgemm/e4m3fn.e4m3fn/fp32/contiguous.a64/8x300x256x512/normal/s2",
      "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/masked/8x300x256x512/normal/s1",
      "moe.gemm/deepgemm/e4m3fn.e4m3fn.ue8m0/bf16/contiguous/8x300x256x512/normal/s1",
      "moe.gemm/deepgemm/e4m3fn.e4m3fn.ue8m0/fp32/masked.a32/16x200x128x320/normal/s3",  // partial last K-block
      "moe.gemm/cutlass-blockwise/e4m3fn.e5m2/bf16/contiguous.a16/16x200x128x384/normal/s1",
      "moe.gemm/aiter/e4m3fnuz.e4m3fnuz/bf16/contiguous.a32/8x150x256x256/normal/s1",
      "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/8x0x128x256/normal/s1",  // no tokens: D untouched
      "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/1x70x128x256/normal/s1",  // one expert: the dense GEMM
      "moe.gemm/deepgemm/e4m3fn.e4m3fn/fp32/contiguous.a32/8x160x128x512/zero-blocks/s1",
      "moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/masked.a32/8x160x128x512/scale-edges/s1",
      // MXFP8 experts (ue8m0 per 32 K; A's scales swizzled over its 128-aligned runs, B's per expert)
      "moe.gemm-mx/ocp-mx/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1",
      "moe.gemm-mx/ocp-mx/e5m2.e4m3fn/fp32/masked/8x300x256x512/normal/s2",
      "moe.gemm-mx/cublaslt/e4m3fn.e4m3fn/bf16/contiguous/16x200x128x256/normal/s1",
      "moe.gemm-mx/ocp-mx/e4m3fn.e4m3fn/bf16/contiguous/8x160x128x256/scale-edges/s1",
  };
  if (tier == Tier::full)
    for (const std::string_view nk : {"4096x7168", "7168x2048"})
      for (const std::string_view layout : {"contiguous", "masked"})
        ids.push_back("moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/" + std::string(layout) + "/256x256x" + std::string(nk) +
                      "/normal/s1");
  if (tier == Tier::full) {
    ids.push_back("moe.gemm-mx/ocp-mx/e4m3fn.e4m3fn/bf16/contiguous/256x256x4096x7168/normal/s1");
    // Qwen3-235B-A22B's: 128 experts, gate/up 3072 x 4096 and down 4096 x 1536, the same batch.
    ids.push_back("moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/128x256x3072x4096/normal/s1");
    ids.push_back("moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/masked/128x256x4096x1536/normal/s1");
  }
  std::vector<Case> cases;
  for (const std::string& id : ids) cases.push_back(Case::parse(id));
  return cases;
}

std::vector<QuantCase> quant_catalog(Tier tier) {
  std::vector<std::string> ids = {
      "moe.quant/deepgemm/e4m3fn/bf16/contiguous/8x300x512/gs128/col-tma/normal/s1",
      "moe.quant/deepgemm/e4m3fn/bf16/masked/8x300x512/gs128/col-tma/normal/s1",
      "moe.quant/deepgemm/e4m3fn/bf16/contiguous.a64/8x300x512/gs128/ue8m0-packed/normal/s2",
      "moe.quant/sglang/e4m3fn/bf16/masked.a32/16x200x384/gs128/ue8m0-packed/normal/s3",  // a packed word's padding
      "moe.quant/vllm/e4m3fn/fp16/contiguous.a16/16x200x256/gs128/row/normal/s1",
      "moe.quant/aiter/e4m3fnuz/bf16/contiguous.a32/8x150x256/gs128/col/normal/s1",
      "moe.quant/vllm/e4m3fn/bf16/masked.a16/8x150x256/gs64/col-tma.ue8m0/normal/s1",
      "moe.quant/deepgemm/e4m3fn/bf16/contiguous/8x0x256/gs128/col-tma/normal/s1",  // no tokens: nothing written
      "moe.quant/deepgemm/e4m3fn/fp32/contiguous.a32/8x160x512/gs128/col-tma/normal_nan=97_inf=131/s1",
      "moe.quant/deepgemm/e4m3fn/bf16/masked.a32/8x160x512/gs128/col-tma/uniform_lo=-5e-05_hi=5e-05/s1",
      "moe.quant-mx/ocp-mx/e4m3fn/bf16/contiguous/8x300x512/gs32/mx-swizzle-128x4/normal/s1",
      "moe.quant-mx/ocp-mx/e4m3fn/bf16/masked/8x300x256/gs32/mx-swizzle-128x4/normal/s2",
      "moe.quant-mx/te/e5m2/fp32/contiguous/16x200x160/gs32/mx-swizzle-128x4/normal/s1",  // K-blocks padded to 4
  };
  // DeepSeek-V3's MoE layer on the GPU: the gate/up input (K 7168) and the down input (K 2048).
  if (tier == Tier::full)
    for (const std::string_view k : {"7168", "2048"}) {
      for (const std::string_view layout : {"contiguous", "masked"})
        ids.push_back("moe.quant/deepgemm/e4m3fn/bf16/" + std::string(layout) + "/256x256x" + std::string(k) +
                      "/gs128/col-tma/normal/s1");
      ids.push_back("moe.quant-mx/ocp-mx/e4m3fn/bf16/contiguous/256x256x" + std::string(k) + "/gs32/mx-swizzle-128x4/normal/s1");
    }
  // Qwen3-235B-A22B's layer: 128 experts, the gate/up input (K 4096) and the down input (K 1536).
  if (tier == Tier::full)
    for (const std::string_view id : {"contiguous/128x256x4096", "masked/128x256x1536"})
      ids.push_back("moe.quant/deepgemm/e4m3fn/bf16/" + std::string(id) + "/gs128/col-tma/normal/s1");
  std::vector<QuantCase> cases;
  for (const std::string& id : ids) cases.push_back(QuantCase::parse(id));
  return cases;
}

}  // namespace ulpgate::moe
