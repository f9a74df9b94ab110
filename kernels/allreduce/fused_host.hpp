// allreduce.rms / allreduce.rms-quant on the host-SIMT emulator: the ranks are ranks of one world
// launch sharing host memory (HostWorld, as the custom all-reduce's), so CI runs the whole fused
// path — the copy into the registered buffers, the barriers, the sums and the norm stage.
#pragma once

#include <cstring>

#include "kernels/allreduce/allreduce_host.hpp"
#include "kernels/allreduce/fused_plan.hpp"

namespace ulpgate::allreduce_kernels {

// Throws AllreduceError / NormError for a refused input, host_simt::KernelError when the kernel
// fails. Faults and weights_as_t: tests only.
template <class Faults = NoFault>
void run_fused_host(const Arch& arch, const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io,
                    HostWorld& world, Faults faults = {}, bool weights_as_t = false) {
  FusedPlan plan = plan_fused(spec, arch, io, kHostBlocks);
  if (plan.norm.m == 0) return;
  let_owners_add(plan);  // every rank's buffers are in this process
  const int64_t bytes = plan.packs * 16;
  world.reserve(spec.world, bytes);
  const WorldPointers p = world.pointers(spec.world);
  for (int r = 0; r < spec.world; ++r) std::memcpy(const_cast<uint8_t*>(p.data[r]), io[size_t(r)].x.data(), size_t(bytes));
  const std::vector<host_simt::RankRegion> regions = world.regions(spec.world, bytes);
  with_fused_kernels(
      plan, p, io, 0,
      [&](auto kernels, const LaunchConfig& config, bool world_launch) {
        if (!world_launch) {
          for (const auto& k : kernels) host_simt::launch(arch, config, k);
          return;
        }
        try {
          host_simt::launch_world(arch, config, kernels, {regions});
        } catch (...) {
          world.forget_signals();
          throw;
        }
      },
      faults, weights_as_t);
}

// One rank per process (mpirun): rank `rank` alone on this process's emulator, the other ranks
// other processes whose flags and data arrive through p (the MPI shared-memory segments, as
// run_allreduce_rank_host's). The registered buffers must hold the message.
template <class Faults = NoFault>
void run_fused_rank_host(const Arch& arch, const allreduce::FusedSpec& spec, int rank, const allreduce::FusedRankBuffers& mine,
                         const WorldPointers& p, int64_t registered, Faults faults = {}) {
  const FusedPlan plan = plan_fused(spec, arch, std::span(&mine, 1), kHostBlocks);
  if (plan.norm.m == 0) return;
  if (plan.packs * 16 > registered)
    throw AllreduceError("the message of " + std::to_string(plan.packs * 16) + " bytes exceeds the registered buffers (" +
                         std::to_string(registered) + " bytes)");
  std::memcpy(const_cast<uint8_t*>(p.data[rank]), mine.x.data(), mine.x.size());
  with_fused_kernels(
      plan, p, std::span(&mine, 1), rank,
      [&](auto kernels, const LaunchConfig& config, bool world_launch) {
        if (world_launch) host_simt::launch_world(arch, config, kernels, {{}, kPeerPatience});
        else host_simt::launch(arch, config, kernels[0]);
      },
      faults);
}

}  // namespace ulpgate::allreduce_kernels
