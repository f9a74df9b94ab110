// Whether a CUDA device can be used (gpu_status.cu): for the kernels' bench and for the device
// references, which libulpgate.so links without the kernels.
#pragma once

#include <string>

namespace ulpgate::quant_kernels {

// Empty when a CUDA device can be used, else why not (the runtime's own error text).
std::string gpu_unavailable_reason();
// A CUDA version number as "13.0".
std::string cuda_version(int v);

}  // namespace ulpgate::quant_kernels
