// Timing the RMSNorm kernels on a CUDA device (norm_bench.cu), for `ulpgate bench`. Plain C++
// declarations, so the CLI links them without a GPU compiler. The copy bandwidth, the device
// description and the error type are quant_bench.hpp's, shared by every bench row.
#pragma once

#include <cstddef>

#include "kernels/norm/norm_plan.hpp"
#include "kernels/quant/quant_bench.hpp"

namespace ulpgate::norm_kernels {

// Bytes a run moves: every buffer the op reads or writes, once (the weight row is read from
// DRAM once; later rows find it in L2).
std::size_t bytes_moved(const NormSizes& sizes);

// The plan's kernel (launch only, no copies) on device buffers of `sizes` (as plan_norm checked),
// inputs filled once on the device with pseudo-random, finite, non-zero values of the plan's
// dtype. Warm-up, then `reps` runs each timed by its own pair of events. When the input is smaller
// than 4x L2, runs rotate over several buffer sets (at most 64). Throws quant_kernels::BenchError
// naming the failed call.
quant_kernels::Timing time_norm_gpu(const NormPlan& plan, const NormSizes& sizes, int reps);

}  // namespace ulpgate::norm_kernels
