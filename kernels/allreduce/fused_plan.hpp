// Host side of allreduce.rms / allreduce.rms-quant: the all-reduce's input rules and the norm
// stage's plan (its x is each rank's tmp buffer), and every rank's fused kernel for any launcher
// (the host-SIMT world, the ranks' grids co-resident on one GPU). Plain C++.
#pragma once

#include <span>
#include <type_traits>
#include <vector>

#include "kernels/allreduce/allreduce_plan.hpp"
#include "kernels/allreduce/fused_kernels.hpp"
#include "kernels/norm/norm_plan.hpp"
#include "reference/allreduce/fused.hpp"

namespace ulpgate::allreduce_kernels {

struct FusedPlan {
  norm_kernels::NormPlan norm;
  LaunchConfig config;  // every rank's grid
  int world;
  int64_t packs, row_packs;
  bool two_shot;
  bool fp32_weight;
  // One-shot rows a row's first thread asks L2 for ahead of its own (every rank's x and the
  // residual) where all ranks' buffers are on one device (launch_world); 0: none.
  int64_t one_device_ahead = 0;
  // Two-shot where the launcher holds every rank's buffers in one address space (launch_world,
  // the host world): the owner of a row adds every rank's residual (FusedAllreduceNorm OwnerAdds),
  // for the profiles whose z is T(x + residual). let_owners_add sets it.
  bool owner_adds = false;
};

// For a launcher holding every rank's buffers: the two-shot owners add the residuals, but with
// fp32 weights, whose kernel ran slower so (H200, 16384 x 7168 rms-quant: 802 -> 908 us, the
// register cap of the weights' kernel kept or not; kernels/allreduce/PERF.md).
inline void let_owners_add(FusedPlan& p) { p.owner_adds = p.two_shot && !p.fp32_weight; }

// The sizes every rank's buffers have: the norm stage's, x (the all-reduce's input) M * H elements.
norm_kernels::NormSizes fused_sizes(const allreduce::FusedSpec& spec);

// Refuses (AllreduceError) what the custom all-reduce refuses and buffers not of fused_sizes;
// NormError for what the norm kernels refuse. `io` holds the ranks this process runs (all of
// them, or its own under mpirun). A grid of at most max_blocks blocks.
FusedPlan plan_fused(const allreduce::FusedSpec& spec, const Arch& arch, std::span<const allreduce::FusedRankBuffers> io,
                     unsigned max_blocks);
// The same from sizes alone (the bench, whose buffers live on the device only).
FusedPlan plan_fused(const allreduce::FusedSpec& spec, const Arch& arch, const norm_kernels::NormSizes& sizes,
                     unsigned max_blocks);

// Calls fn(kernels, config, world) with the kernels of ranks first_rank .. first_rank + io.size()
// - 1 (io[i] is rank first_rank + i's) reading and writing io through p (the world's registered,
// tmp and signal buffers): world = true for the fused kernels, whose ranks meet at barriers (one
// world launch, grids that are co-resident, or one rank per process); before them, for a scale
// layout with padding, world = false and each rank's padding kernel (launched on its own).
// weights_as_t: the R21 fault (tests only), fp32 weights read as T.
template <class Faults = NoFault, class Fn>
void with_fused_kernels(const FusedPlan& plan, const WorldPointers& p, std::span<const allreduce::FusedRankBuffers> io,
                        int first_rank, Fn&& fn, Faults faults = {}, bool weights_as_t = false) {
  const auto build = [&](auto kernels) {
    constexpr norm_kernels::Kernels Ks = decltype(kernels)::value;
    const norm::Buffers& b0 = io[0].norm;
    const norm_kernels::NormPointers first{p.tmp[first_rank], b0.residual.data(), b0.weight.data(), b0.y.data(),
                                           b0.residual_out.data(), b0.codes.data(), b0.scales.data()};
    norm_kernels::launch_norm<norm_kernels::ButterflyReduce, Ks>(plan.norm, first, [&](const LaunchConfig& cfg, const auto& kernel) {
      using K = std::decay_t<decltype(kernel)>;
      if constexpr (!requires { kernel.geo; }) {  // quant_kernels::ScalePadding
        std::vector<K> ranks;
        for (const allreduce::FusedRankBuffers& b : io) {
          K k = kernel;
          k.scales.base = b.norm.scales.data();
          ranks.push_back(k);
        }
        fn(std::span<const K>(ranks), cfg, false);
      } else {
        using T = std::remove_cvref_t<decltype(*kernel.x)>;
        const auto world_kernels = [&](auto one_shot, auto owner_adds) {
          constexpr bool kOwnerAdds = decltype(owner_adds)::value;
          using Fused = FusedAllreduceNorm<K, Faults, decltype(one_shot)::value, kOwnerAdds>;
          WorldResiduals residuals{};
          for (size_t i = 0; kOwnerAdds && i < io.size(); ++i) {
            residuals.in[i] = reinterpret_cast<const uint8_t*>(io[i].norm.residual.data());
            residuals.out[i] = reinterpret_cast<uint8_t*>(io[i].norm.residual_out.data());
          }
          std::vector<Fused> ranks;
          for (size_t i = 0; i < io.size(); ++i) {
            const int r = first_rank + int(i);
            const norm::Buffers& b = io[i].norm;
            K k = kernel;
            k.x = reinterpret_cast<const T*>(p.tmp[r]);
            k.residual = reinterpret_cast<const T*>(b.residual.data());
            k.weight = reinterpret_cast<decltype(k.weight)>(b.weight.data());
            k.y = reinterpret_cast<T*>(b.y.data());
            k.residual_out = reinterpret_cast<T*>(b.residual_out.data());
            k.codes = b.codes.data();
            k.scales.base = b.scales.data();
            typename Fused::Rows rows;
            if constexpr (kOwnerAdds) rows = PlainNorm<K>::of(k);
            else rows = k;
            ranks.push_back({p, {plan.world, r, plan.packs}, rows, plan.row_packs, plan.two_shot, faults, residuals});
          }
          fn(std::span<const Fused>(ranks), plan.config, true);
        };
        if (!plan.two_shot) return world_kernels(std::true_type{}, std::false_type{});
        // Every rank's buffers are here (io holds them all), whole aligned vectors (the owner's
        // 16-byte packs), and z is what the residual stores.
        if constexpr (K::kForm.vectors && !K::kForm.fp32_z)
          if (plan.owner_adds && io.size() == size_t(plan.world)) return world_kernels(std::false_type{}, std::true_type{});
        world_kernels(std::false_type{}, std::false_type{});
      }
    });
  };
  using norm_kernels::Kernels;
  if (plan.fp32_weight && !weights_as_t)
    build(std::integral_constant<Kernels, Kernels{true, true}>{});
  else
    build(std::integral_constant<Kernels, Kernels{true, false}>{});
}

}  // namespace ulpgate::allreduce_kernels
