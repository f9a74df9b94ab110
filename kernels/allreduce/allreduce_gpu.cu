#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "kernels/allreduce/allreduce_gpu.hpp"
#include "kernels/allreduce/allreduce_custom.hpp"
#include "kernels/allreduce/fused_gpu.hpp"
#include "kernels/portable/gpu.hpp"

namespace ulpgate::allreduce_kernels {
namespace {

#define ULPGATE_NCCL_CHECK(call)                                                                              \
  do {                                                                                                        \
    const ncclResult_t ulpgate_nccl_r_ = (call);                                                              \
    if (ulpgate_nccl_r_ != ncclSuccess)                                                                       \
      throw GpuWorldError(std::string(#call) + " failed: " + ncclGetErrorString(ulpgate_nccl_r_) + " (" + \
                          __FILE__ + ":" + std::to_string(__LINE__) + ")");                                  \
  } while (0)

// NVLink multicast stays off (the machines' rule): set it where unset, refuse to run otherwise.
void require_no_nvls() {
  setenv("NCCL_NVLS_ENABLE", "0", 0);
  if (std::strcmp(std::getenv("NCCL_NVLS_ENABLE"), "0") != 0)
    throw GpuWorldError("NCCL_NVLS_ENABLE is set to '" + std::string(std::getenv("NCCL_NVLS_ENABLE")) +
                        "': NVLink multicast must stay off (NCCL_NVLS_ENABLE=0)");
}

ncclDataType_t nccl_type(Format f) { return f == Format::bf16 ? ncclBfloat16 : f == Format::fp16 ? ncclFloat16 : ncclFloat32; }

// Exactly summable bf16 inputs for the bench (spec/allreduce.md): rank r's element i is k 2^e
// with |k| <= 32 and e in [-8, 8] shared by the ranks, so every partial sum of <= 8 ranks is a
// bf16 value; the expected output is their exact sum.
__device__ uint32_t mix(uint64_t x) {
  x ^= x >> 33, x *= 0xff51afd7ed558ccdull, x ^= x >> 33, x *= 0xc4ceb9fe1a85ec53ull, x ^= x >> 33;
  return uint32_t(x);
}
__device__ float exact_value(int rank, int64_t i) {
  const int k = int(mix(uint64_t(i) * 16 + uint64_t(rank)) % 65u) - 32, e = int(mix(uint64_t(i) * 16 + 15) % 17u) - 8;
  return ldexpf(float(k), e);
}
__global__ void fill_exact(uint16_t* x, int rank, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = __bfloat16_as_ushort(__float2bfloat16_rn(exact_value(rank, i)));
}
__global__ void count_wrong(const uint16_t* y, int world, int64_t n, unsigned long long* wrong) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float s = 0;
    for (int r = 0; r < world; ++r) s += exact_value(r, i);
    if (y[i] != __bfloat16_as_ushort(__float2bfloat16_rn(s))) atomicAdd(wrong, 1ull);
  }
}

// Every device's default stream (the fills) done.
void synchronize_devices(int world) {
  for (int r = 0; r < world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    ULPGATE_GPU_CHECK(cudaDeviceSynchronize());
  }
}

// A rank's registered buffer, tmp buffer, signal (zeroed) and stream on the current device.
struct Rank {
  uint8_t *data = nullptr, *tmp = nullptr;
  Signal* signal = nullptr;
  gpu::Stream stream = nullptr;

  static Rank allocate(int64_t capacity) {
    Rank r;
    ULPGATE_GPU_CHECK(cudaMalloc(&r.signal, sizeof(Signal)));
    ULPGATE_GPU_CHECK(cudaMemset(r.signal, 0, sizeof(Signal)));
    ULPGATE_GPU_CHECK(cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking));
    if (capacity > 0) {
      ULPGATE_GPU_CHECK(cudaMalloc(&r.data, size_t(capacity)));
      ULPGATE_GPU_CHECK(cudaMalloc(&r.tmp, size_t(capacity)));
    }
    return r;
  }
  void release() {
    (void)cudaFree(data), (void)cudaFree(tmp), (void)cudaFree(signal);
    if (stream) (void)cudaStreamDestroy(stream);
  }
};

std::string nccl_version(const char* how) {
  int version = 0;
  ULPGATE_NCCL_CHECK(ncclGetVersion(&version));
  return "NCCL " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100) + " (" + how + "; NVLS off)";
}

}  // namespace

