// Host side of the device GEMM reference (plain C++, no GPU compiler): what the kernels of
// reference_kernels.hpp and replay_kernels.hpp are launched with, the host's share of the work
// (elements the device leaves to reference/gemm), and the comparison's per-tile statistics
// reduced to a result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/gemm/reference_gpu.hpp"
#include "kernels/gemm/replay_kernels.hpp"

namespace ulpgate::gemm_kernels {

ScaleIndex scale_index(const gemm::Spec& spec);

// 1 for the NaN and Inf codes of an fp8 format.
std::vector<uint8_t> nonfinite_codes(Format f);

// The ideal on int8 tensor cores (ideal_tensor_cores.cuh), where both operands are one exact part
// whose values are integers v / q below 2^21 (e4m3fn, e4m3fnuz) and the scale blocks are whole
// multiples of kTensorFoldK of K (or all of K): digits[code] packs the three signed 7-bit digits of
// v / q (bytes 0-2, least significant first; NaN and Inf codes 0), and the kTensorFoldK of K at
// fold f take the scales of block f / folds_per_scale. Empty digits: the block sums' fp64 GEMMs.
inline constexpr int64_t kTensorFoldK = 128;
struct TensorCoreDigits {
  std::vector<uint32_t> a, b;           // [256] each
  double quantum_a = 0, quantum_b = 0;  // q: the smallest nonzero |value| of the operand's format
  int64_t folds_per_scale = 0;          // INT64_MAX: one scale block for all of K
  bool integer_sum = false;             // one scale for all of K and fewer than 2^13 folds: the sum of
                                        // the folds' G (each below 2^49) fits int64 below 2^62
  bool usable() const { return !a.empty(); }
};

// The exact ideal's launch. The block sums are fp64 GEMMs of K-chunks of `chunk_k` columns, each
// inside one scale block: the block itself for gemm.block and gemm.mx, and for the epilogue ops
// the fewest equal chunks of at most detail::exact_sum_length columns (all of K at once for
// e4m3 x e4m3 up to K = 171,196). Operands are zero-padded to kpad = chunks chunk_k. Rows of A go
// in slabs whose block sums (pairs chunks slab_rows N doubles) fit the scratch memory.
struct IdealPlan {
  TensorCoreDigits tensor_cores;
  int parts_a = 1, parts_b = 1;
  std::vector<double> table_a, table_b;  // [parts][256]: each part's exact values (0 outside it)
  std::vector<uint8_t> nonfinite_a, nonfinite_b;
  int64_t chunk_k = 0, chunks = 0, kpad = 0, chunks_per_block = 1;
  int64_t slab_rows = 0;
  ScaleIndex scale{};

  int pairs() const { return parts_a * parts_b; }
};
IdealPlan plan_ideal(const gemm::Spec& spec, std::size_t scratch_bytes);

// What Fold writes, for all of [M, N] at once, made on a backend's tensor cores where the plan
// allows (TensorCoreDigits; CudaBackend: ideal_tensor_cores.cuh).
struct TensorIdeal {
  int64_t m, n, k;
  Format out;
  DeviceOperands in;
  const uint8_t *row_a, *row_b;  // RowFlags: 1 where the host evaluates the row's outputs
  double widen;                   // Fold's
  uint32_t* bits;
  double* exact;
  uint8_t* undecided;        // [M, N]
  uint8_t* block_undecided;  // [M, cols]: 1 where one of the 256 columns' elements is undecided
  int64_t cols;
};

// The replay's launch; throws ReferenceGpuError naming why a model is not replayed here.
struct ReplayPlan {
  StepTable table_a, table_b;
  std::vector<uint8_t> nonfinite_a, nonfinite_b;
  ReplayParams params;
  bool fma = false;  // the fp32-fma model (fma_step), else sm90 steps
};
ReplayPlan plan_replay(const gemm::Spec& spec, const gemm::AccumModel& model);

// The elements (row-major indices) in a row of A or a row of B that touches a NaN/Inf input.
std::vector<int64_t> touched_elements(std::span<const uint8_t> flags_a, std::span<const uint8_t> flags_b);

// Elements `at` evaluated by reference/gemm on the problem of each alone (row m of A, row n of B,
// their scales): gemm_ideal's bits and exact values, or gemm_model's bits.
void resolve_ideal(const gemm::Spec& spec, const gemm::Operands& in, std::span<const int64_t> at,
                   std::span<uint32_t> bits, std::span<double> exact);
void resolve_model(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in,
                   std::span<const int64_t> at, std::span<uint32_t> bits);

// Sorted indices as runs [first, first + count), for one copy per run.
struct Run {
  int64_t first, count;
};
std::vector<Run> runs_of(std::span<const int64_t> sorted);

// D as a kernel stores it: 2-byte bf16 or 4-byte fp32 elements.
std::vector<uint8_t> stored(const gemm::Output& d);

// The per-tile statistics of Compare as the result; first_bad holds the indices and tile-local
// facts only (the caller fills in the values).
GpuComparison reduce_tiles(std::span<const TileStats> tiles, int64_t m, int64_t n);

}  // namespace ulpgate::gemm_kernels
