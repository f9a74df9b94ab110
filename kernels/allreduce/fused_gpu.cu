#include "kernels/allreduce/fused_gpu.hpp"

#include <vector>

#include "kernels/allreduce/allreduce_gpu.hpp"
#include "kernels/allreduce/fused_plan.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/portable/gpu.hpp"
#include "kernels/portable/gpu_bench.cuh"

namespace ulpgate::allreduce_kernels {
namespace {

// One rank's device buffers: the registered input, tmp, signal, the norm stage's inputs and its
// guarded outputs.
struct DeviceRank {
  gpu::DeviceBytes data, tmp, signal, residual, weight, y, residual_out, codes, scales;
};

DeviceRank device_rank(const allreduce::FusedRankBuffers& b, int r) {
  const std::string rank = ".r" + std::to_string(r);
  const norm::Buffers& n = b.norm;
  DeviceRank d{gpu::DeviceBytes(b.x.size()), gpu::DeviceBytes(b.x.size()), gpu::DeviceBytes(sizeof(Signal)),
               gpu::DeviceBytes(n.residual.size()), gpu::DeviceBytes(n.weight.size()),
               gpu::DeviceBytes::output("y" + rank, n.y.size()), gpu::DeviceBytes::output("residual" + rank, n.residual_out.size()),
               gpu::DeviceBytes::output("codes" + rank, n.codes.size()), gpu::DeviceBytes::output("scales" + rank, n.scales.size())};
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memset)(d.signal.get(), 0, sizeof(Signal)));
  return d;
}

// The device-side view of the ranks' buffers, as with_fused_kernels reads them.
std::vector<allreduce::FusedRankBuffers> device_io(const std::vector<DeviceRank>& d) {
  std::vector<allreduce::FusedRankBuffers> io;
  for (const DeviceRank& r : d) {
    const auto in = [](const gpu::DeviceBytes& b) { return std::span<const std::byte>(b.get<const std::byte>(), b.size()); };
    const auto out = [](const gpu::DeviceBytes& b) { return std::span<std::byte>(b.get<std::byte>(), b.size()); };
    io.push_back({in(r.data), {{}, in(r.residual), in(r.weight), out(r.y), out(r.residual_out),
                               std::span<uint8_t>(r.codes.get(), r.codes.size()), std::span<uint8_t>(r.scales.get(), r.scales.size())}});
  }
  return io;
}

WorldPointers world_pointers(const std::vector<DeviceRank>& d) {
  WorldPointers p{};
  for (size_t r = 0; r < d.size(); ++r)
    p.data[r] = d[r].data.get(), p.tmp[r] = d[r].tmp.get(), p.signal[r] = d[r].signal.get<Signal>();
  return p;
}

// Every rank's grid co-resident: the world's blocks at most what the multiprocessors hold of
// this kernel at once (its registers and shared memory), or the barriers could wait forever.
template <class Kernel>
unsigned co_resident_blocks(const LaunchConfig& cfg, int world) {
  int sms = 0, per_sm = 0;
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(DeviceGetAttribute)(&sms, gpu::kAttrMultiprocessors, 0));
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(OccupancyMaxActiveBlocksPerMultiprocessor)(&per_sm, gpu::entry<Kernel>(), int(cfg.block.count()),
                                                                  cfg.shared_bytes));
  return unsigned(std::max(1, per_sm * sms / world));
}

// Blocking streams: the legacy default stream orders against them, so events on it time a call.
class Streams {
 public:
  explicit Streams(int n) : s_(size_t(n)) {
    for (gpu::Stream& s : s_) ULPGATE_GPU_CHECK(ULPGATE_GPU_API(StreamCreate)(&s));
  }
  ~Streams() {
    for (gpu::Stream s : s_) (void)ULPGATE_GPU_API(StreamDestroy)(s);  // nothing to do with an error here
  }
  gpu::Stream operator[](size_t r) const { return s_[r]; }

 private:
  std::vector<gpu::Stream> s_;
};

// Every rank's kernel on its stream.
void launch_world(const FusedPlan& plan, const std::vector<DeviceRank>& d, const Streams& streams) {
  const std::vector<allreduce::FusedRankBuffers> io = device_io(d);
  with_fused_kernels(plan, world_pointers(d), io, [&](auto kernels, LaunchConfig config, bool world) {
    using Kernel = typename decltype(kernels)::value_type;
    if (world) config.grid.x = std::min(config.grid.x, co_resident_blocks<Kernel>(config, plan.world));
    for (size_t r = 0; r < kernels.size(); ++r) gpu::launch(config, kernels[r], streams[r]);
  });
}

}  // namespace

