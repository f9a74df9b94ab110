#include "kernels/allreduce/fused_gpu.hpp"

#include <vector>

#include "kernels/allreduce/allreduce_gpu.hpp"
#include "kernels/allreduce/fused_plan.hpp"
#include "kernels/norm/norm_gpu.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/portable/gpu.hpp"
#include "kernels/portable/gpu_bench.cuh"

namespace ulpgate::allreduce_kernels {
namespace {

// One rank's norm stage on the device: its inputs and its guarded outputs.
struct DeviceNorm {
  gpu::DeviceBytes residual, weight, y, residual_out, codes, scales;

  DeviceNorm(const norm_kernels::NormSizes& n, int r)
      : residual(n.residual), weight(n.weight), y(gpu::DeviceBytes::output("y" + rank_suffix(r), n.y)),
        residual_out(gpu::DeviceBytes::output("residual" + rank_suffix(r), n.residual_out)),
        codes(gpu::DeviceBytes::output("codes" + rank_suffix(r), n.codes)),
        scales(gpu::DeviceBytes::output("scales" + rank_suffix(r), n.scales)) {}
  static std::string rank_suffix(int r) { return ".r" + std::to_string(r); }

  void upload(const norm::Buffers& b) {
    residual.upload(b.residual.data());
    weight.upload(b.weight.data());
  }
  // The outputs back into b; writes outside them into `outside`.
  void download(const norm::Buffers& b, std::vector<guard::Violation>& outside) const {
    y.download(b.y.data());
    residual_out.download(b.residual_out.data());
    codes.download(b.codes.data());
    scales.download(b.scales.data());
    for (const gpu::DeviceBytes* o : {&y, &residual_out, &codes, &scales})
      for (guard::Violation& v : o->violations()) outside.push_back(std::move(v));
  }
  // The device-side view of one rank's buffers, as with_fused_kernels reads them; x the rank's
  // registered input.
  allreduce::FusedRankBuffers io(const uint8_t* x, std::size_t x_bytes) const {
    const auto in = [](const gpu::DeviceBytes& b) { return std::span<const std::byte>(b.get<const std::byte>(), b.size()); };
    const auto out = [](const gpu::DeviceBytes& b) { return std::span<std::byte>(b.get<std::byte>(), b.size()); };
    return {{reinterpret_cast<const std::byte*>(x), x_bytes},
            {{}, in(residual), in(weight), out(y), out(residual_out), std::span<uint8_t>(codes.get(), codes.size()),
             std::span<uint8_t>(scales.get(), scales.size())}};
  }
};

// One rank of the world on the one GPU: its registered input, tmp, signal and norm stage.
struct DeviceRank {
  gpu::DeviceBytes data, tmp, signal;
  DeviceNorm norm;

  DeviceRank(const norm_kernels::NormSizes& n, int r) : data(n.x), tmp(n.x), signal(sizeof(Signal)), norm(n, r) {
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memset)(signal.get(), 0, sizeof(Signal)));
  }
};

std::vector<allreduce::FusedRankBuffers> device_io(const std::vector<DeviceRank>& d) {
  std::vector<allreduce::FusedRankBuffers> io;
  for (const DeviceRank& r : d) io.push_back(r.norm.io(r.data.get(), r.data.size()));
  return io;
}

WorldPointers world_pointers(const std::vector<DeviceRank>& d) {
  WorldPointers p{};
  for (size_t r = 0; r < d.size(); ++r)
    p.data[r] = d[r].data.get(), p.tmp[r] = d[r].tmp.get(), p.signal[r] = d[r].signal.get<Signal>();
  return p;
}

