// The GEMM reference on a device, one source for CUDA, HIP and the host-SIMT emulator (the
// arithmetic is reference_math.hpp's; reference_pipeline.hpp launches them):
//   RowFlags     rows of A or B that touch a NaN/Inf code or scale (their outputs are resolved on
//                the host, as the reference evaluates them: IEEE double arithmetic)
//   DecodeParts  fp8 codes as fp64 matrices, one per exact part of the format, zero-padded along K
//   Fold         the exact ideal from the block sums G (fp64 GEMMs of the parts: cuBLAS or Eigen):
//                D = sum of G sa sb with error-free transformations, rounded once where decided
//   Compare      a kernel's D against the expected bits and exact values: per 128x128 tile counts,
//                ULP histogram, worst error and the first over-budget elements
//   JudgeExact   a slab of D against a bit-exact claim as the harness judges it: counts only
//   (Replay, the accumulator models' replay: replay_kernels.hpp)
//   RandomCodes, RandomScales   operands for the benchmark
#pragma once

#include <stdint.h>

#include "kernels/gemm/reference_math.hpp"
#include "kernels/portable/block_counts.hpp"
#include "kernels/portable/device.hpp"

namespace ulpgate::gemm_kernels {

// gemm::Geometry's scale indices as plain data for the device: a scale row serves `a_rows` rows of
// A (`b_rows` of B; 0: all), `g` scale blocks along K per row.
struct ScaleIndex {
  int64_t a_rows, b_rows, g;
  ULPGATE_HOST_DEVICE int64_t sa(int64_t m, int64_t kb) const { return (a_rows ? m / a_rows : 0) * g + kb; }
  ULPGATE_HOST_DEVICE int64_t sb(int64_t n, int64_t kb) const { return (b_rows ? n / b_rows : 0) * g + kb; }
};

ULPGATE_DEVICE bool is_finite32(float x) { return (dev::as_uint(x) & 0x7f800000u) != 0x7f800000u; }

// Whether pred holds on any thread of the block; every thread calls it (the block a whole number
// of warps).
ULPGATE_DEVICE bool block_any(bool pred) {
  ULPGATE_SHARED(int, votes, 32);
  const int w = dev::warp_size();
  const bool warp = dev::any(pred, w);
  if (dev::lane() == 0) votes[dev::thread_rank() / unsigned(w)] = warp;
  dev::block_sync();
  bool any = false;
  for (unsigned i = 0; i < dev::block_dim().x / unsigned(w); ++i) any = any || votes[i];
  dev::block_sync();  // votes are reused by the next call
  return any;
}

// flags[r] = 1 where row r of an operand holds a NaN/Inf code or its scale row a NaN/Inf scale
// (gemm detail::NonFinite). One block a row.
struct RowFlags {
  const uint8_t* codes;
  int64_t k;
  const uint8_t* nonfinite;  // [256]: 1 for the format's NaN and Inf codes
  const float* scales;
  int64_t rows_per_scale, g;  // scale row of row r: r / rows_per_scale (0: the only one), g per row
  uint8_t* flags;

  ULPGATE_DEVICE void operator()() const {
    const int64_t r = dev::block_idx().x, threads = dev::block_dim().x;
    const int64_t srow = rows_per_scale ? r / rows_per_scale : 0;
    const uint8_t* row = codes + r * k;
    // 16 codes a load where the row is aligned: a code a load left the kernel latency-bound (H200,
    // 8192 x 8192: 112 us an operand, a sixth of the copy's speed).
    const int64_t packs = k % 16 == 0 && reinterpret_cast<uintptr_t>(row) % 16 == 0 ? k / 16 : 0;
    uint32_t bad = 0;
    for (int64_t p = dev::thread_rank(); p < packs; p += threads) {
      const Pack16<uint8_t> c = dev::load16(row + 16 * p);
      for (int i = 0; i < 16; ++i) bad |= nonfinite[c.v[i]];
    }
    for (int64_t i = 16 * packs + dev::thread_rank(); i < k; i += threads) bad |= nonfinite[row[i]];
    for (int64_t kb = dev::thread_rank(); kb < g; kb += threads) bad |= !is_finite32(scales[srow * g + kb]);
    const bool any = block_any(bad != 0);
    if (dev::thread_rank() == 0) flags[r] = any;
  }
};

// out[p][r][i] = part p's value of code (r, i) (detail::split_operand: 0 outside the part), and 0
// for i in [k, kpad): the zero padding completes the last K-chunk and changes no sum. One block a
// row.
struct DecodeParts {
  const uint8_t* codes;
  int64_t rows, k, kpad;
  const double* table;  // [parts][256]
  int parts;
  double* out;

