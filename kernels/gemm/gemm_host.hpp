// Runs the GEMM kernel on the host-SIMT emulator, under any Arch (the kernel uses no warp
// operation and no fp8 conversion: its outputs are the same at every warp size and arch).
// Faults: tests only.
#pragma once

#include "kernels/gemm/gemm_plan.hpp"
#include "kernels/portable/host_simt.hpp"

namespace ulpgate::gemm_kernels {

// Launches a plan on the host-SIMT emulator.
template <class Faults, class Pointers>
void launch_gemm_host(const Arch& arch, const GemmPlan& plan, const Pointers& io, Faults faults) {
  launch_gemm(
      plan, GemmPointers::of(io), [&](const LaunchConfig& cfg, const auto& kernel) { host_simt::launch(arch, cfg, kernel); },
      faults);
}

// Throws GemmError (before launch) or host_simt::KernelError (the kernel failed).
template <class Faults = NoFault>
void run_gemm_host(const Arch& arch, const gemm::Spec& spec, const gemm::Buffers& io, Faults faults = {}) {
  launch_gemm_host(arch, plan_gemm(spec, io, kHostBlocks), io, faults);
}

// The grouped launch (plan_grouped_gemm): one grid over every row of D.
template <class Faults = NoFault>
void run_grouped_gemm_host(const Arch& arch, const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io, Faults faults = {}) {
  launch_gemm_host(arch, plan_grouped_gemm(spec, io, kHostBlocks), io, faults);
}

}  // namespace ulpgate::gemm_kernels
