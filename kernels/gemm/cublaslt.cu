// cuBLASLt FP8 matmul as a kernel under test (cublaslt.hpp). Host code only; nvcc builds it so that
// it shares the guarded device buffers of kernels/portable/gpu.hpp.
//
// Orientation: cuBLASLt is column-major and FP8 needs the "TN" form (A transposed, lda = ldb = K).
// - Tensor and rowwise scaling run as PyTorch's _scaled_mm calls it, where spec/gemm.md's epilogue
//   orders were measured: cuBLASLt's A is our B, its B our A, so its D (n x m column-major, ldd =
//   N) is our row-major D. Its A scale is our sb: the epilogue applies it first (rowwise
//   RN(sa RN(sb acc)), the `cublaslt` row's b_first; measured on the H200 too, where our A as its
//   A gave sb last and 173 of 512 outputs of 4x128x16384 one ulp off).
// - Block scaling runs as NVIDIA's LtBlk128x128Fp8Matmul sample: cuBLASLt's A is our A with
//   VEC128_32F scales ((M, K/128) column-major), its B our B with BLK128x128_32F ((K/128, N/128)
//   column-major); its D is m x n column-major (ldd = M), transposed back on the host.
#include <cublasLt.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm/cublaslt.hpp"
#include "kernels/gemm/cublaslt_objects.hpp"
#include "kernels/portable/gpu.hpp"
#include "kernels/portable/gpu_bench.cuh"

namespace ulpgate::gemm_kernels {
namespace {

#define ULPGATE_CUBLAS_CHECK(call)                                                                    \
  do {                                                                                                \
    const cublasStatus_t ulpgate_status_ = (call);                                                    \
    if (ulpgate_status_ != CUBLAS_STATUS_SUCCESS)                                                     \
      throw VendorError(std::string(#call) + " failed: " + cublasLtGetStatusString(ulpgate_status_)); \
  } while (0)

constexpr size_t kWorkspaceBytes = 32u << 20;

cublasLtHandle_t handle() {
  static cublasLtHandle_t h = [] {
    cublasLtHandle_t created = nullptr;
    ULPGATE_CUBLAS_CHECK(cublasLtCreate(&created));
    return created;
  }();
  return h;
}

cudaDataType_t data_type(Format f) {
  switch (f) {
    case Format::e4m3fn: return CUDA_R_8F_E4M3;
    case Format::e5m2: return CUDA_R_8F_E5M2;
    case Format::bf16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

// The scale modes of cuBLASLt's A and B for an op (tensor: the default scalar mode).
std::pair<int32_t, int32_t> scale_modes(gemm::Op op) {
  switch (op) {
    case gemm::Op::rowwise: return {CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F, CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F};
    case gemm::Op::block: return {CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F, CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F};
    default: return {CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F, CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F};
  }
}

bool fast_accum(const gemm::Spec& spec) { return spec.profile->promote_k == 0; }

size_t out_bytes(const gemm::Spec& spec) { return spec.out == Format::bf16 ? 2 : 4; }

// Whether cuBLASLt's A is our B (the orientation note at the top): D is then our row-major D.
bool swapped(const gemm::Spec& spec) { return spec.op != gemm::Op::block; }

// The sm90 model (spec/gemm.md) the mode follows.
const char* model_name(const gemm::Spec& spec) { return fast_accum(spec) ? "sm90-fast-accum" : "sm90"; }

template <class T>
void set(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const T& value) {
  ULPGATE_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &value, sizeof value));
}

template <class T>
T config(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoConfigAttributes_t attr) {
  T value{};
  size_t written = 0;
  ULPGATE_CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, attr, &value, sizeof value, &written));
  return value;
}

std::string algorithm_text(const cublasLtMatmulAlgo_t& algo) {
  return "cuBLASLt " + std::to_string(cublasLtGetVersion()) +
         " algo " + std::to_string(config<int32_t>(algo, CUBLASLT_ALGO_CONFIG_ID)) +
         " tile " + std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_TILE_ID)) +
         " stages " + std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_STAGES_ID)) +
         " split-k " + std::to_string(config<int32_t>(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM)) +
         " reduction " + std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME)) +
         " swizzle " + std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING)) +
         " custom " + std::to_string(config<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION)) +
         " cluster " + std::to_string(config<uint16_t>(algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID));
}

