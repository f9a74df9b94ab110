// The vendor GEMM under test on NVIDIA GPUs: cuBLASLt's FP8 matmul (cublaslt.cu). Plain C++
// declarations, so the harness links it without a GPU compiler.
//
// What it runs, per profile row of reference/gemm: `cublaslt` (default FP8 mode: promotion every
// 128 K) and `cublaslt-fast-accum` (CUBLASLT_MATMUL_DESC_FAST_ACCUM); gemm.tensor (scalar scales),
// gemm.rowwise (OUTER_VEC_32F), gemm.block (A VEC128_32F, B BLK128x128_32F: CUDA >= 12.9);
// e4m3 x e4m3 and e4m3 x e5m2 (either side); bf16 or fp32 out.
#pragma once

#include <stdexcept>
#include <string>

#include "kernels/quant/quant_bench.hpp"
#include "reference/gemm/gemm.hpp"

namespace ulpgate::gemm_kernels {

// A runtime or cuBLASLt failure (names the call and its status).
struct VendorError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What cuBLASLt ran for one case: the accumulator model its mode follows on sm90 (spec/gemm.md:
// "sm90" for promotion every 128 K, "sm90-fast-accum"), whether its heuristic chose a split-K
// kernel (the fp32 partial-sum order is then unknown: the case is judged by the budget tier
// only), and the algorithm it chose, as text for the report.
struct CublasLtRun {
  std::string model;
  bool split_k = false;
  std::string algorithm;  // "cuBLASLt 130000 algo 66 tile 20 stages 23 split-k 1 ..."
};

// Empty when cuBLASLt can run the spec on an sm90 device, else why not (the profile, op, format
// pair or output it does not take, or K not a multiple of 16: the FP8 leading dimensions must be
// 16-byte multiples).
std::string cublaslt_problem(const gemm::Spec& spec);

// D = the spec's GEMM through cublasLtMatmul on the current device, operands in the profile's
// physical layouts (io), D written row-major into io.d. The output buffer is guarded on the
// device (guard::OutOfBounds after D is copied out). Throws VendorError.
CublasLtRun run_cublaslt(const gemm::Spec& spec, const gemm::Buffers& io);

// cublasLtMatmul alone on device operands of the spec's shape (launches only, event-timed:
// warm-up, then the median of `reps`), with the algorithm the heuristic chose. For `ulpgate bench`.
struct CublasLtTiming {
  quant_kernels::Timing timing;
  CublasLtRun run;
};
CublasLtTiming time_cublaslt(const gemm::Spec& spec, int reps);

}  // namespace ulpgate::gemm_kernels
