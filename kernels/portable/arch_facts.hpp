// The semantic facts behind a predicted golden file (golden/<arch> produced by the host emulation
// before the hardware is at hand), one row each, with what settles it. A fact that no source
// settles, or that the emulation knowingly does not reproduce, is an assumption: the predicted
// files name it in their headers, and `ulpgate signoff`
// groups a missed prediction under the cause of the assumptions its family rests on. The GEMM
// accumulator models of the vendor libraries are rows of reference/gemm/model.cpp (`unvalidated`).
#pragma once

#include <span>
#include <string_view>

namespace ulpgate {

struct ArchFact {
  std::string_view arch;
  std::string_view family;  // the op family whose bits it moves; "" for every family
  std::string_view cause;   // what a deviation it explains is grouped under
  std::string_view fact;
  std::string_view source;  // what settles it; "" for an assumption
};

inline constexpr ArchFact kArchFacts[] = {
    {"sm100", "", "warp size", "warp size 32", "CUDA C++ Programming Guide: warpSize is 32 on every NVIDIA GPU"},
    {"sm100", "quant", "conversion mode",
     "fp8 conversion: OCP e4m3fn / e5m2, cvt.rn.satfinite (a finite overflow saturates to +-max, NaN stays NaN)",
     "PTX ISA cvt (sm_89 and later); spec/formats.md"},
    {"sm100", "norm", "rsqrt",
     "rsqrtf (MUFU.RSQ, documented <= 2 ulp) behaves as sm90's: the prediction computes r correctly rounded, so a "
     "row whose result lies within that error of a bf16 rounding boundary may differ (on sm90: "
     "golden/sm90/emulation-differences.csv)",
     ""},
    {"sm100", "", "NaN encoding",
     "the prediction keeps the emulation's NaN payload (x86's default NaN) where fp32 arithmetic on the GPU "
     "returns the canonical NaN 0x7fffffff (PTX ISA): outputs holding a computed NaN may differ in their payload "
     "bits, as on sm90 (golden/sm90/emulation-differences.csv)",
     ""},
    {"sm100", "gemm", "accumulator", "portable GEMM kernel: fp32 fmaf, K ascending, no FTZ",
     "IEEE 754 fmaf; the same source reproduced on an H200 (golden/sm90/gemm.csv)"},
    {"sm100", "allreduce", "summation order", "custom all-reduce: ranks summed in rank order in fp32, rounded once",
     "the kernel source; reproduced on 2 H200s (golden/sm90/allreduce.csv)"},

    {"gfx942", "", "warp size", "wavefront size 64", "AMD Instinct MI300 (CDNA3) ISA reference guide"},
    {"gfx942", "quant", "conversion mode",
     "fp8 conversion: fnuz formats (e4m3fnuz max 240, e5m2fnuz); the saturating conversion clamps a finite value "
     "to +-max first and turns Inf into NaN (the reference's hip_host overflow mode)",
     "spec/formats.md; HIP amd_hip_fp8.h"},
    {"gfx942", "norm", "rsqrt",
     "rsqrtf is HIP's (about 1 ulp, spec/norm.md): the prediction computes r correctly rounded, so a row whose "
     "result lies within that error of a bf16 rounding boundary may differ",
     ""},
    {"gfx942", "", "denormals",
     "fp32 denormals are kept (HIP's default, no -fgpu-flush-denormals-to-zero) in every kernel's arithmetic", ""},
    {"gfx942", "", "NaN encoding",
     "the payload of a NaN that fp32 arithmetic computes is the emulation's (x86 default NaN)", ""},
    {"gfx942", "gemm", "accumulator", "portable GEMM kernel: fp32 fmaf (v_fma_f32), K ascending",
     "IEEE 754 fmaf; the same source as on sm90"},
    {"gfx942", "allreduce", "summation order",
     "custom all-reduce: the same source over HIP IPC sums ranks in rank order in fp32, rounded once", ""},

    {"gfx950", "", "warp size", "wavefront size 64", "AMD Instinct MI350 (CDNA4) ISA reference guide"},
    {"gfx950", "quant", "conversion mode",
     "fp8 conversion: OCP e4m3fn / e5m2 (spec/formats.md: gfx950 uses the OCP formats) with gfx942's saturating "
     "conversion semantics (clamp finite to +-max, Inf to NaN)",
     ""},
    {"gfx950", "norm", "rsqrt",
     "rsqrtf is HIP's (about 1 ulp, spec/norm.md): the prediction computes r correctly rounded, so a row whose "
     "result lies within that error of a bf16 rounding boundary may differ",
     ""},
    {"gfx950", "", "denormals",
     "fp32 denormals are kept (HIP's default, no -fgpu-flush-denormals-to-zero) in every kernel's arithmetic", ""},
    {"gfx950", "", "NaN encoding",
     "the payload of a NaN that fp32 arithmetic computes is the emulation's (x86 default NaN)", ""},
    {"gfx950", "gemm", "accumulator", "portable GEMM kernel: fp32 fmaf (v_fma_f32), K ascending",
     "IEEE 754 fmaf; the same source as on sm90"},
    {"gfx950", "allreduce", "summation order",
     "custom all-reduce: the same source over HIP IPC sums ranks in rank order in fp32, rounded once", ""},
};

inline std::span<const ArchFact> arch_facts() { return kArchFacts; }

}  // namespace ulpgate
