#include "reference/allreduce/fused.hpp"

#include <algorithm>
#include <array>

#include "reference/formats/name_table.hpp"

namespace ulpgate::allreduce {
namespace {

// One row per implementation; the source each value was read from is named above the row.
constexpr std::array kFusedVariants = {
    // FlashInfer include/flashinfer/comm/trtllm_allreduce_fusion.cuh (04ebdfd), from TensorRT-LLM's
    // allReduceFusionKernels: allreduce_fusion_kernel_oneshot_lamport pushes every rank's x to every
    // peer, and each rank adds vals[0..n-1] in rank order in fp32 (`Fp32Acc`, the default for
    // bf16/fp16) and rounds once to T; FusedOp then adds the residual, normalizes and quantizes (the
    // norm row `flashinfer`). Not modelled: the Lamport protocol reads -0 as "not arrived" and
    // replaces the inputs' -0 by +0 (remove_neg_zero), which changes only the sign of a zero sum.
    FusedVariant{"flashinfer-1shot", Order::rank_order, "flashinfer", Sharding::one_shot, Format::e4m3fn,
                 quant::Layout::ue8m0_packed},
    // The same file, allreduce_fusion_kernel_twoshot_sync: rank r reduces the tokens
    // [begin_tokens[r], + token_num_per_ranks[r]) (the same rank order, fp32, rounded once) and
    // stores the T sum into every rank's buffer; after a barrier each rank runs FusedOp on all rows.
    FusedVariant{"flashinfer-2shot", Order::rank_order, "flashinfer", Sharding::two_shot, Format::e4m3fn,
                 quant::Layout::ue8m0_packed},
};

}  // namespace

std::span<const FusedVariant> fused_variants() { return kFusedVariants; }

const FusedVariant& fused_variant(std::string_view name) {
  return row_named(fused_variants(), name, "fused all-reduce variant");
}

Spec FusedSpec::sum_spec() const {
  Spec s;
  s.variant = &allreduce::variant(variant->order == Order::rotated ? "custom-2shot" : "custom-1shot");
  s.dtype = norm.dtype;
  s.world = world;
  s.view.count = norm.m * norm.h;
  return s;
}

std::string FusedSpec::problem() const {
  if (!variant) return "no variant";
  if (world != 2 && world != 4 && world != 6 && world != 8) return "world size " + std::to_string(world) + " is not 2, 4, 6 or 8";
  if (norm.op != norm::Op::rms_add && norm.op != norm::Op::rms_add_quant) return "the norm stage is rms-add or rms-add-quant";
  if (norm.profile == nullptr || norm.profile->name != variant->norm_profile) return "the norm profile is the variant's";
  if (norm.quantizes() && norm.format != variant->fp8)
    return std::string(variant->name) + " writes " + std::string(format_name(variant->fp8)) + " only";
  if (norm.quantizes() && norm.gs != 0 && norm.layout != variant->group_layout)
    return std::string(variant->name) + " writes per-group scales as " +
           std::string(quant::layout_name(variant->group_layout)) + " only";
  return norm.problem();
}

RowRange owned_rows(int64_t m, int world, int rank) {
  const int64_t per = m / world, extra = m % world;
  const int64_t begin = rank * per + std::min<int64_t>(rank, extra);
  return {begin, begin + per + (rank < extra ? 1 : 0)};
}

std::vector<uint32_t> fused_sum(const FusedSpec& spec, const RawRanks& ranks) {
  return ordered_sum(spec.sum_spec(), spec.variant->order, ranks);
}

}  // namespace ulpgate::allreduce
