#include "kernels/allreduce/allreduce_custom.hpp"
#include "kernels/portable/gpu.hpp"

namespace ulpgate::allreduce_kernels {

void launch_custom_rank(const Plan& plan, const WorldPointers& p, int rank, uint8_t* out, void* stream) {
  with_kernels(plan, [&](auto make) { gpu::launch(plan.config, make(p, rank, out), static_cast<gpu::Stream>(stream)); });
}

}  // namespace ulpgate::allreduce_kernels
