// The GEMM reference (reference/gemm) at GPU speed: the exact ideal, a kernel's output compared
// with it, and the sm90 accumulator models' replay, on a CUDA device (reference_gpu.cu; cuBLAS
// DGEMM for the exact block sums). Plain C++ declarations, so the harness links them without a GPU
// compiler. The same kernels run on the host-SIMT emulator (reference_host.hpp), where the tests
// hold them bit for bit to gemm_ideal and gemm_model.
//
// Every result equals the CPU reference's bit for bit: where the device cannot decide a rounding
// (astronomically rare: see reference_math.hpp round_exact) or an output touches a NaN/Inf input,
// that element is evaluated on the host by reference/gemm itself.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/gemm/gemm.hpp"

namespace ulpgate::gemm_kernels {

// A runtime, cuBLAS or kernel failure (names the call and its status), or a spec / model the
// device reference does not run (names why).
struct ReferenceGpuError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr int kCompareBins = 34;  // reference_math.hpp kUlpBins

// An element of D that is over its budget.
struct BadElement {
  int64_t m = 0, n = 0;
  uint32_t expected = 0, got = 0;  // bits of spec.out
  double exact = 0;                // the exact value (or the expected bits' value)
  double ulp_error = 0;            // |got - exact| / ulp(exact)
};

// What a comparison of a kernel's D with the expected result allows per element: exact when the
// codes coincide (NaN with NaN); within when |got - exact| <= bound[i] + ulps ulp_out(exact)
// (double arithmetic; bound empty: 0); over otherwise (a NaN against a number always).
struct CompareBudget {
  double ulps = 0;
  std::span<const double> bound;  // [M, N] absolute, e.g. gemm::error_bound's B_acc
};

struct GpuComparison {
  int64_t exact = 0, within = 0, over = 0;
  // Code distance |ordinal(got) - ordinal(expected)|: bin 0 none, bin i in [1, 32] a distance in
  // [2^(i-1), 2^i), bin 33 a NaN against a number.
  std::array<int64_t, kCompareBins> ulp_histogram{};
  double max_ulp_error = 0;           // over all elements (Inf where a non-finite value differs)
  std::vector<BadElement> first_bad;  // the first over-budget elements in row-major order (<= 8)
  int64_t tiles_m = 0, tiles_n = 0;   // 128 x 128 output tiles
  std::vector<int32_t> tile_over;     // over-budget elements per tile, [tiles_m, tiles_n] row-major
  std::vector<float> tile_max_ulp;    // the largest ulp error per tile
};

// The ideal and what it took: elements whose rounding was resolved on the host, and elements
// touching a NaN/Inf input (evaluated on the host in IEEE double, as gemm_ideal does).
struct GpuIdeal {
  gemm::Ideal ideal;
  int64_t host_resolved = 0, nonfinite = 0;
};

// Empty when a CUDA device can be used, else why not.
std::string reference_gpu_unavailable();

// Why replay_gpu does not replay `model` on this spec (empty: it does); no device needed.
std::string replay_declines(const gemm::Spec& spec, const gemm::AccumModel& model);

// gemm_ideal on the device, bit for bit (bits and exact). Any op, any fp8 pair (e5m2 pairs split
// into exact parts: up to 4 DGEMMs per K-block). Throws UsageError like gemm_ideal, or
// ReferenceGpuError.
GpuIdeal ideal_gpu(const gemm::Spec& spec, const gemm::Operands& in);

// gemm_model on the device, bit for bit, for the accumulator models of sm90 MMA steps (k = 32,
// truncating alignment and sum, <= 16 fraction bits: `sm90`, `sm90-fast-accum`) and `fp32-fma`,
// unsplit K, scales outside the MMA, and any profile's ScaleRule; bf16 or fp32 out. Throws
// ReferenceGpuError for another model.
gemm::Output replay_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in);
// gemm_replay on the device: the same bits and error_bound's bound, bit for bit.
gemm::Replay bounded_replay_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in);

