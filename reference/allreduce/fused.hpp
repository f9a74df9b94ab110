// allreduce.rms and allreduce.rms-quant: the ranks' x all-reduced, the residual added, RMSNorm, and
// then nothing or FP8 quantization, in one kernel (TensorRT-LLM's and FlashInfer's all-reduce
// fusion; vLLM's fused all-reduce pass). The reference is a composition, not a fourth copy: the
// all-reduce's sum in the variant's order rounded to T (allreduce::ordered_sum) is the x of
// norm.rms-add or norm.rms-add-quant with the variant's norm profile; residual, weights (bf16 or
// fp32) and quantizer are that op's.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/allreduce/allreduce.hpp"
#include "reference/norm/norm.hpp"

namespace ulpgate::allreduce {

// How the ranks share the rows.
enum class Sharding : uint8_t {
  one_shot,  // every rank reduces every row from all peers' inputs and normalizes it
  two_shot,  // rank r reduces its rows (owned_rows) and sends the sum to every rank; every rank
             // then normalizes every row
};

// One fused implementation, as data (a new one is a new row in fused.cpp).
struct FusedVariant {
  std::string_view name;          // "flashinfer-1shot"
  Order order;                    // how the ranks' values are added (rank_order: fp32, rounded once)
  std::string_view norm_profile;  // the norm row of its residual add, RMSNorm and quantizer
  Sharding sharding;
  Format fp8;                     // the one fp8 format its quantizers write
  quant::Layout group_layout;     // the one layout of its per-group scales
};
std::span<const FusedVariant> fused_variants();
const FusedVariant& fused_variant(std::string_view name);  // throws UsageError naming the choices

struct FusedSpec {
  const FusedVariant* variant = nullptr;
  int world = 2;    // 2, 4, 6 or 8
  norm::Spec norm;  // op rms_add or rms_add_quant, the variant's profile, dtype, M x H, weights, quant

  // The all-reduce stage as an all-reduce spec: M * H elements of the norm's dtype.
  Spec sum_spec() const;
  std::string problem() const;  // empty when valid
};

// One rank's tensors as a fused kernel reads and writes them: its x (raw M*H elements of dtype)
// and the norm stage's buffers (residual, weights and outputs; norm.x unused: the sum is its x).
struct FusedRankBuffers {
  std::span<const std::byte> x;
  norm::Buffers norm;
};

// Two-shot: the rows rank r reduces. Each rank gets m / world rows, the first m % world ranks one
// more (FlashInfer's begin_tokens / token_num_per_ranks).
struct RowRange {
  int64_t begin, end;
};
RowRange owned_rows(int64_t m, int world, int rank);

// The all-reduce stage: the ranks' x ([world][M*H] raw elements of dtype) summed as the variant
// adds them, rounded to dtype: the norm stage's x.
std::vector<uint32_t> fused_sum(const FusedSpec& spec, const RawRanks& ranks);

}  // namespace ulpgate::allreduce
