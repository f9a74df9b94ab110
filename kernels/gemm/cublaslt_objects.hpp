// cuBLASLt objects (descriptors, layouts, preferences, handles) destroyed with their owner: the
// vendor backend's FP8 matmul (cublaslt.cu) and the device reference's block sums (reference_gpu.cu).
#pragma once

#include <cublasLt.h>

namespace ulpgate::gemm_kernels {

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

}  // namespace ulpgate::gemm_kernels