void run_fused_one_gpu(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io) {
  try {
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(SetDevice)(0));
    const FusedPlan plan = plan_fused(spec, kSm90, io, kMaxBlocks);
    if (plan.norm.m == 0) return;
    std::vector<DeviceRank> d;
    for (size_t r = 0; r < io.size(); ++r) {
      d.push_back(device_rank(io[r], int(r)));
      d[r].data.upload(io[r].x.data());
      d[r].residual.upload(io[r].norm.residual.data());
      d[r].weight.upload(io[r].norm.weight.data());
    }
    const Streams streams(spec.world);
    launch_world(plan, d, streams);
    gpu::synchronize();
    std::vector<guard::Violation> outside;
    for (size_t r = 0; r < io.size(); ++r) {
      const norm::Buffers& b = io[r].norm;
      d[r].y.download(b.y.data());
      d[r].residual_out.download(b.residual_out.data());
      d[r].codes.download(b.codes.data());
      d[r].scales.download(b.scales.data());
      for (const gpu::DeviceBytes* o : {&d[r].y, &d[r].residual_out, &d[r].codes, &d[r].scales})
        for (guard::Violation& v : o->violations()) outside.push_back(std::move(v));
    }
    if (!outside.empty()) throw guard::OutOfBounds(std::move(outside));
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(e.what());
  }
}

// Traffic of one call over all ranks: each rank reads the x rows it sums from every rank (one-shot:
// all rows, world times; two-shot: its own rows), writes those sums (two-shot: to every rank),
// reads its tmp, residual and weights, writes its residual and outputs.
FusedTiming time_fused_one_gpu(const allreduce::FusedSpec& spec, int reps) {
  try {
    const norm::Spec& s = spec.norm;
    const std::size_t n = std::size_t(s.m * s.h), t = n * (info(s.dtype).bits / 8);
    const std::size_t out = s.quantizes() ? n + std::size_t(s.m) * 4 : t;
    const std::size_t weights = std::size_t(s.h) * (s.fp32_weight ? 4 : info(s.dtype).bits / 8);
    std::vector<std::vector<std::byte>> host(size_t(spec.world), std::vector<std::byte>(t));
    const norm_kernels::NormSizes sizes = norm_kernels::required_sizes(s);
    std::vector<std::byte> residual(t), weight(weights), y(sizes.y), rout(t), codes(sizes.codes), scales(sizes.scales);
    std::vector<allreduce::FusedRankBuffers> io;
    for (int r = 0; r < spec.world; ++r)
      io.push_back({host[size_t(r)], {{}, residual, weight, y, rout, std::span<uint8_t>(reinterpret_cast<uint8_t*>(codes.data()), codes.size()),
                                      std::span<uint8_t>(reinterpret_cast<uint8_t*>(scales.data()), scales.size())}});
    const FusedPlan plan = plan_fused(spec, kSm90, io, kMaxBlocks);
    std::vector<DeviceRank> d;
    for (int r = 0; r < spec.world; ++r) {
      d.push_back(device_rank(io[size_t(r)], r));
      gpu_bench::fill(d.back().data.get(), t, s.dtype, 0x5eed + uint64_t(r));
      gpu_bench::fill(d.back().residual.get(), t, s.dtype, 0x7e5);
      gpu_bench::fill(d.back().weight.get(), weights, s.fp32_weight ? Format::fp32 : s.dtype, 0xfeed);
    }
    const Streams streams(spec.world);
    const quant_kernels::Timing timing = gpu_bench::time_runs(reps, [&](int) { launch_world(plan, d, streams); });
    const std::size_t sums = plan.two_shot ? t * 2 : t * std::size_t(spec.world) + t;
    return {timing, std::size_t(spec.world) * (sums + t /* tmp */ + 2 * t /* residual in, out */ + weights + out)};
  } catch (const gpu::GpuError& e) {
    throw quant_kernels::BenchError(e.what());
  } catch (const std::runtime_error& e) {
    throw quant_kernels::BenchError(e.what());
  }
}

}  // namespace ulpgate::allreduce_kernels
