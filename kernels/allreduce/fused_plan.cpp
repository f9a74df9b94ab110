#include "kernels/allreduce/fused_plan.hpp"

#include <algorithm>

namespace ulpgate::allreduce_kernels {

FusedPlan plan_fused(const allreduce::FusedSpec& spec, const Arch& arch, std::span<const allreduce::FusedRankBuffers> io,
                     unsigned max_blocks) {
  const norm::Spec& ns = spec.norm;
  if (io.size() != size_t(spec.world)) throw AllreduceError("expected the buffers of " + std::to_string(spec.world) + " ranks");
  // The input rules of the custom all-reduce; the fused kernels' workspace is sized to the message
  // (FlashInfer's to max tokens x hidden size), so no registered-buffer limit.
  const allreduce::Spec sum_spec = spec.sum_spec();
  const Plan sum = plan_allreduce(sum_spec, sum_spec.bytes(), max_blocks, 128);
  norm_kernels::NormSizes sizes = norm_kernels::NormSizes::of(io[0].norm);
  sizes.x = size_t(sum.packs) * 16;  // the norm's x is the tmp buffer of T sums
  for (const allreduce::FusedRankBuffers& b : io)
    if (b.x.size() != sizes.x) throw AllreduceError("a rank's x is not M * H elements");
  FusedPlan p{norm_kernels::plan_norm(ns, arch, sizes), {}, spec.world, sum.packs,
              ns.h * int64_t(info(ns.dtype).bits / 8) / 16, spec.variant->sharding == allreduce::Sharding::two_shot,
              ns.fp32_weight};
  if (ns.h * int64_t(info(ns.dtype).bits / 8) % 16 != 0)
    throw AllreduceError("rows of " + std::to_string(ns.h) + " elements are not whole 16-byte packs");
  p.config = p.norm.main;
  p.config.grid.x = std::min({p.config.grid.x, max_blocks, unsigned(kMaxBlocks)});
  return p;
}

}  // namespace ulpgate::allreduce_kernels
