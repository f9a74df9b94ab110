// The device GEMM reference on CUDA (reference_gpu.hpp): the pipeline of reference_pipeline.hpp
// over CudaBackend, whose ideal runs on int8 tensor cores where the formats allow (e4m3 operands,
// scales per tensor, row or 128 of K: ideal_tensor_cores.cuh) and else through block sums that are
// cuBLASLt DGEMMs (BlockSumGemm). CUDA only (cuBLASLt, mma.sync, events); the other kernels are the
// portable ones the host-SIMT tests hold to reference/gemm.
//
// At 8192^3 e4m3 gemm.block on an H200 (golden/sm90/bench.csv): the ideal on tensor cores, where it
// was 64 strided-batched DGEMMs of k = 128 (1.1e12 flops, writing 32 GB of block sums) and the fold
// reading them (33-34 ms); the comparison 0.8-1.0 ms. The sm90 replay 127.4 ms (target 100), with
// its error bound 177.4 ms (replay_kernels.hpp Replay).
#include "kernels/gemm/reference_gpu.hpp"

#include <cublasLt.h>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "kernels/gemm/cublaslt_objects.hpp"
#include "kernels/gemm/ideal_tensor_cores.cuh"
#include "kernels/gemm/reference_pipeline.hpp"
#include "kernels/portable/gpu.hpp"
#include "kernels/portable/gpu_bench.cuh"
#include "kernels/portable/gpu_pipeline.cuh"
#include "reference/gemm/detail.hpp"

