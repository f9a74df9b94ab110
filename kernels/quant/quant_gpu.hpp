// The quantization kernels on a CUDA or HIP device (quant_gpu.cu). Plain C++ declarations, so
// the harness links them without a GPU compiler.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "kernels/quant/quant_plan.hpp"

namespace ulpgate::quant_kernels {

// Devices visible to the runtime (0 when there is no driver or no device).
int gpu_device_count();

// Poisons device buffers with 0xA5, copies x in, launches the plan, copies codes and scales
// out. Every runtime call is checked; a failure throws QuantError naming the call (the caller
// adds the op and the case).
void run_quant_gpu(const QuantPlan& plan, std::span<const std::byte> x, std::span<uint8_t> codes,
                   std::span<uint8_t> scales);

}  // namespace ulpgate::quant_kernels