int gpu_count() { return gpu::device_count(); }

struct GpuWorld::Impl {
  int64_t limit, capacity = 0;
  int world = 0;  // the communicator the signals belong to
  std::vector<Rank> ranks;
  std::map<int, std::vector<ncclComm_t>> comms;

  explicit Impl(int64_t l) : limit(l) { require_no_nvls(); }
  ~Impl() {
    const gpu::KeepCurrentDevice keep;
    for (auto& [w, cs] : comms)
      for (ncclComm_t c : cs) (void)ncclCommDestroy(c);
    for (size_t d = 0; d < ranks.size(); ++d) {
      (void)cudaSetDevice(int(d));
      ranks[d].release();
    }
  }

  // Devices 0..world-1 with peer access to each other, signals zeroed once, buffers of >= bytes.
  void reserve(int world_size, int64_t bytes) {
    if (world_size > gpu_count())
      throw GpuWorldError("a world of " + std::to_string(world_size) + " ranks needs as many GPUs; " +
                          std::to_string(gpu_count()) + " present");
    for (int d = int(ranks.size()); d < world_size; ++d) add_rank(d);
    if (world_size != world) {  // a new communicator: every rank's call counters start at zero
      for (size_t d = 0; d < ranks.size(); ++d) {
        ULPGATE_GPU_CHECK(cudaSetDevice(int(d)));
        ULPGATE_GPU_CHECK(cudaMemset(ranks[d].signal, 0, sizeof(Signal)));
      }
      world = world_size;
    }
    if (bytes > capacity) {
      capacity = std::max<int64_t>(bytes, allreduce::kPackBytes);
      for (size_t d = 0; d < ranks.size(); ++d) {
        ULPGATE_GPU_CHECK(cudaSetDevice(int(d)));
        ULPGATE_GPU_CHECK(cudaFree(ranks[d].data));
        ULPGATE_GPU_CHECK(cudaFree(ranks[d].tmp));
        ULPGATE_GPU_CHECK(cudaMalloc(&ranks[d].data, size_t(capacity)));
        ULPGATE_GPU_CHECK(cudaMalloc(&ranks[d].tmp, size_t(capacity)));
      }
    }
  }

  void add_rank(int d) {
    ULPGATE_GPU_CHECK(cudaSetDevice(d));
    for (int p = 0; p < gpu_count(); ++p) {
      if (p == d) continue;
      int can = 0;
      ULPGATE_GPU_CHECK(cudaDeviceCanAccessPeer(&can, d, p));
      if (!can) throw GpuWorldError("GPU " + std::to_string(d) + " cannot access GPU " + std::to_string(p) + " (no P2P)");
      const cudaError_t e = cudaDeviceEnablePeerAccess(p, 0);
      if (e == cudaErrorPeerAccessAlreadyEnabled) (void)cudaGetLastError();
      else ULPGATE_GPU_CHECK(e);
    }
    ranks.push_back(Rank::allocate(capacity));
  }

  WorldPointers pointers(int world) const {
    WorldPointers p{};
    for (int r = 0; r < world; ++r) p.data[r] = ranks[size_t(r)].data, p.tmp[r] = ranks[size_t(r)].tmp, p.signal[r] = ranks[size_t(r)].signal;
    return p;
  }

  const std::vector<ncclComm_t>& comm(int world) {
    auto it = comms.find(world);
    if (it != comms.end()) return it->second;
    std::vector<ncclComm_t> cs(static_cast<size_t>(world));
    std::vector<int> devs(static_cast<size_t>(world));
    for (int d = 0; d < world; ++d) devs[size_t(d)] = d;
    ULPGATE_NCCL_CHECK(ncclCommInitAll(cs.data(), world, devs.data()));
    return comms[world] = cs;
  }

  void synchronize(int world) {
    for (int r = 0; r < world; ++r) {
      ULPGATE_GPU_CHECK(cudaSetDevice(r));
      ULPGATE_GPU_CHECK(cudaStreamSynchronize(ranks[size_t(r)].stream));
    }
  }

  // Launches the plan's kernel on every rank, each writing out[r] (device pointers).
  void launch_custom(const Plan& plan, const std::vector<uint8_t*>& out) {
    const WorldPointers p = pointers(plan.world);
    for (int r = 0; r < plan.world; ++r) {
      ULPGATE_GPU_CHECK(cudaSetDevice(r));
      launch_custom_rank(plan, p, r, out[size_t(r)], ranks[size_t(r)].stream);
    }
  }