namespace ulpgate::gemm_kernels {
namespace {

[[noreturn]] void cublas_fail(const char* call, cublasStatus_t s, const char* file, int line) {
  throw ReferenceGpuError(std::string(call) + " failed: " + cublasLtGetStatusName(s) + " (" + cublasLtGetStatusString(s) +
                          ", " + file + ":" + std::to_string(line) + ")");
}
#define ULPGATE_CUBLAS_CHECK(call)                                                            \
  do {                                                                                        \
    const cublasStatus_t ulpgate_cublas_status_ = (call);                                     \
    if (ulpgate_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                      \
      cublas_fail(#call, ulpgate_cublas_status_, __FILE__, __LINE__);                         \
  } while (0)

// The block sums' strided-batched DGEMM through cuBLASLt, in CUBLAS_COMPUTE_64F: IEEE fp64 (DMMA
// on sm90), never an emulation. Every algorithm gives the same exact sums (BlockSums), so a large
// shape takes the fastest of cuBLASLt's heuristic candidates, timed once a shape in the process;
// a small one its first candidate (cuBLAS's own choice). H200, 8192^3 gemm.block (64 batches of
// 8192 x 8192 x 128): the first candidate, 64 x 64 tiles, 23.9 ms; 128 x 64 tiles, 3 stages, 21.4.
class BlockSumGemm {
 public:
  BlockSumGemm() { ULPGATE_CUBLAS_CHECK(cublasLtCreate(&handle_.h)); }

  // cuBLAS is column-major: the row-major [N, kpad] B is a column-major kpad x N matrix, so
  // op(B^T) is N x chunk_k; A likewise; C^T (N x rows, column-major) is the row-major [rows, N]
  // block sum. Batch c starts chunk_k columns further along K.
  void run(const BlockSums& s, cudaStream_t stream) {
    const std::lock_guard<std::mutex> hold(lock_);
    MatmulDesc desc;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc.h, CUBLAS_COMPUTE_64F, CUDA_R_64F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc.h, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc.h, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    LayoutDesc a, b, c;
    layout(b, s.chunk_k, s.n, s.kpad, s.chunk_k, s.chunks);  // cuBLAS's A: our B
    layout(a, s.chunk_k, s.rows, s.kpad, s.chunk_k, s.chunks);
    layout(c, s.n, s.rows, s.n, s.rows * s.n, s.chunks);
    const double one = 1, zero = 0;
    const auto matmul = [&](const cublasLtMatmulAlgo_t& algo) {
      ULPGATE_CUBLAS_CHECK(cublasLtMatmul(handle_.h, desc.h, &one, s.b, b.h, s.a, a.h, &zero, s.c, c.h, s.c, c.h, &algo,
                                          nullptr, 0, stream));
    };
    const Shape shape{s.rows, s.n, s.chunk_k, s.chunks, s.kpad};
    auto it = chosen_.find(shape);
    if (it == chosen_.end()) it = chosen_.emplace(shape, choose(desc.h, a.h, b.h, c.h, shape, matmul, stream)).first;
    matmul(it->second);
  }

 private:
  using Shape = std::array<int64_t, 5>;  // rows, n, chunk_k, chunks, kpad
  static constexpr int kCandidates = 8;
  static constexpr double kTunedFlops = 0x1p36;  // below: the first candidate (timing would cost more than it saves)

  static void layout(LayoutDesc& m, int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&m.h, CUDA_R_64F, uint64_t(rows), uint64_t(cols), ld));
    const auto count = int32_t(batch);
    ULPGATE_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(m.h, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
    ULPGATE_CUBLAS_CHECK(
        cublasLtMatrixLayoutSetAttribute(m.h, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
  }

  // cuBLASLt's candidates without workspace; for a large shape each timed once (after one run
  // that warms them all up) on the stream, the fastest kept.
  template <class Matmul>
  cublasLtMatmulAlgo_t choose(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                              cublasLtMatrixLayout_t c, const Shape& shape, const Matmul& matmul, cudaStream_t stream) {
    PreferenceDesc pref;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref.h));
    std::array<cublasLtMatmulHeuristicResult_t, kCandidates> found{};
    int count = 0;
    ULPGATE_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_.h, desc, b, a, c, c, pref.h, kCandidates, found.data(), &count));
    if (count == 0) throw ReferenceGpuError("cuBLASLt offers no fp64 algorithm for the block sums");
    const double flops = 2.0 * double(shape[0]) * double(shape[1]) * double(shape[2]) * double(shape[3]);
    if (count == 1 || flops < kTunedFlops) return found[0].algo;
    const gpu_bench::Event start = gpu_bench::make_event(), stop = gpu_bench::make_event();
    float best_ms = 0;
    int best = 0;
    for (int i = 0; i < count; ++i) matmul(found[size_t(i)].algo);
    for (int i = 0; i < count; ++i) {
      ULPGATE_GPU_CHECK(cudaEventRecord(start.get(), stream));
      matmul(found[size_t(i)].algo);
      ULPGATE_GPU_CHECK(cudaEventRecord(stop.get(), stream));
      ULPGATE_GPU_CHECK(cudaEventSynchronize(stop.get()));
      float ms = 0;
      ULPGATE_GPU_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
      if (i == 0 || ms < best_ms) best_ms = ms, best = i;
    }
    return found[size_t(best)].algo;
  }

  std::mutex lock_;
  Descriptor<cublasLtHandle_t, cublasLtDestroy> handle_;
  std::map<Shape, cublasLtMatmulAlgo_t> chosen_;
};
BlockSumGemm& block_sum_gemm() {
  static BlockSumGemm g;
  return g;
}

// The pipeline's device on CUDA, with cuBLASLt DGEMMs for the block sums.
using gpu::PoolMemory;

class CudaBackend : public gpu::PipelineDevice {
 public:
  using PipelineDevice::PipelineDevice;

  void block_sums(const BlockSums& s) { block_sum_gemm().run(s, stream()); }
  void ideal_on_tensor_cores(const IdealPlan& plan, const TensorIdeal& t) {
    gemm_kernels::ideal_on_tensor_cores(*this, plan, t);
  }

  // Half the memory free or cached here, at most 32 GiB: the slabs' block sums (all of 8192^3
  // gemm.block in one). Counting the cache keeps the slabs, so the buffers, the same run after run.
  std::size_t scratch_bytes() const {
    std::size_t free = 0, total = 0;
    ULPGATE_GPU_CHECK(cudaMemGetInfo(&free, &total));
    return std::min<std::size_t>((free + cached_bytes()) / 2, std::size_t(32) << 30);
  }
};

cudaStream_t stream_of(void* s) { return static_cast<cudaStream_t>(s); }

// Runs fn, turning runtime failures into ReferenceGpuError (usage errors pass through).
template <class Fn>
decltype(auto) guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const gpu::GpuError& e) {
    throw ReferenceGpuError(e.what());
  }
}