  ULPGATE_DEVICE void operator()() const {
    const int64_t r = dev::block_idx().x;
    for (int64_t i = dev::thread_rank(); i < kpad; i += dev::block_dim().x) {
      const int code = i < k ? codes[r * k + i] : -1;
      for (int p = 0; p < parts; ++p) out[(p * rows + r) * kpad + i] = code < 0 ? 0.0 : table[p * 256 + code];
    }
  }
};

inline constexpr unsigned kFoldThreads = 256;

// The exact ideal of rows [m0, m0 + rows): D[m, n] = sum over K-chunks c and pairs of parts of
// G[pair][c][m][n] sa[m, kb(c)] sb[n, kb(c)] (sums: the fp64 block sums of this slab). Every G is
// exact (detail::exact_sum_length) and s = sa sb is exact in fp64 (24 + 24 bits), so each term is
// an exact TwoProduct and ExactAccumulator tracks the sum with a rigorous bound; round_exact
// rounds it once. An element whose rounding the bound leaves open gets undecided = 1 (and its
// block's flag), one touching NaN/Inf is left to the host (zeros here). Grid: {n / 256, rows} (a
// row's column blocks run side by side, reading its sums' contiguous rows).
// Cost: 22 fp64 operations a term (TwoProduct 2, three TwoSums 18, two rests 2). At 8192^3
// gemm.block, 64 terms an element: 9.4e10 fp64 operations (~6 ms on an H200's fp64 pipes) and 32 GB
// of block sums read (~7 ms of HBM). ncu (H200, 136c065): 15.9 ms with clocks locked, 71 warp
// instructions a term in the nested loops (the scale's address recomputed every block), fp64 pipe
// 50 % busy, issue 76 %; the block-scale loop below has 35 a term in its SASS (bench: -2 ms).
// ncu at 22cdad8 (H200, clocks free): 10.7 ms, DRAM 68 % and L2 82 % busy, 75 % occupancy; loads
// 4 terms ahead (13.2 ms) and a cheaper accumulator (11.3 ms) were slower (README).
template <Format Out>
struct Fold {
  const double* sums;  // [pairs][chunks][rows][n]
  const float *sa, *sb;
  ScaleIndex scale;
  const uint8_t *row_a, *row_b;
  int64_t m0, rows, n;
  int pairs, chunks, chunks_per_block;  // chunks: a whole number of scale blocks
  double widen;  // added to every bound: 0, or huge in tests that send all elements to the host
  uint32_t* bits;
  double* exact;
  uint8_t* undecided;        // [M, N]
  uint8_t* block_undecided;  // [M, ceil(N / 256)]

