// The exact ideal on int8 tensor cores (CUDA, sm_80 and later; reference_gpu.cu's CudaBackend runs
// it where plan_ideal allows: IdealPlan::tensor_cores). What Fold writes, without the fp64 block
// sums' round trip through memory (32 GB at 8192^3 gemm.block):
// - each code's value is v q with v an integer, |v| < 2^21, written as three signed 7-bit digits
//   d_p (v = d_0 + 2^7 d_1 + 2^14 d_2); DigitPlanes lays them out as three int8 matrices a K-row;
// - 128 of K at a time, each output's block sum is sum_w 2^(7 w) S_w, S_w = sum over p + r = w of
//   the int8 MMAs of A's digit plane p and B's plane r (9 mma.sync m16n8k32 a 32 of K). Every S_w
//   is exact in int32 (|S_w| <= 3 128 127^2 < 2^23) and G = sum_w 2^(7 w) S_w in int64; G q is
//   the exact block sum (|G| < 128 2^42 < 2^53: exact in fp64), folded with the scales by Fold's
//   TwoProduct and TwoSums, rounded once by round_exact (reference_math.hpp);
// - the kernel runs twice (FoldPass): lo's additions rounded, then Fold's TwoSums for the CTAs
//   the first pass left undecided; with one scale for all of K once, summing G in int64; what is
//   still undecided, and touched rows, go to the host as after Fold (reference_pipeline.hpp).
// H200, 8192^3 e4m3 gemm.block, the ideal with the comparison: 28.9-29.3 ms (the first pass
// 27.1-27.2, the second 0.06 on random data), 30.2-30.5 with the exact pass alone, 34.4-35.0 with
// the fp64 block sums and Fold; a prototype of this kernel gave every bits and exact value of the
// 2^26 outputs equal to theirs. gemm.tensor (one scale, int64 sums): 21.1-21.3 ms. Measured on the
// way (README): fragments loaded from global memory instead of the shared stages 33.5-35.3 ms, the
// MMAs alone (no loads, no fold) 15.9 ms, the loads and fold alone 17.9 ms.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/gemm/reference_kernels.hpp"
#include "kernels/gemm/reference_pipeline.hpp"
#include "kernels/portable/gpu.hpp"

namespace ulpgate::gemm_kernels {

namespace tensor_cores {

inline constexpr int kTileM = 64, kTileN = 32, kThreads = 128;  // 4 warps of 32 x 16 outputs
inline constexpr int kStageK = 64;                                // K a shared-memory stage
inline constexpr int kRow = kStageK + 16;  // a digit row's bytes in shared memory: ldmatrix's 8 rows hit distinct banks
inline constexpr int kStageA = 3 * kTileM * kRow, kStageB = 3 * kTileN * kRow, kStage = kStageA + kStageB;
inline constexpr int kStages = 3;
inline constexpr int kShared = kStages * kStage;

// planes[p][r][i] = digit p of code (r, i): 0 past the operand's rows or K. A thread four of K.
__global__ void DigitPlanes(const uint8_t* codes, int64_t rows, int64_t k, int64_t padded_rows, int64_t kpad,
                            const uint32_t* digits, int8_t* planes) {
  const int64_t r = blockIdx.x;
  for (int64_t i = 4 * int64_t(threadIdx.x); i < kpad; i += 4 * int64_t(blockDim.x)) {
    uint32_t word[3] = {0, 0, 0};
    for (int j = 0; j < 4; ++j) {
      const uint32_t d = r < rows && i + j < k ? digits[codes[r * k + i + j]] : 0u;
      for (int p = 0; p < 3; ++p) word[p] |= (d >> 8 * p & 0xffu) << 8 * j;
    }
    for (int p = 0; p < 3; ++p) *reinterpret_cast<uint32_t*>(planes + (p * padded_rows + r) * kpad + i) = word[p];
  }
}

__device__ __forceinline__ void copy16(uint32_t shared_at, const void* global) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(shared_at), "l"(global));
}
__device__ __forceinline__ void commit() { asm volatile("cp.async.commit_group;"); }
__device__ __forceinline__ void wait_all_but_one() { asm volatile("cp.async.wait_group 1;"); }