void check_spec(const gemm::Spec& spec) {
  if (const std::string p = spec.problem(); !p.empty()) throw UsageError("gemm: " + p);
}

// The operands of a device call, copied to the host once (only when the host must evaluate some
// elements).
class HostCopy {
 public:
  HostCopy(CudaBackend& be, const gemm::Spec& spec, const DeviceOperands& in) : be_(be), spec_(spec), in_(in) {}
  const gemm::Operands& operator()() {
    if (!copy_) {
      const gemm::Geometry g = geometry(spec_);
      gemm::Operands o{std::vector<uint8_t>(size_t(spec_.m * spec_.k)), std::vector<uint8_t>(size_t(spec_.n * spec_.k)),
                       std::vector<float>(size_t(g.sa.m * g.sa.g)), std::vector<float>(size_t(g.sb.m * g.sb.g))};
      be_.to_host(o.a.data(), in_.a, o.a.size());
      be_.to_host(o.b.data(), in_.b, o.b.size());
      be_.to_host(o.sa.data(), in_.sa, o.sa.size() * sizeof(float));
      be_.to_host(o.sb.data(), in_.sb, o.sb.size() * sizeof(float));
      copy_ = std::move(o);
    }
    return *copy_;
  }

 private:
  CudaBackend& be_;
  const gemm::Spec& spec_;
  DeviceOperands in_;
  std::optional<gemm::Operands> copy_;
};

}  // namespace

std::string reference_gpu_unavailable() { return quant_kernels::gpu_unavailable_reason(); }

GpuIdeal ideal_gpu(const gemm::Spec& spec, const gemm::Operands& in) {
  return guarded([&] {
    CudaBackend be(nullptr);
    return ideal_of(be, spec, in);
  });
}

gemm::Output replay_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in) {
  return guarded([&] {
    CudaBackend be(nullptr);
    return replay_of(be, spec, model, in, false).out;
  });
}

gemm::Replay bounded_replay_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in) {
  return guarded([&] {
    CudaBackend be(nullptr);
    return replay_of(be, spec, model, in, true);
  });
}

std::unique_ptr<HeldOperands> hold_operands_gpu(const gemm::Spec& spec, const gemm::Operands& in) {
  const auto guard = [](auto&& fn) { return guarded(fn); };
  return guarded([&] { return std::make_unique<HeldOn<CudaBackend, decltype(guard)>>(spec, in, guard, nullptr); });
}

GpuComparison compare_gpu(const gemm::Spec& spec, const gemm::Ideal& expected, const gemm::Output& got,
                          const CompareBudget& budget) {
  return guarded([&] {
    CudaBackend be(nullptr);
    return compare_of(be, spec, expected.out, expected.exact, got, budget);
  });
}

GpuComparison compare_gpu(const gemm::Spec& spec, const gemm::Output& expected, const gemm::Output& got,
                          const CompareBudget& budget) {
  return guarded([&] {
    CudaBackend be(nullptr);
    return compare_of(be, spec, expected, {}, got, budget);
  });
}

IdealCounts ideal_gpu(const gemm::Spec& spec, const DeviceOperands& in, uint32_t* bits, double* exact, void* stream) {
  check_spec(spec);
  return guarded([&] {
    CudaBackend be(stream_of(stream));
    return Pipeline<CudaBackend>(be).ideal(spec, in, bits, exact, HostCopy(be, spec, in));
  });
}

int64_t replay_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, const DeviceOperands& in, uint32_t* bits,
                   double* bound, void* stream) {
  check_spec(spec);
  return guarded([&] {
    CudaBackend be(stream_of(stream));
    return Pipeline<CudaBackend>(be).replay(spec, model, in, bits, bound, HostCopy(be, spec, in));
  });
}

