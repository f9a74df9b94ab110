// FlashInfer's RMSNorm kernels (include/flashinfer/norm.cuh of the flashinfer-python wheel),
// compiled ahead of time as FlashInfer's JIT would compile them, behind a C launcher per dtype for
// ctypes (examples/thirdparty/kernels.py). Nothing of the arithmetic is ours: each function only
// launches FlashInfer's own template on the caller's (torch's) current stream 0 and waits.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <flashinfer/norm.cuh>

namespace {

template <class T>
int rmsnorm(void* x, void* w, void* y, unsigned rows, unsigned d, float eps) {
  cudaError_t e = flashinfer::norm::RMSNorm<T>(static_cast<T*>(x), static_cast<T*>(w), static_cast<T*>(y), rows, d, d, d, eps);
  return int(e == cudaSuccess ? cudaDeviceSynchronize() : e);
}

// input <- RMSNorm(input + residual) * weight, residual <- input + residual (in place).
template <class T>
int fused_add_rmsnorm(void* x, void* residual, void* w, unsigned rows, unsigned d, float eps) {
  cudaError_t e = flashinfer::norm::FusedAddRMSNorm<T>(static_cast<T*>(x), static_cast<T*>(residual), static_cast<T*>(w),
                                                       rows, d, d, d, eps);
  return int(e == cudaSuccess ? cudaDeviceSynchronize() : e);
}

// The fused add + RMSNorm + 1x128 FP8 block quant: e4m3 codes, fp32 scales column-major with the
// row count padded to 4 (scale_stride_m), the normed row in T beside them.
template <class T>
int fused_add_rmsnorm_fp8_block_quant(void* x, void* residual, void* w, void* codes, float* scales, void* normed,
                                      unsigned rows, unsigned d, unsigned scale_stride_m, float eps) {
  cudaError_t e = flashinfer::norm::FusedAddRMSNormFP8BlockQuant<T, __nv_fp8_e4m3>(
      static_cast<T*>(x), static_cast<T*>(residual), static_cast<T*>(w), static_cast<__nv_fp8_e4m3*>(codes), scales,
      static_cast<T*>(normed), rows, d, d, d, d, d, scale_stride_m, eps);
  return int(e == cudaSuccess ? cudaDeviceSynchronize() : e);
}

}  // namespace

extern "C" {
int fi_rmsnorm_bf16(void* x, void* w, void* y, unsigned m, unsigned d, float eps) { return rmsnorm<__nv_bfloat16>(x, w, y, m, d, eps); }
int fi_rmsnorm_fp16(void* x, void* w, void* y, unsigned m, unsigned d, float eps) { return rmsnorm<half>(x, w, y, m, d, eps); }
int fi_fused_add_rmsnorm_bf16(void* x, void* r, void* w, unsigned m, unsigned d, float eps) {
  return fused_add_rmsnorm<__nv_bfloat16>(x, r, w, m, d, eps);
}
int fi_fused_add_rmsnorm_fp16(void* x, void* r, void* w, unsigned m, unsigned d, float eps) {
  return fused_add_rmsnorm<half>(x, r, w, m, d, eps);
}
int fi_fused_add_rmsnorm_fp8_block_quant_bf16(void* x, void* r, void* w, void* q, float* s, void* normed, unsigned m,
                                              unsigned d, unsigned scale_stride_m, float eps) {
  return fused_add_rmsnorm_fp8_block_quant<__nv_bfloat16>(x, r, w, q, s, normed, m, d, scale_stride_m, eps);
}
const char* fi_error_string(int e) { return cudaGetErrorString(cudaError_t(e)); }
}