  void launch_nccl(int world, Format dtype, const std::vector<const uint8_t*>& in, const std::vector<uint8_t*>& out, int64_t count) {
    const std::vector<ncclComm_t>& cs = comm(world);
    ULPGATE_NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < world; ++r)
      ULPGATE_NCCL_CHECK(ncclAllReduce(in[size_t(r)], out[size_t(r)], size_t(count), nccl_type(dtype), ncclSum, cs[size_t(r)],
                                       ranks[size_t(r)].stream));
    ULPGATE_NCCL_CHECK(ncclGroupEnd());
  }

  void fill_registered(int world, int64_t bytes);
  std::vector<void*> streams(int world) const;

  // Seconds per call of `call` after warm-up, over `iterations` calls queued back to back.
  template <class Call>
  double seconds_per_call(int world, int iterations, Call call) {
    for (int i = 0; i < 3; ++i) call();
    synchronize(world);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) call();
    synchronize(world);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iterations;
  }
};

namespace {

// One rank's storage on the current device: the output between guard regions, the input plain
// (out of place, where the kernel reads it from there).
struct Storage {
  gpu::DeviceBytes out;
  std::optional<gpu::DeviceBytes> in;
};
Storage upload(const allreduce::Spec& spec, int rank, const allreduce::RankBuffers& b, bool inputs) {
  Storage s{gpu::DeviceBytes::output("y.r" + std::to_string(rank) + " storage", b.output.size()), {}};
  s.out.upload(b.output.data());
  if (inputs && !spec.in_place) {
    s.in.emplace(b.input.size());
    s.in->upload(b.input.data());
  }
  return s;
}

// Copies a rank's storage back; writes outside its output storage go to `outside`.
void download(const allreduce::RankBuffers& b, const Storage& s, std::vector<guard::Violation>& outside) {
  s.out.download(b.output.data());
  if (s.in) s.in->download(b.input.data());
  for (guard::Violation& v : s.out.violations()) outside.push_back(std::move(v));
}

void throw_outside(std::vector<guard::Violation> outside) {
  if (!outside.empty()) throw guard::OutOfBounds(std::move(outside));
}

size_t offset_bytes(const allreduce::Spec& spec) { return size_t(spec.view.offset) * (info(spec.dtype).bits / 8); }

}  // namespace

GpuWorld::GpuWorld(int64_t registered_bytes) : impl_(std::make_unique<Impl>(registered_bytes)) {}
GpuWorld::~GpuWorld() = default;

allreduce::Order GpuWorld::custom(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) {
  const gpu::KeepCurrentDevice keep;  // rank r runs on GPU r
  const Plan plan = plan_allreduce(spec, std::min(spec.variant->max_bytes, impl_->limit), kGpuBlocks, kGpuThreads);
  const size_t at = offset_bytes(spec), bytes = size_t(spec.bytes());
  impl_->reserve(spec.world, int64_t(bytes));
  std::vector<Storage> s;
  std::vector<uint8_t*> out;
  for (int r = 0; r < spec.world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    s.push_back(upload(spec, r, io[size_t(r)], false));
    if (bytes) ULPGATE_GPU_CHECK(cudaMemcpy(impl_->ranks[size_t(r)].data, io[size_t(r)].input.data() + at, bytes, cudaMemcpyHostToDevice));
    out.push_back(s.back().out.get() + at);
  }
  impl_->launch_custom(plan, out);
  impl_->synchronize(spec.world);
  std::vector<guard::Violation> outside;
  for (int r = 0; r < spec.world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    download(io[size_t(r)], s[size_t(r)], outside);
  }
  throw_outside(std::move(outside));
  return plan.kernel;
}

std::string GpuWorld::nccl(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) {
  const gpu::KeepCurrentDevice keep;  // rank r runs on GPU r
  impl_->reserve(spec.world, 0);
  const size_t at = offset_bytes(spec);
  std::vector<Storage> s;
  std::vector<const uint8_t*> in;
  std::vector<uint8_t*> out;
  for (int r = 0; r < spec.world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    s.push_back(upload(spec, r, io[size_t(r)], true));
    out.push_back(s.back().out.get() + at);
    in.push_back(s.back().in ? s.back().in->get() + at : out.back());
  }
  impl_->launch_nccl(spec.world, spec.dtype, in, out, spec.view.count);
  impl_->synchronize(spec.world);
  std::vector<guard::Violation> outside;
  for (int r = 0; r < spec.world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    download(io[size_t(r)], s[size_t(r)], outside);
  }
  throw_outside(std::move(outside));
  return nccl_version("ncclCommInitAll, one process");
}