// Every rank's grid co-resident: the world's blocks at most what the current device's
// multiprocessors hold of this kernel at once (its registers and shared memory), or the barriers
// could wait forever.
template <class Kernel>
unsigned co_resident_blocks(const LaunchConfig& cfg, int world) {
  return std::max(1u, gpu::resident_blocks<Kernel>(cfg) / unsigned(world));
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

// Every rank's kernel on its stream. Every rank's buffers are on this device, so one-shot rows
// ask L2 for rows ahead (FusedPlan::one_device_ahead) and two-shot owners add every rank's residual.
void launch_world(const FusedPlan& plan, const std::vector<DeviceRank>& d, const Streams& streams) {
  const std::vector<allreduce::FusedRankBuffers> io = device_io(d);
  FusedPlan local = plan;
  local.norm.geo.ahead = plan.one_device_ahead;
  let_owners_add(local);
  with_fused_kernels(local, world_pointers(d), io, 0, [&](auto kernels, LaunchConfig config, bool world) {
    using Kernel = typename decltype(kernels)::value_type;
    if (world) config.grid.x = std::min(config.grid.x, co_resident_blocks<Kernel>(config, plan.world));
    for (size_t r = 0; r < kernels.size(); ++r) gpu::launch(config, kernels[r], streams[r]);
  });
}

// Rank `rank`'s kernels on the current device, its grid alone there: all of its blocks resident
// is enough for the barriers.
void launch_rank(const FusedPlan& plan, const WorldPointers& p, const allreduce::FusedRankBuffers& io, int rank, void* stream) {
  with_fused_kernels(plan, p, std::span(&io, 1), rank, [&](auto kernels, LaunchConfig config, bool world) {
    using Kernel = typename decltype(kernels)::value_type;
    if (world) config.grid.x = std::min(config.grid.x, co_resident_blocks<Kernel>(config, 1));
    gpu::launch(config, kernels[0], static_cast<gpu::Stream>(stream));
  });
}

void set_device(int d) { ULPGATE_GPU_CHECK(ULPGATE_GPU_API(SetDevice)(d)); }

}  // namespace

void run_fused_one_gpu(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io) {
  try {
    set_device(0);
    const FusedPlan plan = plan_fused(spec, kSm90, io, kMaxBlocks);
    if (plan.norm.m == 0) return;
    std::vector<DeviceRank> d;
    for (size_t r = 0; r < io.size(); ++r) {
      d.emplace_back(fused_sizes(spec), int(r));
      d[r].data.upload(io[r].x.data());
      d[r].norm.upload(io[r].norm);
    }
    const Streams streams(spec.world);
    launch_world(plan, d, streams);
    gpu::synchronize();
    std::vector<guard::Violation> outside;
    for (size_t r = 0; r < io.size(); ++r) d[r].norm.download(io[r].norm, outside);
    if (!outside.empty()) throw guard::OutOfBounds(std::move(outside));
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(e.what());
  }
}

void run_fused_ranks_gpu(const allreduce::FusedSpec& spec, int first_rank, std::span<const allreduce::FusedRankBuffers> io,
                         std::span<const int> devices, std::span<void* const> streams, const WorldPointers& p,
                         int64_t registered) {
  try {
    const FusedPlan plan = plan_fused(spec, kSm90, io, kMaxBlocks);
    if (plan.norm.m == 0) return;
    if (plan.packs * 16 > registered)
      throw AllreduceError("the message of " + std::to_string(plan.packs * 16) + " bytes exceeds the registered buffers (" +
                           std::to_string(registered) + " bytes)");
    std::vector<DeviceNorm> norms;
    for (size_t i = 0; i < io.size(); ++i) {
      const int rank = first_rank + int(i);
      set_device(devices[i]);
      norms.emplace_back(fused_sizes(spec), rank).upload(io[i].norm);
      ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(const_cast<uint8_t*>(p.data[rank]), io[i].x.data(), io[i].x.size(),
                                                ULPGATE_GPU_API(MemcpyHostToDevice)));
      gpu::synchronize();  // the copies done before the kernel's own (non-blocking) stream reads them
    }
    for (size_t i = 0; i < io.size(); ++i) {
      set_device(devices[i]);
      launch_rank(plan, p, norms[i].io(p.data[first_rank + int(i)], io[i].x.size()), first_rank + int(i), streams[i]);
    }
    std::vector<guard::Violation> outside;
    for (size_t i = 0; i < io.size(); ++i) {
      set_device(devices[i]);
      ULPGATE_GPU_CHECK(ULPGATE_GPU_API(StreamSynchronize)(static_cast<gpu::Stream>(streams[i])));
      norms[i].download(io[i].norm, outside);
    }
    if (!outside.empty()) throw guard::OutOfBounds(std::move(outside));
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(e.what());
  }
}

struct FusedBenchRanks::Impl {
  FusedPlan plan;
  std::vector<DeviceNorm> norms;  // rank r's on device r
  std::size_t x_bytes;
};

