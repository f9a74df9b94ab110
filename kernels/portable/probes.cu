#include "kernels/portable/gpu.hpp"
#include "kernels/portable/probes.hpp"
#include "kernels/portable/probes_gpu.hpp"

namespace ulpgate::probes {

namespace {
constexpr int kGpuWarp =
#if defined(__HIP__)
    64;
#else
    32;
#endif
}  // namespace

int gpu_device_count() { return gpu::device_count(); }

std::vector<float> gpu_block_amax(const std::vector<float>& rows, int n, int block_threads) {
  const unsigned blocks = unsigned(rows.size() / size_t(n));
  gpu::Buffer<float> in(rows), out(blocks);
  gpu::launch({{blocks}, {unsigned(block_threads)}},
              examples::BlockAmax<kGpuWarp>{in.get(), out.get(), n});
  gpu::synchronize();
  return out.download();
}

std::vector<float> gpu_vector_copy(const std::vector<float>& values, int block_threads) {
  const unsigned packs = unsigned(block_threads), blocks = unsigned(values.size() / (4 * packs));
  gpu::Buffer<float> in(values), out(values.size());
  gpu::launch({{blocks}, {packs}, packs * 16}, VectorCopyProbe{in.get(), out.get()});
  gpu::synchronize();
  return out.download();
}

std::vector<int> gpu_warp_ops(const std::vector<int>& values, int block_threads, int width) {
  const unsigned blocks = unsigned(values.size() / size_t(block_threads));
  gpu::Buffer<int> in(values), out(values.size() * kWarpProbeOutputs);
  gpu::launch({{blocks}, {unsigned(block_threads)}}, WarpOpsProbe{in.get(), out.get(), width});
  gpu::synchronize();
  return out.download();
}

Conversions gpu_convert(const std::vector<float>& values) {
  const int n = int(values.size());
  gpu::Buffer<float> in(values);
  gpu::Buffer<uint8_t> e4m3(values.size()), e5m2(values.size()), rp(values.size()),
      rz(values.size());
  gpu::launch({{unsigned((n + 255) / 256)}, {256}},
              ConvertProbe{in.get(), e4m3.get(), e5m2.get(), rp.get(), rz.get(), n});
  gpu::synchronize();
  return {e4m3.download(), e5m2.download(), rp.download(), rz.download()};
}

std::string gpu_stray_write(std::size_t n, long long offset) {
  const auto out = gpu::DeviceBytes::output("out", n);
  gpu::launch({{1}, {32}}, StrayWriteProbe{out.get(), offset});
  gpu::synchronize();
  try {
    gpu::check_guards({&out});
    return "";
  } catch (const guard::OutOfBounds& e) {
    return e.what();
  }
}

}  // namespace ulpgate::probes
