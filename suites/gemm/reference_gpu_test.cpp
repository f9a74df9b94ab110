// The device GEMM reference on a CUDA device against the CPU reference, bit for bit: the ideal
// (bits and exact values) and the sm90 and fp32-fma models' replay (bits and bounds) on moderate
// shapes and DeepSeek's M=128, N=7168, K=2048, edge inputs through the device-pointer API, the
// comparison against the host-SIMT emulator's. Then the timings at 8192^3 (printed). Skips where no CUDA device is present.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "gemm_test_util.hpp"
#include "reference_test_util.hpp"
#include "kernels/gemm/reference_gpu.hpp"
#include "kernels/gemm/reference_host.hpp"

using namespace gemm_test;
namespace gk = ulpgate::gemm_kernels;

namespace {

constexpr Format e4m3 = Format::e4m3fn, e5m2 = Format::e5m2;

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = gk::reference_gpu_unavailable(); !why.empty()) GTEST_SKIP() << why;
  }
};

template <class Fn>
double seconds(Fn&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string label(const Spec& s) {
  return std::string(op_name(s.op)) + "/" + std::string(s.profile->name) + "/" + std::string(format_name(s.a_format)) +
         "x" + std::string(format_name(s.b_format)) + "/" + std::string(format_name(s.out)) + "/" + std::to_string(s.m) +
         "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

void expect_ideal(const Spec& s, const Operands& in) {
  Ideal want;
  const double cpu = seconds([&] { want = gemm_ideal(s, in); });
  gk::GpuIdeal got;
  const double gpu = seconds([&] { got = gk::ideal_gpu(s, in); });
  EXPECT_EQ(ideal_mismatches(got.ideal, want, label(s)), 0);
  std::printf("  ideal  %-48s cpu %7.3f s  gpu %7.3f s (with copies)  host-resolved %lld\n", label(s).c_str(), cpu, gpu,
              (long long)got.host_resolved);
}

// The replay's bits, and with its bound (the harness's launch) bits and bound, against
// gemm_replay.
void expect_replay(const Spec& s, const AccumModel& model, const Operands& in) {
  Replay want;
  const double cpu = seconds([&] { want = gemm_replay(s, model, in); });
  Output got;
  const double gpu = seconds([&] { got = gk::replay_gpu(s, model, in); });
  Replay bounded;
  const double gpu_bound = seconds([&] { bounded = gk::bounded_replay_gpu(s, model, in); });
  int64_t bad = 0;
  for (size_t i = 0; i < want.out.bits.size(); ++i)
    if ((got.bits[i] != want.out.bits[i] || bounded.out.bits[i] != want.out.bits[i] ||
         std::memcmp(&bounded.bound[i], &want.bound[i], sizeof(double)) != 0) &&
        ++bad <= 5)
      ADD_FAILURE() << label(s) << " " << model.name << " at " << i << ": " << got.bits[i] << " / " << bounded.out.bits[i]
                    << " vs " << want.out.bits[i] << ", bound " << bounded.bound[i] << " vs " << want.bound[i];
  EXPECT_EQ(bad, 0) << label(s) << " " << model.name;
  std::printf("  %-6s %-48s cpu %7.3f s  gpu %7.3f s, with the bound %7.3f s (with copies)\n",
              std::string(model.name).substr(0, 6).c_str(), label(s).c_str(), cpu, gpu, gpu_bound);
}

struct Shape3 {
  int64_t m, n, k;
};

Spec make(Op op, std::string_view profile, Shape3 x, Format a = e4m3, Format b = e4m3, Format out = Format::bf16) {
  return make_spec(op, profile, x.m, x.n, x.k, a, b, out);
}

constexpr Shape3 kModerate{256, 512, 1024}, kDeepSeek{128, 7168, 2048};

TEST_F(Gpu, IdealIsGemmIdealBitForBit) {
  uint64_t seed = 1;
  for (const Spec& s : {make(Op::block, "cublaslt", kModerate), make(Op::block, "cublaslt", kModerate, e4m3, e4m3, Format::fp32),
                        make(Op::tensor, "cublaslt", kModerate), make(Op::rowwise, "cublaslt", kModerate, e4m3, e4m3, Format::fp32),
                        make(Op::block, "cutlass-blockwise", kModerate, e5m2, e5m2), make(Op::block, "cublaslt", {257, 300, 1000}),
                        make(Op::rowwise, "cublaslt", {257, 300, 1000}),
                        make(Op::block, "cublaslt", kDeepSeek)}) {
    expect_ideal(s, random_operands(s, seed++, Data::normal));
    expect_ideal(s, random_operands(s, seed++, Data::codes));
  }
}

// Outputs whose exact value is a bf16 tie reached through a sum that fp64 cannot hold (2^60 +
// v + 2^-8 - 2^60 over three scale blocks: hi drops v + 2^-8, lo keeps it): the tensor-core
// ideal's rounded pass leaves them undecided and its exact pass decides them on the device, so
// none goes to the host.
TEST_F(Gpu, IdealDecidesExactTiesOnTheDevice) {
  const Spec s = make(Op::block, "cublaslt", {96, 160, 384});
  const Geometry geo = geometry(s);
  Operands in;
  in.a.assign(size_t(s.m * s.k), to_code(e4m3, 0)), in.b.assign(size_t(s.n * s.k), to_code(e4m3, 0));
  for (int64_t r = 0; r < s.m; ++r) {
    uint8_t* a = in.a.data() + r * s.k;
    a[0] = to_code(e4m3, 1), a[128] = to_code(e4m3, 1 + double(r % 8) / 8), a[129] = to_code(e4m3, 0x1p-4),
    a[256] = to_code(e4m3, -1);
  }
  for (int64_t j = 0; j < s.n; ++j) {
    uint8_t* b = in.b.data() + j * s.k;
    b[0] = b[128] = b[256] = to_code(e4m3, j % 2 ? -1 : 1), b[129] = to_code(e4m3, j % 2 ? -0x1p-4 : 0x1p-4);
  }
  const auto scales = [](int64_t count, int64_t blocks) {  // 2^30, 1, 2^30 along K
    std::vector<float> v(size_t(count * blocks));
    for (size_t i = 0; i < v.size(); ++i) v[i] = i % size_t(blocks) == 1 ? 1.0f : 0x1p30f;
    return v;
  };
  in.sa = scales(geo.sa.m, geo.sa.g), in.sb = scales(geo.sb.m, geo.sb.g);
  const Ideal want = gemm_ideal(s, in);
  const gk::GpuIdeal got = gk::ideal_gpu(s, in);
  EXPECT_EQ(ideal_mismatches(got.ideal, want, label(s)), 0);
  EXPECT_EQ(got.host_resolved, 0);
  for (int64_t r = 0; r < s.m; ++r)  // the data is what the test says: every output a tie
    EXPECT_EQ(want.exact[size_t(r * s.n)], 1 + double(r % 8) / 8 + 0x1p-8) << "row " << r;
}

TEST_F(Gpu, ReplayIsGemmModelBitForBit) {
  uint64_t seed = 100;
  for (std::string_view name : {"sm90", "sm90-fast-accum", "fp32-fma"})
    for (const Spec& s : {make(Op::block, "cublaslt", kModerate), make(Op::tensor, "cublaslt", kModerate, e4m3, e5m2, Format::fp32),
                          make(Op::rowwise, "cublaslt", kModerate), make(Op::block, "cutlass-blockwise", {257, 300, 1000}, e5m2, e4m3),
                          make(Op::block, "cublaslt", kDeepSeek)})
      expect_replay(s, model(name), random_operands(s, seed++, Data::normal));
}

// The comparison on the GPU and on the emulator: the same counts, histogram, map and list.
TEST_F(Gpu, ComparisonIsTheEmulatorsComparison) {
  const Spec s = make(Op::block, "cublaslt", kModerate);
  const Operands in = random_operands(s, 7, Data::normal);
  const Ideal ideal = gemm_ideal(s, in);
  const Output got = gemm_model(s, model("sm90-fast-accum"), in);
  for (double ulps : {0.0, 0.5, 2.0}) {
    const gk::GpuComparison g = gk::compare_gpu(s, ideal, got, {ulps, {}});
    EXPECT_GT(g.over + g.within, 0);
    expect_same(g, gk::compare_host(kSm90, s, ideal, got, {ulps, {}}));
  }
}

// Device buffers the test owns, poisoned.
template <class T>
struct DeviceVector {
  T* p = nullptr;
  size_t n;
  explicit DeviceVector(size_t count) : n(count) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&p), std::max<size_t>(n, 1) * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemset(p, 0xA5, n * sizeof(T)), cudaSuccess);
  }
  explicit DeviceVector(const std::vector<T>& v) : DeviceVector(v.size()) {
    EXPECT_EQ(cudaMemcpy(p, v.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceVector() { cudaFree(p); }
  std::vector<T> host() const {
    std::vector<T> v(n);
    EXPECT_EQ(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }
};

// NaN and Inf inputs through the device-pointer API: the touched outputs are evaluated on the host
// from operands it copies back, and written to the device result; e4m3 x e5m2 through the fp64
// block sums, e4m3 x e4m3 on tensor cores (IdealPlan::tensor_cores).
TEST_F(Gpu, DevicePointerApiWithNonFiniteInputs) {
  for (const Format b_format : {e5m2, e4m3}) {
    const Spec s = make(Op::block, "cutlass-blockwise", {100, 140, 300}, e4m3, b_format);
    Operands in = random_operands(s, 9, Data::normal);
    in.a[size_t(3 * s.k + 5)] = 0x7F;
    in.b[size_t(7 * s.k + 9)] = b_format == e5m2 ? 0x7C : 0x7F;  // Inf, NaN
    in.sa[4] = std::numeric_limits<float>::quiet_NaN();
    const DeviceVector<uint8_t> a(in.a), b(in.b);
    const DeviceVector<float> sa(in.sa), sb(in.sb);
    DeviceVector<uint32_t> bits(size_t(s.m * s.n)), model_bits(size_t(s.m * s.n));
    DeviceVector<double> exact(size_t(s.m * s.n));
    const gk::IdealCounts c = gk::ideal_gpu(s, {a.p, b.p, sa.p, sb.p}, bits.p, exact.p);
    EXPECT_GT(c.nonfinite, 0);
    const Ideal want = gemm_ideal(s, in);
    EXPECT_EQ(ideal_mismatches({{s.out, bits.host()}, exact.host()}, want, label(s)), 0);
    EXPECT_GT(gk::replay_gpu(s, model("sm90"), {a.p, b.p, sa.p, sb.p}, model_bits.p), 0);
    EXPECT_EQ(model_bits.host(), gemm_model(s, model("sm90"), in).bits);
  }
}

// Timings at production shapes (printed; the targets: ideal + comparison <= 50 ms, replay <= 1 s
// at 8192^3 gemm.block on an H200).
TEST_F(Gpu, Timings) {
  cudaDeviceProp prop{};
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  std::printf("device %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  for (const Spec& s : {make(Op::block, "cublaslt", {8192, 8192, 8192}), make(Op::tensor, "cublaslt", {8192, 8192, 8192}),
                        make(Op::block, "cublaslt", kDeepSeek)}) {
    const gk::ReferenceTimings t = gk::bench_reference_gpu(s, model("sm90"), 5);
    std::printf("  %-44s ideal+compare %8.2f ms (ideal %8.2f, compare %6.2f)  sm90 replay %8.2f ms  host-resolved %lld\n",
                label(s).c_str(), t.ideal_compare_ms, t.ideal_ms, t.compare_ms, t.replay_ms, (long long)t.host_resolved);
    EXPECT_EQ(t.host_resolved, 0);
  }
}

}  // namespace