// D^T (cuBLASLt's column-major m x n) back into row-major [M, N] elements of `bytes` each.
void transpose_into(std::span<std::byte> d, const std::vector<std::byte>& dt, int64_t m, int64_t n, size_t bytes) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i)
      std::memcpy(&d[size_t(i * n + j) * bytes], &dt[size_t(j * m + i) * bytes], bytes);
}

}  // namespace

std::string cublaslt_problem(const gemm::Spec& spec) {
  if (const std::string p = spec.problem(); !p.empty()) return p;
  const std::string_view name = spec.profile->name;
  if (name != "cublaslt" && name != "cublaslt-fast-accum") return "cuBLASLt runs the cublaslt profiles, not " + std::string(name);
  if (spec.op == gemm::Op::mx) return "cuBLASLt's MXFP8 (VEC32_UE8M0) needs sm100; this backend runs sm90";
  if (spec.ue8m0) return "cuBLASLt's sm90 block scaling takes fp32 scales, not ue8m0";
  if (spec.k == 0) return "cuBLASLt rejects K = 0 (its heuristic: an unsupported value, measured on the H200)";
  if (spec.k % 16 != 0) return "cuBLASLt FP8 needs K a multiple of 16 (16-byte leading dimensions), got K = " + std::to_string(spec.k);
  const int64_t ld = swapped(spec) ? spec.n : spec.m;
  if (ld * int64_t(out_bytes(spec)) % 16 != 0)
    return std::string("cuBLASLt FP8 needs D's leading dimension a multiple of 16 bytes, got ") +
           (swapped(spec) ? "N = " : "M = ") + std::to_string(ld) + " outputs of " + std::to_string(out_bytes(spec)) +
           " bytes (measured on the H200: no algorithm)";
  return "";
}

namespace {

// One configured cublasLtMatmul: descriptors, the heuristic's algorithm and a workspace, for
// operands and D already on the device (our A, B, sa, sb; swapped() says which is cuBLASLt's A).
class Matmul {
 public:
  Matmul(const gemm::Spec& spec, const void* sa, const void* sb) : spec_(spec), workspace_(kWorkspaceBytes) {
    const bool swap = swapped(spec);
    const int64_t rows = swap ? spec.n : spec.m, cols = swap ? spec.m : spec.n;  // cuBLASLt's m and n
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op_.h, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    set(op_.h, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
    set(op_.h, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
    const auto [a_mode, b_mode] = scale_modes(spec.op);
    set(op_.h, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, a_mode);
    set(op_.h, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, b_mode);
    set(op_.h, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, swap ? sb : sa);
    set(op_.h, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, swap ? sa : sb);
    set(op_.h, CUBLASLT_MATMUL_DESC_FAST_ACCUM, int8_t(fast_accum(spec)));
    const Format a_format = swap ? spec.b_format : spec.a_format, b_format = swap ? spec.a_format : spec.b_format;
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a_.h, data_type(a_format), spec.k, rows, spec.k));
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b_.h, data_type(b_format), spec.k, cols, spec.k));
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d_.h, data_type(spec.out), rows, cols, rows));
    PreferenceDesc pref;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref.h));
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                              &kWorkspaceBytes, sizeof kWorkspaceBytes));
    cublasLtMatmulHeuristicResult_t chosen{};
    int found = 0;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle(), op_.h, a_.h, b_.h, d_.h, d_.h, pref.h, 1, &chosen, &found));
    if (found == 0) throw VendorError("cuBLASLt has no algorithm for this problem");
    algo_ = chosen.algo;
  }

  // Our A and B.
  void run(const void* a, const void* b, void* d) {
    const float alpha = 1.0f, beta = 0.0f;
    const bool swap = swapped(spec_);
    ULPGATE_CUBLAS_CHECK(cublasLtMatmul(handle(), op_.h, &alpha, swap ? b : a, a_.h, swap ? a : b, b_.h, &beta, d, d_.h,
                                        d, d_.h, &algo_, workspace_.get(), kWorkspaceBytes, nullptr));
  }

  CublasLtRun described() const {
    return {model_name(spec_),
            config<int32_t>(algo_, CUBLASLT_ALGO_CONFIG_SPLITK_NUM) > 1 ||
                config<uint32_t>(algo_, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME) != CUBLASLT_REDUCTION_SCHEME_NONE,
            algorithm_text(algo_)};
  }

 private:
  const gemm::Spec& spec_;
  MatmulDesc op_;
  LayoutDesc a_, b_, d_;
  cublasLtMatmulAlgo_t algo_{};
  gpu::DeviceBytes workspace_;
};