__device__ __forceinline__ void load_matrices(uint32_t (&r)[4], uint32_t shared_at) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_at));
}

// c += a b for a 16 x 32 int8 tile a and 32 x 8 tile b (mma.sync fragments).
__device__ __forceinline__ void mma(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

struct Launch {
  const int8_t *a, *b;  // digit planes [3][padded rows][kpad]
  int64_t padded_m, padded_n, kpad;
  const float *sa, *sb;
  ScaleIndex scale;
  int64_t folds_per_scale;
  double quantum;
  TensorIdeal t;
  uint8_t* redo;  // [grid]: 1 where the rounded pass left an output undecided (the exact pass redoes the CTA)
};

// The two passes: kRounded adds lo's terms rounded (add_product<true>: exact ties stay undecided),
// kExact by Fold's TwoSums, only in the CTAs the rounded pass marked in redo. Where the rounded
// pass decides, both give the same bits and exact values (round_exact decides only where the bound
// pins both). With one scale for all of K (TensorCoreDigits::integer_sum) one pass, kInteger, sums
// the G in int64 and scales the total once: no fp64 a fold, and no double-rounding ties, which
// such sums (multiples of one quantum, wider than 53 bits) meet in about a quarter of the outputs.
enum class FoldPass { kRounded, kExact, kInteger };

// A CTA's 64 x 32 outputs: warp w holds rows 32 (w / 2) + [0, 32) and columns 16 (w % 2) + [0, 16)
// as 2 x 2 MMA tiles; a thread (lane = 4 g + q) the rows g + 8 i and columns 2 q + (j % 2) + 8 (j / 2)
// of them. The digit tiles of each 64 of K come into shared memory by cp.async, three stages deep
// (one barrier a stage).
template <Format Out, FoldPass Pass>
__global__ void __launch_bounds__(kThreads, 2) IdealOnTensorCores(const Launch L) {
  const int64_t cta = int64_t(blockIdx.y) * gridDim.x + blockIdx.x;
  if (Pass == FoldPass::kExact && !L.redo[cta]) return;
  extern __shared__ __align__(16) unsigned char shared[];
  const uint32_t base = uint32_t(__cvta_generic_to_shared(shared));
  const int tid = int(threadIdx.x), lane = tid & 31, warp = tid >> 5, g = lane >> 2, q = lane & 3;
  const int64_t cm = int64_t(blockIdx.y) * kTileM, cn = int64_t(blockIdx.x) * kTileN;
  const int wm = (warp >> 1) * 32, wn = (warp & 1) * 16;
  const int64_t m0 = cm + wm, n0 = cn + wn, m = L.t.m, n = L.t.n;
  const float *sa_row[4], *sb_col[4];  // rows past M (columns past N) read row M - 1's scales: their sums are 0
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t row = m0 + g + 8 * i, col = n0 + 2 * q + (i & 1) + 8 * (i >> 1);
    sa_row[i] = L.sa + L.scale.sa(row < m ? row : m - 1, 0);
    sb_col[i] = L.sb + L.scale.sb(col < n ? col : n - 1, 0);
  }
  // Thread tid copies 16 bytes (column 16 (tid % 4)) of rows tid / 4 and tid / 4 + 32 of each of A's
  // planes and row tid / 4 of each of B's.
  const int8_t* src_a = L.a + (cm + tid / 4) * L.kpad + 16 * (tid % 4);
  const int8_t* src_b = L.b + (cn + tid / 4) * L.kpad + 16 * (tid % 4);
  const uint32_t dst_a = base + uint32_t((tid / 4) * kRow + 16 * (tid % 4)), dst_b = dst_a + kStageA;
  const int64_t plane_a = L.padded_m * L.kpad, plane_b = L.padded_n * L.kpad;
  const int stages = int(L.kpad / kStageK);
  const auto load = [&](int st) {
    if (st < stages) {
      const uint32_t at = uint32_t((st % kStages) * kStage);
      const int64_t k0 = int64_t(st) * kStageK;
#pragma unroll
      for (int p = 0; p < 3; ++p) {
        copy16(dst_a + at + uint32_t(p * kTileM * kRow), src_a + p * plane_a + k0);
        copy16(dst_a + at + uint32_t((p * kTileM + 32) * kRow), src_a + p * plane_a + 32 * L.kpad + k0);
        copy16(dst_b + at + uint32_t(p * kTileN * kRow), src_b + p * plane_b + k0);
      }
    }
    commit();  // an empty group past the end keeps the count of groups in flight
  };
  // ldmatrix: lanes 8 i + [0, 8) address matrix i's rows. A: matrices (rows 0-7, K 0-15), (8-15,
  // 0-15), (0-7, 16-31), (8-15, 16-31) of a 16 x 32 tile; B: (columns 0-7, K 0-15), (0-7, 16-31),
  // (8-15, 0-15), (8-15, 16-31) of two 8-column tiles.
  const int a_row = (lane & 7) + 8 * ((lane >> 3) & 1), a_k = 16 * (lane >> 4);
  const int b_row = (lane & 7) + 8 * (lane >> 4), b_k = 16 * ((lane >> 3) & 1);
  constexpr bool kRounded = Pass == FoldPass::kRounded, kInteger = Pass == FoldPass::kInteger;
  double hi[16], lo[16], dropped = 0;  // Fold's ExactAccumulator, one `dropped` for the thread's 16 outputs (a bound on each)
  long long total[16];                 // kInteger: the sum of the G
#pragma unroll
  for (int j = 0; j < 16; ++j) hi[j] = lo[j] = 0, total[j] = 0;
  int sum[5][2][2][4];  // S_w of tile (mt, nt), the MMA's four accumulators
  load(0);
  load(1);
  for (int st = 0; st < stages; ++st) {
    wait_all_but_one();
    __syncthreads();  // stage st has landed for every thread, and stage st - 1's buffer is free
    load(st + 2);
    if (st % 2 == 0) {
#pragma unroll
      for (int i = 0; i < 5 * 16; ++i) sum[i / 16][i / 8 % 2][i / 4 % 2][i % 4] = 0;
    }
    const uint32_t tile_a = base + uint32_t((st % kStages) * kStage), tile_b = tile_a + kStageA;
#pragma unroll
    for (int kh = 0; kh < kStageK / 32; ++kh) {
      uint32_t a[3][2][4], b[3][4];
#pragma unroll
      for (int p = 0; p < 3; ++p) {
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
          load_matrices(a[p][mt], tile_a + uint32_t((p * kTileM + wm + 16 * mt + a_row) * kRow + 32 * kh + a_k));
        load_matrices(b[p], tile_b + uint32_t((p * kTileN + wn + b_row) * kRow + 32 * kh + b_k));
      }
#pragma unroll
      for (int p = 0; p < 3; ++p)
#pragma unroll
        for (int r = 0; r < 3; ++r)
#pragma unroll
          for (int mt = 0; mt < 2; ++mt)
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) mma(sum[p + r][mt][nt], a[p][mt], b[r][2 * nt], b[r][2 * nt + 1]);
    }
    if (st % 2 == 1) {  // a fold of 128 of K: its scales, G, and Fold's terms
      // A division a fold: kb as fold x {0, 1} instead measured 0.9 ms slower at 8192^3 (the same
      // SASS otherwise; the register allocation around it differed).
      const int64_t kb = int64_t(st / 2) / L.folds_per_scale;
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        const int mt = j / 8, nt = j / 4 % 2, e = j % 4;
        long long G = 0;
#pragma unroll
        for (int w = 4; w >= 0; --w) G = G * 128 + sum[w][mt][nt][e];
        if constexpr (kInteger) {
          total[j] += G;
          continue;
        }
        const double v = double(G) * L.quantum,
                     s = double(sa_row[2 * mt + (e >> 1)][kb]) * double(sb_col[2 * nt + (e & 1)][kb]);
        dropped += add_product<kRounded>(hi[j], lo[j], v, s);
      }
    }
  }
  const double bound = dropped_bound<kRounded>(dropped, L.t.widen);
  bool redo = false;
