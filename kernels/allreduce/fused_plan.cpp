#include "kernels/allreduce/fused_plan.hpp"

#include <algorithm>

namespace ulpgate::allreduce_kernels {

namespace {
// How far ahead the one-shot rows of all ranks on one device ask L2 for their inputs: bytes of
// rows of every rank's x and the residual, over all ranks. On the H200 (world 2, 16384 x 7168) 8 MB
// was the fastest and 9 MB a cliff (rms 518 -> 579 us); 7 MB keeps clear of it
// (kernels/allreduce/PERF.md).
constexpr int64_t kOneDevicePrefetchBytes = int64_t(7) << 20;
}  // namespace

norm_kernels::NormSizes fused_sizes(const allreduce::FusedSpec& spec) {
  norm_kernels::NormSizes sizes = norm_kernels::required_sizes(spec.norm);
  sizes.x = size_t(spec.sum_spec().bytes());
  return sizes;
}

FusedPlan plan_fused(const allreduce::FusedSpec& spec, const Arch& arch, std::span<const allreduce::FusedRankBuffers> io,
                     unsigned max_blocks) {
  if (io.empty() || io.size() > size_t(spec.world))
    throw AllreduceError("expected the buffers of 1 to " + std::to_string(spec.world) + " ranks, not " + std::to_string(io.size()));
  const auto sizes = [](const allreduce::FusedRankBuffers& b) {
    norm_kernels::NormSizes s = norm_kernels::NormSizes::of(b.norm);
    s.x = b.x.size();
    return s;
  };
  for (size_t r = 1; r < io.size(); ++r) (void)plan_fused(spec, arch, sizes(io[r]), max_blocks);  // every rank's sizes checked
  return plan_fused(spec, arch, sizes(io[0]), max_blocks);
}

FusedPlan plan_fused(const allreduce::FusedSpec& spec, const Arch& arch, const norm_kernels::NormSizes& sizes,
                     unsigned max_blocks) {
  const norm::Spec& ns = spec.norm;
  if (ns.h * int64_t(info(ns.dtype).bits / 8) % 16 != 0)
    throw AllreduceError("rows of " + std::to_string(ns.h) + " elements are not whole 16-byte packs");
  // The input rules of the custom all-reduce; the fused kernels' workspace is sized to the message
  // (FlashInfer's to max tokens x hidden size), so no registered-buffer limit.
  const allreduce::Spec sum_spec = spec.sum_spec();
  const Plan sum = plan_allreduce(sum_spec, sum_spec.bytes(), max_blocks, 128);
  if (sizes.x != size_t(sum.packs) * 16) throw AllreduceError("a rank's x is not M * H elements");
  FusedPlan p{norm_kernels::plan_norm(ns, arch, sizes), {}, spec.world, sum.packs,
              ns.h * int64_t(info(ns.dtype).bits / 8) / 16, spec.variant->sharding == allreduce::Sharding::two_shot,
              ns.fp32_weight};
  const int64_t world_rows_bytes = int64_t(spec.world) * (spec.world + 1) * p.row_packs * 16;
  if (!p.two_shot) p.one_device_ahead = std::max<int64_t>(1, kOneDevicePrefetchBytes / world_rows_bytes);
  p.config = p.norm.main;
  p.config.grid.x = std::min({p.config.grid.x, max_blocks, unsigned(kMaxBlocks)});
  return p;
}

}  // namespace ulpgate::allreduce_kernels