void check_problem(const gemm::Spec& spec) {
  if (const std::string p = cublaslt_problem(spec); !p.empty()) throw VendorError(p);
}

}  // namespace

CublasLtRun run_cublaslt(const gemm::Spec& spec, const gemm::Buffers& io) {
  check_problem(spec);
  if (io.d.size() != size_t(spec.m * spec.n) * out_bytes(spec)) throw VendorError("the output buffer does not hold [M, N]");
  if (spec.m == 0 || spec.n == 0) return {model_name(spec), false, "nothing to run (empty D)"};
  try {
    gpu::DeviceBytes a(io.a.size()), b(io.b.size()), sa(io.sa.size()), sb(io.sb.size());
    a.upload(io.a.data()), b.upload(io.b.data()), sa.upload(io.sa.data()), sb.upload(io.sb.data());
    const auto d = gpu::DeviceBytes::output("d", io.d.size());
    Matmul mm(spec, sa.get(), sb.get());
    mm.run(a.get(), b.get(), d.get());
    gpu::synchronize();
    if (swapped(spec)) {
      d.download(io.d.data());
    } else {
      std::vector<std::byte> dt(io.d.size());
      d.download(dt.data());
      transpose_into(io.d, dt, spec.m, spec.n, out_bytes(spec));
    }
    gpu::check_guards({&d});
    return mm.described();
  } catch (const gpu::GpuError& e) {
    throw VendorError(e.what());
  }
}

CublasLtTiming time_cublaslt(const gemm::Spec& spec, int reps) {
  check_problem(spec);
  try {
    const gemm::Geometry g = gemm::geometry(spec);
    gpu::DeviceBytes a(size_t(spec.m * spec.k)), b(size_t(spec.n * spec.k)), d(size_t(spec.m * spec.n) * out_bytes(spec));
    gpu::DeviceBytes sa(size_t(g.sa.m * g.sa.g) * 4), sb(size_t(g.sb.m * g.sb.g) * 4);
    // Codes 0x38 (1 in e4m3fn, 1/2 in e5m2) and scales 0x3c3c3c3c (about 0.0115): finite, and the
    // tensor cores' time does not depend on the values.
    for (auto* t : {&a, &b}) ULPGATE_GPU_CHECK(cudaMemset(t->get(), 0x38, t->size()));
    for (auto* t : {&sa, &sb}) ULPGATE_GPU_CHECK(cudaMemset(t->get(), 0x3c, t->size()));
    Matmul mm(spec, sa.get(), sb.get());
    const quant_kernels::Timing t = gpu_bench::time_runs(reps, [&](int) { mm.run(a.get(), b.get(), d.get()); });
    return {t, mm.described()};
  } catch (const gpu::GpuError& e) {
    throw VendorError(e.what());
  }
}

}  // namespace ulpgate::gemm_kernels
