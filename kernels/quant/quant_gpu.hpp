// The quantization kernels on a CUDA or HIP device (quant_gpu.cu). Plain C++ declarations, so
// the harness links them without a GPU compiler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/quant/held_reference.hpp"
#include "kernels/quant/quant_plan.hpp"

namespace ulpgate::quant_kernels {

// Devices visible to the runtime (0 when there is no driver or no device).
int gpu_device_count();
// Makes `device` this thread's current device (one GPU per process under mpirun).
void gpu_use_device(int device);

// Poisons device buffers with 0xA5, copies x in, launches the plan, copies codes and scales
// out. Every runtime call is checked; a failure throws QuantError naming the call (the caller
// adds the op and the case).
// A grouped plan (plan_grouped_quant) reads its row map (m_indices or masked_m) from row_map.
void run_quant_gpu(const QuantPlan& plan, std::span<const std::byte> x, std::span<uint8_t> codes,
                   std::span<uint8_t> scales, std::span<const int32_t> row_map = {});

// The same run on an input already on the device (x_device), with the outputs left there
// (HeldOutputs): the codes stay, the scale storage and the guards' findings come back at once.
// plan_quant checked the sizes: M K codes and scale_bytes of storage.
std::unique_ptr<HeldOutputs> hold_quant_gpu(const QuantPlan& plan, const void* x_device, std::size_t scale_bytes);

// Launches the plan's kernels on device buffers the caller owns (sized as plan_quant checked),
// on `stream` (a cudaStream_t / hipStream_t; nullptr: the default stream). No copies, no
// synchronization: for timing. A launch failure throws QuantError naming the call.
void launch_quant_gpu(const QuantPlan& plan, const void* x_dev, uint8_t* codes_dev, uint8_t* scales_dev,
                      void* stream = nullptr, const int32_t* row_map_dev = nullptr);

// An exhaustive device check: how many cases differ, and the first one's bits (CUDA only).
struct ExhaustiveCheck {
  uint64_t mismatches = 0;
  uint64_t first = 0;
};
// Every fp32 d in [1, 2^126) and +Inf: does dev::rcp_in_range give __frcp_rn's result
// (silu_mul_chunk relies on it)? `first`: d's bits.
ExhaustiveCheck check_rcp_in_range_gpu();
// Every fp32 s and x in [1, 2) (2^46 pairs): does quick_div(x, s, fl(1/s)) give the IEEE
// quotient? `first`: s's bits << 32 | x's. `uncorrected`: the pairs where x * fl(1/s) alone does
// not (the check is not vacuous where this is not 0).
struct QuickDivCheck : ExhaustiveCheck {
  uint64_t uncorrected = 0;
};
QuickDivCheck check_quick_div_gpu();

// SiluTableProbe on the device (silu_kernels.hpp): how many bf16 gates the SiLU table holds, and
// of those how many whose y differs from silu_mul's steps (CUDA's expf).
struct SiluTableCheck {
  uint64_t held = 0, differ = 0;
};
SiluTableCheck check_silu_table_gpu();

// SGLang's fast-math arithmetic on the device, element by element: silu_mul = (a / (1 + e^-a)) * b
// and quotient = a / b, as the PTX nvcc emits for them under -use_fast_math (__expf, __fdividef,
// FTZ). For testing the silu-mul comparator's admissible values against the hardware (CUDA only).
struct FastMathValues {
  std::vector<float> silu_mul, quotient;
};
FastMathValues fast_math_gpu(std::span<const float> a, std::span<const float> b);

}  // namespace ulpgate::quant_kernels