  ULPGATE_DEVICE void operator()() const {
    const int64_t m = m0 + dev::block_idx().y, col = int64_t(dev::block_idx().x) * kFoldThreads + dev::thread_rank();
    bool open = false;
    if (col < n) {
      const int64_t at = m * n + col;
      Rounded x{0, 0, true};
      if (!row_a[m] && !row_b[col]) {
        // The sums in storage order: pair, scale block, chunk of the block; no division in the loop.
        const float *sa_row = sa + scale.sa(m, 0), *sb_row = sb + scale.sb(col, 0);
        const int64_t stride = rows * n;
        const double* g = sums + (m - m0) * n + col;
        ExactAccumulator acc;
        if (pairs == 1 && chunks_per_block == 1) {  // block scales: a chunk a scale block (the common case, one loop)
          for (int kb = 0; kb < chunks; ++kb, g += stride) acc.add_product(*g, double(sa_row[kb]) * double(sb_row[kb]));
        } else {
          for (int p = 0; p < pairs; ++p)
            for (int kb = 0; kb < chunks / chunks_per_block; ++kb) {
              const double s = double(sa_row[kb]) * double(sb_row[kb]);
              for (int c = 0; c < chunks_per_block; ++c, g += stride) acc.add_product(*g, s);
            }
        }
        x = round_exact<Out>(acc.hi, acc.lo, acc.bound(widen));
      }
      bits[at] = x.bits;
      exact[at] = x.exact;
      undecided[at] = !x.decided;
      open = !x.decided;
    }
    const bool any = block_any(open);
    if (dev::thread_rank() == 0) block_undecided[m * dev::grid_dim().x + dev::block_idx().x] = any;
  }
};

// ---- comparison --------------------------------------------------------------------------------

inline constexpr int kTile = 128;     // output tiles of the comparison map (spec/gemm.md diagnosis)
inline constexpr int kFirstBad = 8;   // over-budget elements listed per tile (and in the result)
inline constexpr int kCompareBatch = 4;  // rows loaded at once (8: 94 registers, fewer blocks)

struct TileStats {
  uint32_t exact, within, over;
  uint32_t listed;                 // entries of first_bad
  uint32_t first_bad[kFirstBad];   // tile-local row * kTile + column, in row-major order
  uint32_t hist[kUlpBins];
  double max_ulp_error;
};

// One block of kTile threads per 128x128 tile, thread t walking column t down the tile: judges
// every element (reference_math.hpp judge), counts per thread (the ULP histogram in shared memory;
// no atomics), then reduces. The first over-budget elements of the tile are the kFirstBad smallest
// local indices among the threads' lists (each thread lists its own column's first ones, in row
// order). ncu (H200, 8192^2 bf16 against the replay's bits: every thread lists 8): 1.28 ms, of it
// 8 x 1024 list reads on one thread at the end; now 8 rounds of a block-wide minimum.
template <Format Out>
struct Compare {
  const typename OutFormat<Out>::Storage* got;
  const uint32_t* expected;
  const double* exact;  // null: the expected bits' values
  const double* bound;  // null: no per-element bound
  double ulps;
  int64_t m, n;
  TileStats* tiles;  // [ceil(M / 128), ceil(N / 128)]

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(uint32_t, hist, kUlpBins * kTile);
    ULPGATE_SHARED(uint32_t, counts, 3 * kTile);
    ULPGATE_SHARED(double, worst, kTile);
    ULPGATE_SHARED(uint32_t, listed, kFirstBad * kTile);
    ULPGATE_SHARED(uint32_t, heads, 2 * kTile);  // list_first_bad's (2 kTile / warp_size used)
    const unsigned t = dev::thread_rank();
    for (int b = 0; b < kUlpBins; ++b) hist[b * kTile + t] = 0;
    const int64_t r0 = int64_t(dev::block_idx().y) * kTile, col = int64_t(dev::block_idx().x) * kTile + t;
    const int rows = col >= n ? 0 : m - r0 < kTile ? int(m - r0) : kTile;
    uint32_t count[3] = {0, 0, 0}, nlist = 0;
    double w = 0;
    // kCompareBatch rows' loads before their verdicts (whose shared-memory counts the compiler
    // would not move loads past), so HBM's latency is paid once a batch.
    for (int r = 0; r < rows; r += kCompareBatch) {
      uint32_t e[kCompareBatch], g[kCompareBatch];
      double x[kCompareBatch], b[kCompareBatch];
      ULPGATE_UNROLL
      for (int i = 0; i < kCompareBatch; ++i) {
        if (r + i >= rows) break;
        const int64_t at = (r0 + r + i) * n + col;
        e[i] = expected[at], g[i] = got[at];
        x[i] = exact ? exact[at] : OutFormat<Out>::value(e[i]);
        b[i] = bound ? bound[at] : 0.0;
      }
      ULPGATE_UNROLL
      for (int i = 0; i < kCompareBatch; ++i) {
        if (r + i >= rows) break;
        const Judged j = judge<Out>(e[i], g[i], x[i], b[i], ulps);
        ++hist[j.bin * kTile + t];
        count[0] += j.verdict == Verdict::exact, count[1] += j.verdict == Verdict::within;
        count[2] += j.verdict == Verdict::over;  // (no index by the verdict: it would be local memory)
        w = fmax(w, j.ulp_error);
        if (j.verdict == Verdict::over && nlist < uint32_t(kFirstBad)) listed[nlist++ * kTile + t] = uint32_t((r + i) * kTile + int(t));
      }
    }
    for (int v = 0; v < 3; ++v) counts[v * kTile + t] = count[v];
    worst[t] = w;
    dev::block_sync();
    TileStats& out = tiles[int64_t(dev::block_idx().y) * dev::grid_dim().x + dev::block_idx().x];
    const auto total = [&](const uint32_t* row) {
      uint32_t s = 0;
      for (int i = 0; i < kTile; ++i) s += row[i];
      return s;
    };
    if (t < unsigned(kUlpBins)) out.hist[t] = total(hist + t * kTile);
    if (t == kUlpBins) out.exact = total(counts);
    if (t == kUlpBins + 1) out.within = total(counts + kTile);
    if (t == kUlpBins + 2) out.over = total(counts + 2 * kTile);
    if (t == kUlpBins + 3) {
      double w = 0;
      for (int i = 0; i < kTile; ++i) w = fmax(w, worst[i]);
      out.max_ulp_error = w;
    }
    list_first_bad(listed, nlist, heads, out);
  }

