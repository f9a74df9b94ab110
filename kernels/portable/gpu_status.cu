// Whether a CUDA device can be used (gpu_status.hpp).
#include "kernels/portable/gpu_status.hpp"

#include <cuda_runtime.h>

namespace ulpgate::quant_kernels {

std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

std::string gpu_unavailable_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaErrorInsufficientDriver) {  // what the runtime says when there is no driver at all
    int runtime = 0;
    (void)cudaRuntimeGetVersion(&runtime);  // needs no driver; 0 only if it fails too
    return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e) +
           " (no NVIDIA driver installed, or one older than this build's CUDA runtime " + cuda_version(runtime) + ")";
  }
  if (e != cudaSuccess) return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device present";
  return {};
}

}  // namespace ulpgate::quant_kernels
