// Launching one rank's custom all-reduce kernel on a GPU: the part of the GPU path that is one
// source for CUDA and HIP (allreduce_custom.cu; the HIP compile checks build it). Plain C++.
#pragma once

#include "kernels/allreduce/allreduce_plan.hpp"

namespace ulpgate::allreduce_kernels {

// Launches rank `rank`'s kernel of the plan on the current device and `stream` (a cudaStream_t or
// hipStream_t), writing `out` (device memory); peers' memory through p.
void launch_custom_rank(const Plan& plan, const WorldPointers& p, int rank, uint8_t* out, void* stream);

}  // namespace ulpgate::allreduce_kernels
