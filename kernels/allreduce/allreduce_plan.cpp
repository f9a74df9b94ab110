#include "kernels/allreduce/allreduce_plan.hpp"

#include <algorithm>

namespace ulpgate::allreduce_kernels {

Plan plan_allreduce(const allreduce::Spec& spec, int64_t registered_bytes, unsigned max_blocks, unsigned threads) {
  const auto refuse = [](const std::string& why) { throw AllreduceError("custom all-reduce refuses the input: " + why); };
  if (spec.world != 2 && spec.world != 4 && spec.world != 6 && spec.world != 8)
    refuse("world size " + std::to_string(spec.world) + " (the custom kernels run 2, 4, 6 or 8 ranks)");
  if (spec.dtype != Format::bf16 && spec.dtype != Format::fp16 && spec.dtype != Format::fp32)
    refuse("dtype " + std::string(format_name(spec.dtype)) + " (bf16, fp16 or fp32)");
  if (!spec.view.weakly_contiguous())
    refuse("the tensor is not weakly contiguous: its view of " + std::to_string(spec.view.count) + " elements at offset " +
           std::to_string(spec.view.offset) + " leaves " + std::to_string(spec.view.tail) +
           " elements of its storage after it (storage bytes - offset * itemsize must equal numel * itemsize)");
  const int64_t bytes = spec.bytes();
  if (bytes % allreduce::kPackBytes != 0)
    refuse("the message is " + std::to_string(bytes) + " bytes, not a multiple of 16 (16-byte loads)");
  if (bytes > registered_bytes)
    refuse("the message is " + std::to_string(bytes) + " bytes, larger than the registered buffer of " +
           std::to_string(registered_bytes) + " bytes");
  Plan p{spec.dtype, allreduce::resolved_order(spec), spec.world, bytes / allreduce::kPackBytes, {}};
  const int64_t blocks = std::clamp<int64_t>((p.packs + threads - 1) / threads, 1, std::min<int64_t>(max_blocks, kMaxBlocks));
  p.config = {{unsigned(blocks)}, {threads}};
  return p;
}

}  // namespace ulpgate::allreduce_kernels