// A case's operands uploaded to the device once, and the references of rows [m0, m1) of its D made
// on them (m0 starts a scale row of A): the slab judge's (harness/gemm/run_case.cpp), which had
// uploaded all of B again for every slab. `in` outlives it (the spec is copied).
// judge: rows [m0, m1) of a kernel's D (`got`: spec.out as stored) judged against the model's replay,
// its bound (times `factor`) and the ideal, all made on the device and left there: the elements
// that are not exact as harness/gemm/compare.cpp counts a bit-exact claim's, and the NaN outputs.
struct SlabCounts {
  int64_t not_exact = 0, nan = 0;
};
class HeldOperands {
 public:
  virtual ~HeldOperands() = default;
  virtual gemm::Ideal ideal(int64_t m0, int64_t m1) = 0;
  virtual gemm::Replay replay(const gemm::AccumModel& model, int64_t m0, int64_t m1) = 0;  // with its bound
  virtual SlabCounts judge(const gemm::AccumModel& model, int64_t m0, int64_t m1, std::span<const std::byte> got,
                           double factor) = 0;
};
std::unique_ptr<HeldOperands> hold_operands_gpu(const gemm::Spec& spec, const gemm::Operands& in);

// A kernel's D (`got`, spec.out bits as gemm::Output holds them) against the ideal, or against a
// model's output (exact tier: no exact values, the expected bits' values stand for them).
GpuComparison compare_gpu(const gemm::Spec& spec, const gemm::Ideal& expected, const gemm::Output& got,
                          const CompareBudget& budget = {});
GpuComparison compare_gpu(const gemm::Spec& spec, const gemm::Output& expected, const gemm::Output& got,
                          const CompareBudget& budget = {});

// ---- on device memory (no host copies of the big tensors; for timing and for callers that hold
// the operands and D on the device). Streams are cudaStream_t (nullptr: the default stream).

// Operands in canonical layouts (gemm::Operands), on the device.
struct DeviceOperands {
  const uint8_t *a = nullptr, *b = nullptr;
  const float *sa = nullptr, *sb = nullptr;
};

struct IdealCounts {
  int64_t host_resolved = 0, nonfinite = 0;
};

// Writes the ideal's bits ([M, N] uint32) and exact values ([M, N] double) to device memory.
// Elements the host must evaluate are evaluated there (the operands are then copied to the host
// once) and written back, so the device result is complete.
IdealCounts ideal_gpu(const gemm::Spec& spec, const DeviceOperands& in, uint32_t* bits, double* exact,
                      void* stream = nullptr);

// Writes the model's output bits ([M, N] uint32) and, when `bound` is given, its error bound ([M, N]
// double); returns the elements evaluated on the host.
int64_t replay_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, const DeviceOperands& in, uint32_t* bits,
                   double* bound = nullptr, void* stream = nullptr);

// got: D as a kernel writes it, [M, N] of spec.out (2 bytes for bf16, 4 for fp32); exact and bound
// may be null. Only the per-tile statistics come back to the host.
GpuComparison compare_gpu(const gemm::Spec& spec, const uint32_t* expected, const double* exact, const void* got,
                          double ulps = 0, const double* bound = nullptr, void* stream = nullptr);

// ---- timing (event-timed on the default stream: warm-up, then the median of `reps` runs) ---------

struct ReferenceTimings {
  double ideal_compare_ms = 0;  // ideal (DGEMMs, fold, host resolution) + comparison, end to end
  double ideal_ms = 0;          // the ideal alone
  double compare_ms = 0;        // the comparison alone
  double replay_ms = 0;         // the model replay
  double bounded_replay_ms = 0; // the model replay with its error bound (the harness's)
  int64_t host_resolved = 0;    // in the ideal of the benchmark's operands
  int runs = 0;
};

// Random operands on the device (finite codes uniformly, positive fp32 scales over [2^-8, 2^9));
// the kernel output compared is the model's replay of them.
ReferenceTimings bench_reference_gpu(const gemm::Spec& spec, const gemm::AccumModel& model, int reps);

}  // namespace ulpgate::gemm_kernels