void GpuWorld::fused(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io) {
  const gpu::KeepCurrentDevice keep;  // rank r runs on GPU r
  try {
    impl_->reserve(spec.world, spec.sum_spec().bytes());
  } catch (const gpu::GpuError& e) {
    throw GpuWorldError(e.what());
  }
  std::vector<int> devices;
  for (int r = 0; r < spec.world; ++r) devices.push_back(r);
  run_fused_ranks_gpu(spec, 0, io, devices, impl_->streams(spec.world), impl_->pointers(spec.world), impl_->capacity);
}

namespace {

int64_t wrong_elements(int world, int64_t n, const std::vector<const uint8_t*>& out) {
  int64_t wrong = 0;
  for (int r = 0; r < world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    gpu::Buffer<unsigned long long> counter(std::vector<unsigned long long>{0});
    count_wrong<<<264, 512>>>(reinterpret_cast<const uint16_t*>(out[size_t(r)]), world, n, counter.get());
    ULPGATE_GPU_CHECK(cudaGetLastError());
    wrong += int64_t(counter.download()[0]);
  }
  return wrong;
}

}  // namespace

GpuWorld::Timing GpuWorld::time_custom(int world, int64_t bytes, int iterations) {
  const gpu::KeepCurrentDevice keep;  // rank r runs on GPU r
  allreduce::Spec spec;
  static const allreduce::Variant bench{"custom-auto", allreduce::Order::by_size, 0, true, true};
  spec.variant = &bench, spec.dtype = Format::bf16, spec.world = world, spec.view = {bytes / 2};
  const Plan plan = plan_allreduce(spec, impl_->limit, kGpuBlocks, kGpuThreads);
  impl_->fill_registered(world, bytes);
  std::vector<gpu::DeviceBytes> outs;
  std::vector<uint8_t*> out;
  for (int r = 0; r < world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    out.push_back(outs.emplace_back(size_t(bytes)).get());
  }
  const double t = impl_->seconds_per_call(world, iterations, [&] { impl_->launch_custom(plan, out); });
  return {t, wrong_elements(world, bytes / 2, {out.begin(), out.end()})};
}

GpuWorld::Timing GpuWorld::time_nccl(int world, int64_t bytes, int iterations) {
  const gpu::KeepCurrentDevice keep;  // rank r runs on GPU r
  impl_->reserve(world, 0);
  std::vector<gpu::DeviceBytes> ins, outs;
  std::vector<const uint8_t*> in;
  std::vector<uint8_t*> out;
  for (int r = 0; r < world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    ins.push_back(gpu::DeviceBytes(size_t(bytes)));
    outs.push_back(gpu::DeviceBytes(size_t(bytes)));
    fill_exact<<<264, 512>>>(ins.back().get<uint16_t>(), r, bytes / 2);
    ULPGATE_GPU_CHECK(cudaGetLastError());
    in.push_back(ins.back().get()), out.push_back(outs.back().get());
  }
  synchronize_devices(world);
  const double t = impl_->seconds_per_call(world, iterations, [&] { impl_->launch_nccl(world, Format::bf16, in, out, bytes / 2); });
  return {t, wrong_elements(world, bytes / 2, {out.begin(), out.end()})};
}

// Every rank's registered input filled with exactly summable bf16 values (the bench's).
void GpuWorld::Impl::fill_registered(int world, int64_t bytes) {
  reserve(world, bytes);
  for (int r = 0; r < world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    fill_exact<<<264, 512>>>(reinterpret_cast<uint16_t*>(ranks[size_t(r)].data), r, bytes / 2);
    ULPGATE_GPU_CHECK(cudaGetLastError());
  }
  synchronize_devices(world);
}

std::vector<void*> GpuWorld::Impl::streams(int world) const {
  std::vector<void*> s;
  for (int r = 0; r < world; ++r) s.push_back(ranks[size_t(r)].stream);
  return s;
}

namespace {

void require_bf16(const allreduce::FusedSpec& spec) {
  if (spec.norm.dtype != Format::bf16) throw GpuWorldError("the fused bench takes bf16 cases (its inputs are exactly summable bf16)");
}

std::vector<const uint8_t*> residuals_out(const FusedBenchRanks& b, int world) {
  std::vector<const uint8_t*> out;
  for (int r = 0; r < world; ++r) out.push_back(b.residual_out(r));
  return out;
}

}  // namespace