FusedBenchRanks::FusedBenchRanks(const allreduce::FusedSpec& spec) : impl_(std::make_unique<Impl>()) {
  try {
    const norm::Spec& s = spec.norm;
    const norm_kernels::NormSizes sizes = fused_sizes(spec);
    impl_->plan = plan_fused(spec, kSm90, sizes, kMaxBlocks);
    impl_->x_bytes = sizes.x;
    for (int r = 0; r < spec.world; ++r) {
      set_device(r);
      DeviceNorm& n = impl_->norms.emplace_back(sizes, r);
      ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memset)(n.residual.get(), 0, n.residual.size()));
      gpu_bench::fill(n.weight.get(), n.weight.size(), s.fp32_weight ? Format::fp32 : s.dtype, 0xfeed);
    }
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(e.what());
  }
}
FusedBenchRanks::~FusedBenchRanks() = default;

void FusedBenchRanks::launch_fused(const WorldPointers& p, std::span<void* const> streams) const {
  try {
    for (size_t r = 0; r < impl_->norms.size(); ++r) {
      set_device(int(r));
      launch_rank(impl_->plan, p, impl_->norms[r].io(p.data[r], impl_->x_bytes), int(r), streams[r]);
    }
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(e.what());
  }
}

void FusedBenchRanks::launch_norm(std::span<uint8_t* const> sums, std::span<void* const> streams) const {
  try {
    for (size_t r = 0; r < impl_->norms.size(); ++r) {
      const DeviceNorm& n = impl_->norms[r];
      set_device(int(r));
      norm_kernels::launch_norm_gpu(impl_->plan.norm,
                                    {sums[r], n.residual.get<const void>(), n.weight.get<const void>(), n.y.get<void>(),
                                     n.residual_out.get<void>(), n.codes.get(), n.scales.get()},
                                    streams[r]);
    }
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(e.what());
  }
}

const uint8_t* FusedBenchRanks::residual_out(int rank) const { return impl_->norms[size_t(rank)].residual_out.get(); }

// Traffic of one call over all ranks: each rank reads the x rows it sums from every rank (one-shot:
// all rows, world times; two-shot: its own rows), two-shot writes those sums to every rank and
// reads its tmp (where the owners add, launch_world's let_owners_add, it reads back its new
// residual instead); each rank reads its residual and weights and writes its residual and outputs.
FusedTiming time_fused_one_gpu(const allreduce::FusedSpec& spec, int reps) {
  try {
    const norm::Spec& s = spec.norm;
    const std::size_t n = std::size_t(s.m * s.h), t = n * (info(s.dtype).bits / 8);
    const std::size_t out = s.quantizes() ? n + std::size_t(s.m) * 4 : t;
    const std::size_t weights = std::size_t(s.h) * (s.fp32_weight ? 4 : info(s.dtype).bits / 8);
    const norm_kernels::NormSizes sizes = fused_sizes(spec);
    FusedPlan plan = plan_fused(spec, kSm90, sizes, kMaxBlocks);
    let_owners_add(plan);  // as launch_world will (its buffers: whole aligned vectors)
    std::vector<DeviceRank> d;
    for (int r = 0; r < spec.world; ++r) {
      DeviceRank& rank = d.emplace_back(sizes, r);
      gpu_bench::fill(rank.data.get(), t, s.dtype, 0x5eed + uint64_t(r));
      gpu_bench::fill(rank.norm.residual.get(), t, s.dtype, 0x7e5);
      gpu_bench::fill(rank.norm.weight.get(), weights, s.fp32_weight ? Format::fp32 : s.dtype, 0xfeed);
    }
    const Streams streams(spec.world);
    const quant_kernels::Timing timing = gpu_bench::time_runs(reps, [&](int) { launch_world(plan, d, streams); });
    const std::size_t sums = plan.two_shot ? t * 2 /* x, tmp or z */ + (plan.owner_adds ? 0 : t /* tmp */) : t * std::size_t(spec.world);
    return {timing, std::size_t(spec.world) * (sums + 2 * t /* residual in, out */ + weights + out)};
  } catch (const gpu::GpuError& e) {
    throw quant_kernels::BenchError(e.what());
  } catch (const std::runtime_error& e) {
    throw quant_kernels::BenchError(e.what());
  }
}

}  // namespace ulpgate::allreduce_kernels