#pragma unroll
  for (int j = 0; j < 16; ++j) {
    const int mt = j / 8, nt = j / 4 % 2, e = j % 4;
    const int64_t row = m0 + 16 * mt + g + 8 * (e >> 1), col = n0 + 8 * nt + 2 * q + (e & 1);
    if (row >= m || col >= n) continue;
    const bool host = L.t.row_a[row] || L.t.row_b[col];
    Rounded x{0, 0, true};  // touched rows: the host's
    if (!host) {
      if constexpr (kInteger) {
        const double s = double(*sa_row[2 * mt + (e >> 1)]) * double(*sb_col[2 * nt + (e & 1)]);
        x = round_scaled_integer<Out>(total[j], L.quantum * s, L.t.widen);
      } else {
        x = round_exact<Out>(hi[j], lo[j], bound);
      }
    }
    const int64_t at = row * n + col;
    L.t.bits[at] = x.bits;
    L.t.exact[at] = x.exact;
    L.t.undecided[at] = !x.decided;
    if (x.decided) continue;
    if (kRounded) redo = true;
    else L.t.block_undecided[row * L.t.cols + col / kFoldThreads] = 1;
  }
  if (redo) L.redo[cta] = 1;
}

}  // namespace tensor_cores

// The ideal of t on tensor cores, on the backend's stream (digit planes from its memory pool).
template <class Backend>
void ideal_on_tensor_cores(Backend& be, const IdealPlan& plan, const TensorIdeal& t) {
  namespace tc = tensor_cores;
  const TensorCoreDigits& d = plan.tensor_cores;
  const int64_t kpad = (t.k + kTensorFoldK - 1) / kTensorFoldK * kTensorFoldK;
  const int64_t padded_m = (t.m + tc::kTileM - 1) / tc::kTileM * tc::kTileM;
  const int64_t padded_n = (t.n + tc::kTileN - 1) / tc::kTileN * tc::kTileN;
  auto digits_a = upload(be, d.a.data(), d.a.size()), digits_b = upload(be, d.b.data(), d.b.size());
  auto planes_a = be.template alloc<int8_t>(size_t(3 * padded_m * kpad));
  auto planes_b = be.template alloc<int8_t>(size_t(3 * padded_n * kpad));
  const dim3 grid(unsigned(padded_n / tc::kTileN), unsigned(padded_m / tc::kTileM));
  auto redo = be.template alloc<uint8_t>(size_t(grid.x) * grid.y);
  ULPGATE_GPU_CHECK(cudaMemsetAsync(t.block_undecided, 0, size_t(t.m * t.cols), be.stream()));
  ULPGATE_GPU_CHECK(cudaMemsetAsync(redo.get(), 0, size_t(grid.x) * grid.y, be.stream()));
  tc::DigitPlanes<<<unsigned(padded_m), 256, 0, be.stream()>>>(t.in.a, t.m, t.k, padded_m, kpad, digits_a.get(),
                                                               planes_a.get());
  ULPGATE_GPU_CHECK(cudaGetLastError());
  tc::DigitPlanes<<<unsigned(padded_n), 256, 0, be.stream()>>>(t.in.b, t.n, t.k, padded_n, kpad, digits_b.get(),
                                                               planes_b.get());
  ULPGATE_GPU_CHECK(cudaGetLastError());
  const tc::Launch launch{planes_a.get(), planes_b.get(), padded_m, padded_n, kpad, t.in.sa, t.in.sb, plan.scale,
                          d.folds_per_scale, d.quantum_a * d.quantum_b, t, redo.get()};
  with_out(t.out, [&](auto out) {
    constexpr Format F = decltype(out)::value;
    using tc::FoldPass;
    const auto run = [&](auto kernel) {
      ULPGATE_GPU_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, tc::kShared));
      kernel<<<grid, tc::kThreads, tc::kShared, be.stream()>>>(launch);
      ULPGATE_GPU_CHECK(cudaGetLastError());
    };
    if (d.integer_sum) return run(tc::IdealOnTensorCores<F, FoldPass::kInteger>);
    run(tc::IdealOnTensorCores<F, FoldPass::kRounded>);
    run(tc::IdealOnTensorCores<F, FoldPass::kExact>);
  });
}

}  // namespace ulpgate::gemm_kernels