GpuWorld::Timing GpuWorld::time_fused(const allreduce::FusedSpec& spec, int iterations) {
  const gpu::KeepCurrentDevice keep;  // rank r runs on GPU r
  require_bf16(spec);
  const int64_t bytes = spec.sum_spec().bytes();
  impl_->fill_registered(spec.world, bytes);
  const FusedBenchRanks bench(spec);
  const WorldPointers p = impl_->pointers(spec.world);
  const std::vector<void*> streams = impl_->streams(spec.world);
  const double t = impl_->seconds_per_call(spec.world, iterations, [&] { bench.launch_fused(p, streams); });
  return {t, wrong_elements(spec.world, bytes / 2, residuals_out(bench, spec.world))};
}

GpuWorld::Timing GpuWorld::time_unfused(const allreduce::FusedSpec& spec, int iterations) {
  const gpu::KeepCurrentDevice keep;  // rank r runs on GPU r
  require_bf16(spec);
  const int64_t bytes = spec.sum_spec().bytes();
  impl_->fill_registered(spec.world, bytes);
  const FusedBenchRanks bench(spec);
  std::vector<gpu::DeviceBytes> sums;
  std::vector<const uint8_t*> in;
  std::vector<uint8_t*> out;
  for (int r = 0; r < spec.world; ++r) {
    ULPGATE_GPU_CHECK(cudaSetDevice(r));
    out.push_back(sums.emplace_back(size_t(bytes)).get());
    in.push_back(impl_->ranks[size_t(r)].data);
  }
  const std::vector<void*> streams = impl_->streams(spec.world);
  const double t = impl_->seconds_per_call(spec.world, iterations, [&] {
    impl_->launch_nccl(spec.world, Format::bf16, in, out, bytes / 2);
    bench.launch_norm(out, streams);
  });
  return {t, wrong_elements(spec.world, bytes / 2, residuals_out(bench, spec.world))};
}

// ---- one rank per process -------------------------------------------------------------------

struct GpuRank::Impl {
  int rank, world, device;
  int64_t limit;
  Exchange exchange;
  Rank mine;
  WorldPointers peers{};  // every rank's buffers as this process addresses them (IPC mappings)
  std::vector<void*> opened;
  ncclComm_t comm = nullptr;

  Impl(int r, int w, Exchange e, int64_t l) : rank(r), world(w), device(0), limit(l), exchange(std::move(e)) {
    require_no_nvls();
    if (world > gpu_count())
      throw GpuWorldError("a world of " + std::to_string(world) + " ranks needs as many GPUs; " +
                          std::to_string(gpu_count()) + " present");
    device = rank % gpu_count();
    ULPGATE_GPU_CHECK(cudaSetDevice(device));
    mine = Rank::allocate(0);  // the signal and the stream; the buffers when the custom kernels first run
  }
  ~Impl() {
    (void)cudaSetDevice(device);
    if (comm) (void)ncclCommDestroy(comm);
    for (void* p : opened) (void)cudaIpcCloseMemHandle(p);
    mine.release();
  }

  void require_world(int w) const {
    if (w != world) throw GpuWorldError("a world of " + std::to_string(w) + " ranks on " + std::to_string(world) + " processes");
  }

  // Once, all ranks together: allocate this rank's buffers and signal, hand their IPC handles to
  // every peer, map theirs. The exchange returns only when every rank's signal is zeroed.
  const WorldPointers& registered() {
    if (mine.data) return peers;
    ULPGATE_GPU_CHECK(cudaSetDevice(device));
    ULPGATE_GPU_CHECK(cudaMalloc(&mine.data, size_t(limit)));
    ULPGATE_GPU_CHECK(cudaMalloc(&mine.tmp, size_t(limit)));
    ULPGATE_GPU_CHECK(cudaDeviceSynchronize());
    cudaIpcMemHandle_t handles[3];
    void* const own[3] = {mine.data, mine.tmp, mine.signal};
    for (int i = 0; i < 3; ++i) ULPGATE_GPU_CHECK(cudaIpcGetMemHandle(&handles[i], own[i]));
    const std::vector<std::string> all = exchange(std::string(reinterpret_cast<const char*>(handles), sizeof handles));
    if (all.size() != size_t(world))
      throw GpuWorldError("IPC handle exchange: " + std::to_string(all.size()) + " ranks answered, " + std::to_string(world) +
                          " expected");
    for (int r = 0; r < world; ++r) {
      void* at[3] = {own[0], own[1], own[2]};
      if (r != rank) {
        std::memcpy(handles, all[size_t(r)].data(), sizeof handles);
        for (int i = 0; i < 3; ++i) {
          ULPGATE_GPU_CHECK(cudaIpcOpenMemHandle(&at[i], handles[i], cudaIpcMemLazyEnablePeerAccess));
          opened.push_back(at[i]);
        }
      }
      peers.data[r] = static_cast<uint8_t*>(at[0]), peers.tmp[r] = static_cast<uint8_t*>(at[1]);
      peers.signal[r] = static_cast<Signal*>(at[2]);
    }
    return peers;
  }

