// Runs the RMSNorm kernels on the host-SIMT emulator, under any Arch's warp size and conversion
// semantics. Reduce: the warp reduction (tests pass faulty ones).
#pragma once

#include "kernels/norm/norm_plan.hpp"
#include "kernels/portable/host_simt.hpp"

namespace ulpgate::norm_kernels {

// Throws NormError (before launch) or host_simt::KernelError (the kernel failed).
template <class Reduce = ButterflyReduce>
void run_norm_host(const Arch& arch, const norm::Spec& spec, const norm::Buffers& io) {
  const NormPlan plan = plan_norm(spec, arch, NormSizes::of(io));
  launch_norm<Reduce>(plan, NormPointers::of(io),
                      [&](const LaunchConfig& cfg, const auto& kernel) { host_simt::launch(arch, cfg, kernel); });
}

}  // namespace ulpgate::norm_kernels
