// Timing the quantization kernels and a device-to-device copy on a CUDA device (quant_bench.cu),
// for `ulpgate bench`. Plain C++ declarations, so the CLI links them without a GPU compiler.
// Every runtime call is checked; a failure throws BenchError naming the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "kernels/portable/gpu_status.hpp"
#include "kernels/quant/quant_plan.hpp"

namespace ulpgate::quant_kernels {

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BenchDevice {
  std::string name;     // cudaDeviceProp::name, e.g. "NVIDIA H200"
  std::string driver;   // the CUDA version the driver supports, e.g. "12.8"
  std::string runtime;  // the CUDA runtime the suite was built with
  int sm_major = 0, sm_minor = 0;
  int64_t l2_bytes = 0;
};
BenchDevice bench_device();  // the current device

// Event-timed runs, in microseconds.
struct Timing {
  double median_us = 0, min_us = 0;
  int runs = 0;
};

// cudaMemcpyAsync device-to-device of `bytes` between two fresh buffers: warm-up, then `reps`
// runs each timed by its own pair of events. Bytes moved = 2 * bytes (read + write).
Timing time_copy_gpu(std::size_t bytes, int reps);

// The plan's kernels (launch only, no copies) on device buffers of the sizes plan_quant checked,
// filled once on the device with pseudo-random, finite, non-zero values of the plan's input
// dtype. Warm-up, then `reps` runs each timed by its own pair of events. When the input is
// smaller than 4x L2, runs rotate over several input/output buffer sets (at most 64) so a run
// does not read what the previous one left in L2.
// A grouped plan (plan_grouped_quant) reads row_map, uploaded once.
Timing time_quant_gpu(const QuantPlan& plan, std::size_t x_bytes, std::size_t codes_bytes,
                      std::size_t scale_bytes, int reps, std::span<const int32_t> row_map = {});

}  // namespace ulpgate::quant_kernels