  // The kFirstBad smallest keys of all lists, ascending (keys are distinct elements): each round
  // takes the block's least list head and moves that list on. Every thread calls it with its own
  // list (nlist keys, rows ascending); heads: 2 kTile / warp_size words.
  ULPGATE_DEVICE static void list_first_bad(const uint32_t* listed, uint32_t nlist, uint32_t* heads, TileStats& out) {
    const unsigned t = dev::thread_rank();
    const int ws = dev::warp_size(), warps = kTile / ws;
    uint32_t next = 0, count = 0;
    for (; count < uint32_t(kFirstBad); ++count) {
      const uint32_t mine = next < nlist ? listed[next * kTile + t] : 0xffffffffu;
      uint32_t least = mine;
      for (int o = ws / 2; o > 0; o /= 2) {
        const uint32_t other = dev::shfl_xor(least, o, ws);
        least = other < least ? other : least;
      }
      uint32_t* round = heads + (count % 2) * unsigned(warps);  // two buffers: one barrier a round
      if (dev::lane() == 0) round[t / unsigned(ws)] = least;
      dev::block_sync();
      for (int w = 0; w < warps; ++w) least = round[w] < least ? round[w] : least;
      if (least == 0xffffffffu) break;  // the same in every thread
      if (mine == least) ++next;
      if (t == 0) out.first_bad[count] = least;
    }
    if (t == 0) out.listed = count;
  }
};

// The values and verdicts of a few listed elements (the result's first over-budget ones).
struct Described {
  uint32_t expected, got;
  double exact, ulp_error;
};
template <Format Out>
struct Describe {
  const int64_t* at;
  int count;
  const typename OutFormat<Out>::Storage* got;
  const uint32_t* expected;
  const double *exact, *bound;
  double ulps;
  Described* out;

  ULPGATE_DEVICE void operator()() const {
    const unsigned i = dev::thread_rank();
    if (i >= unsigned(count)) return;
    const int64_t e = at[i];
    const double x = exact ? exact[e] : OutFormat<Out>::value(expected[e]);
    out[i] = {expected[e], got[e], x, judge<Out>(expected[e], got[e], x, bound ? bound[e] : 0.0, ulps).ulp_error};
  }
};

// D's bits as a kernel stores them (bf16: the low 16 bits), for the benchmark's kernel output.
template <Format Out>
struct StoreBits {
  const uint32_t* bits;
  typename OutFormat<Out>::Storage* out;
  int64_t count;
  ULPGATE_DEVICE void operator()() const {
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < count; i += stride)
      out[i] = typename OutFormat<Out>::Storage(bits[i]);
  }
};

// A slab of D judged as a bit-exact claim's (exact_as_claimed), what the slab judge needs of a
// passing slab: per block, the elements that are not exact and the NaN outputs. Grid-stride.
inline constexpr unsigned kJudgeThreads = 256;
template <Format Out>
struct JudgeExact {
  const typename OutFormat<Out>::Storage* got;
  const uint32_t *model, *ideal;
  const double *exact, *bound;
  double factor;
  int64_t count;
  dev::BlockCounts<2>* blocks;  // [grid]: not exact, NaN

  ULPGATE_DEVICE void operator()() const {
    uint32_t c[2] = {0, 0};  // not exact, NaN
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < count; i += stride) {
      const uint32_t g = got[i];
      c[0] += !exact_as_claimed<Out>(g, model[i], ideal[i], exact[i], bound[i], factor);
      c[1] += OutFormat<Out>::is_nan(g);
    }
    dev::store_block_counts<2, kJudgeThreads>(c, blocks);
  }
};

// ---- benchmark operands ------------------------------------------------------------------------

// splitmix64's finalizer: a well-mixed hash of an element index.
ULPGATE_DEVICE uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

ULPGATE_DEVICE int64_t global_thread() { return int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); }
ULPGATE_DEVICE int64_t grid_threads() { return int64_t(dev::grid_dim().x) * dev::block_dim().x; }

// codes[i]: one of the format's finite codes, uniformly.
struct RandomCodes {
  uint8_t* codes;
  int64_t count;
  const uint8_t* finite;  // the finite codes
  int finite_count;
  uint64_t seed;
  ULPGATE_DEVICE void operator()() const {
    for (int64_t i = global_thread(); i < count; i += grid_threads())
      codes[i] = finite[mix64(seed + uint64_t(i) * 0x9e3779b97f4a7c15ull) % uint64_t(finite_count)];
  }
};

// s[i] = (1 + m / 2^23) 2^e, e in [-8, 8]: positive fp32 scales with full significands.
struct RandomScales {
  float* s;
  int64_t count;
  uint64_t seed;
  ULPGATE_DEVICE void operator()() const {
    for (int64_t i = global_thread(); i < count; i += grid_threads()) {
      const uint64_t h = mix64(seed + uint64_t(i) * 0x9e3779b97f4a7c15ull);
      s[i] = dev::as_float((uint32_t(127 - 8 + int(h % 17)) << 23) | (uint32_t(h >> 40) & 0x7fffffu));
    }
  }
};

}  // namespace ulpgate::gemm_kernels
