// cuBLASLt FP8 matmul as a kernel under test (cublaslt.hpp). Host code only; nvcc builds it so that
// it shares the guarded device buffers of kernels/portable/gpu.hpp.
//
// Orientation: cuBLASLt is column-major and FP8 needs the "TN" form. Our A [M, K] row-major is
// cuBLASLt's A (m x k, transposed, lda = K) and our B [N, K] row-major is its B (k x n, lda = K), as
// in NVIDIA's LtBlk128x128Fp8Matmul sample; its D is m x n column-major, i.e. our D transposed,
// which run_cublaslt turns back into row-major. So the profile's A scales (VEC128: (M, K/128)
// column-major) and B scales (BLK128x128: (K/128, N/128) column-major) go to cuBLASLt's A and B.
#include <cublasLt.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm/cublaslt.hpp"
#include "kernels/portable/gpu.hpp"
#include "reference/gemm/layout.hpp"

namespace ulpgate::gemm_kernels {
namespace {

#define ULPGATE_CUBLAS_CHECK(call)                                                                    \
  do {                                                                                                \
    const cublasStatus_t ulpgate_status_ = (call);                                                    \
    if (ulpgate_status_ != CUBLAS_STATUS_SUCCESS)                                                     \
      throw VendorError(std::string(#call) + " failed: " + cublasLtGetStatusString(ulpgate_status_)); \
  } while (0)

constexpr size_t kWorkspaceBytes = 32u << 20;

// A cuBLASLt descriptor destroyed on scope exit.
template <class T, cublasStatus_t (*Destroy)(T)>
struct Descriptor {
  T h = nullptr;
  Descriptor() = default;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (h) (void)Destroy(h);  // nothing useful to do with an error here
  }
};
using MatmulDesc = Descriptor<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using LayoutDesc = Descriptor<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using PreferenceDesc = Descriptor<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

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
  if (spec.k % 16 != 0) return "cuBLASLt FP8 needs K a multiple of 16 (16-byte leading dimensions), got K = " + std::to_string(spec.k);
  return "";
}

CublasLtRun run_cublaslt(const gemm::Spec& spec, const gemm::Buffers& io) {
  if (const std::string p = cublaslt_problem(spec); !p.empty()) throw VendorError(p);
  const size_t out_bytes = spec.out == Format::bf16 ? 2 : 4;
  if (io.d.size() != size_t(spec.m * spec.n) * out_bytes) throw VendorError("the output buffer does not hold [M, N]");
  CublasLtRun run;
  run.model = fast_accum(spec) ? "sm90-fast-accum" : "sm90";
  if (spec.m == 0 || spec.n == 0) return run;
  try {
    gpu::DeviceBytes a(io.a.size()), b(io.b.size()), sa(io.sa.size()), sb(io.sb.size());
    a.upload(io.a.data()), b.upload(io.b.data()), sa.upload(io.sa.data()), sb.upload(io.sb.data());
    gpu::DeviceBytes workspace(kWorkspaceBytes);
    const auto d = gpu::DeviceBytes::output("d", io.d.size());

    MatmulDesc op;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op.h, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    set(op.h, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
    set(op.h, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
    const auto [a_mode, b_mode] = scale_modes(spec.op);
    set(op.h, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, a_mode);
    set(op.h, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, b_mode);
    set(op.h, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, static_cast<const void*>(sa.get()));
    set(op.h, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, static_cast<const void*>(sb.get()));
    set(op.h, CUBLASLT_MATMUL_DESC_FAST_ACCUM, int8_t(fast_accum(spec)));

    LayoutDesc la, lb, ld;
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la.h, data_type(spec.a_format), spec.k, spec.m, spec.k));
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb.h, data_type(spec.b_format), spec.k, spec.n, spec.k));
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld.h, data_type(spec.out), spec.m, spec.n, spec.m));

    PreferenceDesc pref;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref.h));
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                              &kWorkspaceBytes, sizeof kWorkspaceBytes));
    cublasLtMatmulHeuristicResult_t chosen{};
    int found = 0;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle(), op.h, la.h, lb.h, ld.h, ld.h, pref.h, 1, &chosen, &found));
    if (found == 0) throw VendorError("cuBLASLt has no algorithm for this problem");
    run.algorithm = algorithm_text(chosen.algo);
    run.split_k = config<int32_t>(chosen.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM) > 1 ||
                  config<uint32_t>(chosen.algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME) != CUBLASLT_REDUCTION_SCHEME_NONE;

    const float alpha = 1.0f, beta = 0.0f;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmul(handle(), op.h, &alpha, a.get(), la.h, b.get(), lb.h, &beta, d.get(), ld.h,
                                        d.get(), ld.h, &chosen.algo, workspace.get(), kWorkspaceBytes, nullptr));
    gpu::synchronize();
    std::vector<std::byte> dt(io.d.size());
    d.download(dt.data());
    transpose_into(io.d, dt, spec.m, spec.n, out_bytes);
    gpu::check_guards({&d});
  } catch (const gpu::GpuError& e) {
    throw VendorError(e.what());
  }
  return run;
}

}  // namespace ulpgate::gemm_kernels