  // Once, all ranks together: rank 0's NCCL id to every rank, then ncclCommInitRank.
  ncclComm_t communicator() {
    if (comm) return comm;
    ULPGATE_GPU_CHECK(cudaSetDevice(device));
    ncclUniqueId id{};
    if (rank == 0) ULPGATE_NCCL_CHECK(ncclGetUniqueId(&id));
    const std::vector<std::string> all = exchange(rank == 0 ? std::string(reinterpret_cast<const char*>(&id), sizeof id) : "");
    if (all.empty() || all[0].size() != sizeof id) throw GpuWorldError("NCCL id exchange: rank 0 sent no id");
    std::memcpy(&id, all[0].data(), sizeof id);
    ULPGATE_NCCL_CHECK(ncclCommInitRank(&comm, world, id, rank));
    return comm;
  }
};

GpuRank::GpuRank(int rank, int world, Exchange exchange, int64_t registered_bytes)
    : impl_(std::make_unique<Impl>(rank, world, std::move(exchange), registered_bytes)) {}
GpuRank::~GpuRank() = default;

allreduce::Order GpuRank::custom(const allreduce::Spec& spec, const allreduce::RankBuffers& mine) {
  Impl& m = *impl_;
  m.require_world(spec.world);
  const Plan plan = plan_allreduce(spec, std::min(spec.variant->max_bytes, m.limit), kGpuBlocks, kGpuThreads);
  const WorldPointers& p = m.registered();
  ULPGATE_GPU_CHECK(cudaSetDevice(m.device));
  const size_t at = offset_bytes(spec), bytes = size_t(spec.bytes());
  Storage s = upload(spec, m.rank, mine, false);
  if (bytes) ULPGATE_GPU_CHECK(cudaMemcpy(m.mine.data, mine.input.data() + at, bytes, cudaMemcpyHostToDevice));
  launch_custom_rank(plan, p, m.rank, s.out.get() + at, m.mine.stream);
  ULPGATE_GPU_CHECK(cudaStreamSynchronize(m.mine.stream));
  std::vector<guard::Violation> outside;
  download(mine, s, outside);
  throw_outside(std::move(outside));
  return plan.kernel;
}

void GpuRank::fused(const allreduce::FusedSpec& spec, const allreduce::FusedRankBuffers& mine) {
  Impl& m = *impl_;
  m.require_world(spec.world);
  const WorldPointers& p = m.registered();
  void* const stream = m.mine.stream;
  run_fused_ranks_gpu(spec, m.rank, std::span(&mine, 1), std::span(&m.device, 1), std::span(&stream, 1), p, m.limit);
}

std::string GpuRank::nccl(const allreduce::Spec& spec, const allreduce::RankBuffers& mine) {
  Impl& m = *impl_;
  m.require_world(spec.world);
  const ncclComm_t comm = m.communicator();
  ULPGATE_GPU_CHECK(cudaSetDevice(m.device));
  const size_t at = offset_bytes(spec);
  Storage s = upload(spec, m.rank, mine, true);
  uint8_t* out = s.out.get() + at;
  ULPGATE_NCCL_CHECK(ncclAllReduce(s.in ? s.in->get() + at : out, out, size_t(spec.view.count), nccl_type(spec.dtype), ncclSum,
                                   comm, m.mine.stream));
  ULPGATE_GPU_CHECK(cudaStreamSynchronize(m.mine.stream));
  std::vector<guard::Violation> outside;
  download(mine, s, outside);
  throw_outside(std::move(outside));
  return nccl_version("ncclCommInitRank, one rank per process");
}

}  // namespace ulpgate::allreduce_kernels