GpuComparison compare_gpu(const gemm::Spec& spec, const uint32_t* expected, const double* exact, const void* got,
                          double ulps, const double* bound, void* stream) {
  check_spec(spec);
  return guarded([&] {
    CudaBackend be(stream_of(stream));
    return Pipeline<CudaBackend>(be).compare(spec, expected, exact, got, ulps, bound);
  });
}

namespace {

// Random operands of the spec on the device (reference_kernels.hpp RandomCodes / RandomScales).
struct BenchOperands {
  PoolMemory<uint8_t> a, b;
  PoolMemory<float> sa, sb;
  DeviceOperands view() const { return {a.get(), b.get(), sa.get(), sb.get()}; }
};

PoolMemory<uint8_t> random_codes(CudaBackend& be, Format f, int64_t count, uint64_t seed) {
  const gemm::detail::CodeTable& t = gemm::detail::code_table(f);
  std::vector<uint8_t> finite;
  for (int c = 0; c < 256; ++c)
    if (t.finite[c]) finite.push_back(uint8_t(c));
  auto table = upload(be, finite.data(), finite.size());
  auto codes = be.alloc<uint8_t>(size_t(count));
  if (count > 0) be.launch({{4096}, {256}}, RandomCodes{codes.get(), count, table.get(), int(finite.size()), seed});
  return codes;
}

PoolMemory<float> random_scales(CudaBackend& be, int64_t count, uint64_t seed) {
  auto s = be.alloc<float>(size_t(count));
  if (count > 0) be.launch({{256}, {256}}, RandomScales{s.get(), count, seed});
  return s;
}

double ms(const gpu_bench::Timing& t) { return t.median_us / 1000; }

}  // namespace

ReferenceTimings bench_reference_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, int reps) {
  check_spec(spec);
  return guarded([&] {
    CudaBackend be(nullptr);
    const gemm::Geometry g = geometry(spec);
    const BenchOperands in{random_codes(be, spec.a_format, spec.m * spec.k, 1),
                           random_codes(be, spec.b_format, spec.n * spec.k, 2),
                           random_scales(be, g.sa.m * g.sa.g, 3), random_scales(be, g.sb.m * g.sb.g, 4)};
    const auto size = size_t(spec.m * spec.n);
    auto bits = be.alloc<uint32_t>(size), model_bits = be.alloc<uint32_t>(size);
    auto exact = be.alloc<double>(size);
    auto got = be.alloc<uint32_t>(size);  // D as the kernel under test stores it (the replay's)
    Pipeline<CudaBackend> run(be);
    HostCopy host(be, spec, in.view());
    run.replay(spec, model, in.view(), model_bits.get(), nullptr, host);
    with_out(spec.out, [&](auto out) {
      constexpr Format F = decltype(out)::value;
      be.launch({{4096}, {256}}, StoreBits<F>{model_bits.get(), reinterpret_cast<typename OutFormat<F>::Storage*>(got.get()),
                                              int64_t(size)});
    });
    ReferenceTimings t;
    t.runs = reps;
    t.host_resolved = run.ideal(spec, in.view(), bits.get(), exact.get(), host).host_resolved;
    t.ideal_compare_ms = ms(gpu_bench::time_runs(reps, [&](int) {
      run.ideal(spec, in.view(), bits.get(), exact.get(), host);
      run.compare(spec, bits.get(), exact.get(), got.get(), 0.5, nullptr);
    }));
    t.ideal_ms = ms(gpu_bench::time_runs(reps, [&](int) { run.ideal(spec, in.view(), bits.get(), exact.get(), host); }));
    t.compare_ms = ms(gpu_bench::time_runs(reps, [&](int) { run.compare(spec, bits.get(), exact.get(), got.get(), 0.5, nullptr); }));
    t.replay_ms = ms(gpu_bench::time_runs(reps, [&](int) { run.replay(spec, model, in.view(), model_bits.get(), nullptr, host); }));
    {
      auto bound = be.alloc<double>(size);
      t.bounded_replay_ms = ms(gpu_bench::time_runs(
          reps, [&](int) { run.replay(spec, model, in.view(), model_bits.get(), bound.get(), host); }));
    }
    be.synchronize();
    return t;
  });
}

}  // namespace ulpgate::gemm_kernels
