// Event timing of the RMSNorm kernels (norm_bench.hpp). CUDA only (CUDA events); not part of the
// HIP compile checks. The bench rows (bf16 [32768, 7168]: 470 MB of x) evict L2 themselves;
// smaller inputs rotate over buffer sets (kernels/portable/gpu_bench.cuh).
#include "kernels/norm/norm_bench.hpp"

#include "kernels/norm/norm_gpu.hpp"
#include "kernels/portable/gpu_bench.cuh"

namespace ulpgate::norm_kernels {

using namespace gpu_bench;

std::size_t bytes_moved(const NormSizes& s) {
  return s.x + s.residual + s.weight + s.y + s.residual_out + s.codes + s.scales;
}

Timing time_norm_gpu(const NormPlan& plan, const NormSizes& sizes, int reps) {
  try {
    const std::size_t sets = sets_covering_l2(sizes.x + sizes.residual);
    const Sets x = make_sets(sizes.x, sets), residual = make_sets(sizes.residual, sets),
               y = make_sets(sizes.y, sets), residual_out = make_sets(sizes.residual_out, sets),
               codes = make_sets(sizes.codes, sets), scales = make_sets(sizes.scales, sets);
    const DevicePtr weight = device_alloc(sizes.weight);
    fill(x.mem.get(), sets * x.stride, plan.dtype, 0x5eed);
    fill(residual.mem.get(), sets * residual.stride, plan.dtype, 0x7e5);
    fill(weight.get(), sizes.weight, plan.dtype, 0xfeed);
    return time_runs(reps, [&](int i) {
      const std::size_t s = std::size_t(i) % sets;
      launch_norm_gpu(plan, {x.at<const void>(s), residual.at<const void>(s), weight.get(), y.at(s),
                             residual_out.at(s), codes.at<uint8_t>(s), scales.at<uint8_t>(s)});
    });
  } catch (const gpu::GpuError& e) {
    throw BenchError(e.what());
  } catch (const NormError& e) {
    throw BenchError(e.what());
  }
}

}  // namespace ulpgate::norm_kernels
