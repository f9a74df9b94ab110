// The GEMM reference's replay on a device (one source for CUDA, HIP and the host-SIMT emulator;
// reference_pipeline.hpp launches it):
//   Replay       the sm90 and fp32-fma accumulator models bit for bit, with their error bounds on
//                request (MMA steps emulated in fp32 and int32 on CUDA cores)
#pragma once

#include <stdint.h>

#include "kernels/gemm/reference_kernels.hpp"

namespace ulpgate::gemm_kernels {

// ---- the model replay: sm90 steps, or fp32 fmaf (the fp32-fma model) -------------------------

// Per fp8 code: its value and e = max(floor(log2 |v|), emin), the exponent of its 2^e in the
// step's E, plus a bias (A's table: ReplayParams::c_bias, B's: 0; kZeroExp for zeros, and for NaN/Inf
// codes, whose outputs the host resolves). Every fp8 value and product of two is exact in fp32 (at
// most 8 significant bits, |p| within [2^-34, 2^32)).
inline constexpr int16_t kZeroExp = -16000;  // two of them plus a bias still add within int16
struct StepTable {
  float value[256];
  int16_t exp[256];
};

// What a replay launch needs beyond the operands (reference_plan.cpp plan_replay).
struct ReplayParams {
  int64_t m, n, k;
  ScaleIndex scale;
  gemm::ScaleRule rule;
  bool block_scaled;     // scales per K-block (gemm.block, gemm.mx): a segment is one chain,
                         // combined by one FMA; else the epilogue's multiplications
  int steps_per_chain;   // steps of k = 32 per chain (a huge number: one chain for all of K)
  int steps_per_block;   // steps per scale block (block_scaled)
  int c_bias;            // 150 - frac_bits: C = 2^(E + 23 - frac_bits) has the exponent field E + c_bias
  int e_low;             // max(e_floor, kLowestE) + c_bias: the lower limit of C's exponent field
  uint32_t sum_mask;     // keeps sum_bits of a normal fp32 significand (truncation toward zero)
  double sum_quantum;    // 2^(1 - sum_bits): the sum's truncation per 2^exp(S) (the bound)
};

// E's lower limit where the model has none or a lower floor: it acts only when every term of a
// step is 0 (then any c gives 0), since every fp8 product, and so every truncated sum of them, is a
// multiple of 2^-34; it keeps 2^(E + 23 - frac_bits) a normal float.
inline constexpr int kLowestE = -100;

inline constexpr int kStepK = 32, kReplayCols = 64, kReplayThreads = 256;
inline constexpr int kThreadCols = 4;  // per thread: columns 4 tx + j (tx < 16)
static_assert(kReplayCols == 16 * kThreadCols, "16 thread columns span a tile (tile_values)");

// A step's operands decoded into shared memory, K-major ([32][tile rows] for A, [32][64] for B):
// - value: |v| for the sm90 steps, v for fmaf; mask: all ones where v's sign bit is set;
// - exp: e (StepTable), A's twice in a word (both halves), B's one int16 a column;
// - sign and nonzero: per row of A and column of B a bit per K of the step, as two 16-bit halves
//   (the two loader threads of the row).
struct StepTiles {
  float *a_value, *b_value;
  uint32_t *a_mask, *b_mask, *a_exp;
  int16_t* b_exp;
  uint16_t *a_sign, *a_nonzero, *b_sign, *b_nonzero;

  static constexpr std::size_t bytes(int rows) {
    return std::size_t(kStepK) * (rows * 12 + kReplayCols * 10) + std::size_t(rows + kReplayCols) * 8;  // 16-aligned
  }
  // Carved from `at` (bytes(rows) bytes, 16-byte aligned; the vector loads keep that).
  ULPGATE_HOST_DEVICE static StepTiles carve(char* at, int rows) {
    StepTiles t;
    const auto take = [&](auto*& p, std::size_t n) {
      p = reinterpret_cast<std::remove_reference_t<decltype(p)>>(at);
      at += n * sizeof(*p);
    };
    take(t.a_value, kStepK * rows), take(t.a_mask, kStepK * rows), take(t.a_exp, kStepK * rows);
    take(t.b_value, kStepK * kReplayCols), take(t.b_mask, kStepK * kReplayCols), take(t.b_exp, kStepK * kReplayCols);
    take(t.a_sign, 2 * rows), take(t.a_nonzero, 2 * rows), take(t.b_sign, 2 * kReplayCols), take(t.b_nonzero, 2 * kReplayCols);
    return t;
  }
};

// What a replay computes and how its threads hold it: fp32 fmaf or sm90 steps, with the error
// bound (reference/gemm error_bound) or without. A thread keeps kRows x 4 outputs, rows kRows ty + i
// (ty < 16): 4 for the sm90 bits, 2 with the bound (two doubles more per output), 8 for the fmaf
// bits alone. The sm90 kinds hold at most 128 registers, so that two 256-thread blocks share an
// SM: their steps wait on short fixed latencies and shared loads, which 16 warps an SM hide better
// than 8. 8192^3 gemm.block on an H100, with 8 columns a thread (128-column tiles): 4 rows and 255
// registers 192-193 ms, 2 rows capped at 128 180-181 ms, uncapped 237 ms; 4 x 4 outputs in
// 64-column tiles (a third fewer shared loads a product, 4 of A's rows sharing each of B's loads)
// 160-161 ms. With the bound, on an H200: 4 x 4 outputs at 255 registers 249.7 ms, 2 x 4 capped
// at 128 (366 bytes spilled) 226.1 ms.
template <Format Out_, bool kFma_, bool kBound_>
struct ReplayKind {
  static constexpr Format Out = Out_;
  static constexpr bool kFma = kFma_, kBound = kBound_;
  static constexpr int kRows = kFma && !kBound ? 8 : kBound && !kFma ? 2 : 4, kTileRows = 16 * kRows;
  static constexpr int kMaxRegisters = !kFma ? 128 : 0;
  static constexpr std::size_t kShared = 2 * StepTiles::bytes(kTileRows) + 2 * sizeof(StepTable);  // two steps' tiles
};

// fn(i, j) for a thread's R x 4 outputs (unrolled: the arrays they index stay in registers).
template <int R, class Fn>
ULPGATE_DEVICE void each_output(Fn&& fn) {
  ULPGATE_UNROLL
  for (int i = 0; i < R; ++i)
    ULPGATE_UNROLL
    for (int j = 0; j < kThreadCols; ++j) fn(i, j);
}

// The N 4-byte values of thread group g at K = kk in a K-major tile of 16 N columns (one vector
// load): A's R rows of a thread (g = ty), B's 4 columns (g = tx), B's 4 int16 exponents (N = 2).
template <int N, class T>
ULPGATE_DEVICE void tile_values(const T* tile, int kk, unsigned g, T (&x)[N]) {
  static_assert(sizeof(T) == 4);
  struct alignas(4 * N < 16 ? 4 * N : 16) Group {
    T v[N];
  };
  const Group v = *reinterpret_cast<const Group*>(tile + kk * 16 * N + g * N);
  ULPGATE_UNROLL
  for (int i = 0; i < N; ++i) x[i] = v.v[i];
}

// fn(kk, i, j, a_i, b_j) for the 32 x R x 4 operand pairs of a step, K ascending, from K-major
// tiles a and b.
template <int R, class Fn>
ULPGATE_DEVICE void each_pair(const float* a, const float* b, unsigned tx, unsigned ty, Fn&& fn) {
  for (int kk = 0; kk < kStepK; ++kk) {
    float x[R], y[kThreadCols];
    tile_values<R>(a, kk, ty, x);
    tile_values<kThreadCols>(b, kk, tx, y);
    each_output<R>([&](int i, int j) { fn(kk, i, j, x[i], y[j]); });
  }
}

// The step bits of a row of A (column of B) as one word, bit kk for K = kk.
ULPGATE_DEVICE uint32_t step_bits(const uint16_t* halves, unsigned row) {
  return uint32_t(halves[2 * row]) | uint32_t(halves[2 * row + 1]) << 16;
}

// One sm90 MMA step (model.hpp steps 1-5) for a thread's R x 4 outputs, in fp32 and int32 on CUDA
// cores, adding its error (reference_math.hpp step_error) to err with kBound. With u = 2^(E - f)
// (f = frac_bits <= 15) and C = 2^(E + 23 - f):
// - E: the largest of ea + eb over the step's products (zeros never win: kZeroExp), ec of the
//   incoming c and e_low, kept as C's exponent field E + c_bias (A's exponents carry the bias) in
//   int16 pairs of columns: one DPX add-max per two products. c is 0 or normal: every nonzero step
//   result is at least u >= 2^(-34 - 15), so its exponent bits are ec.
// - every product truncated toward zero to a multiple of u, as an integer: |p| < 2^(E + 2) < C,
//   so RZ(|a| |b| + C) = C + n u with n = floor(|p| / u) (fp32's spacing in [C, 2C) is u), and
//   that float's bits are bits(C) + n. The sign goes in as one's complement: each word is XORed
//   with both operands' sign masks and the 32 are added, giving sum(sign n) + bits(C) (32 - 2N) - N
//   for N products of negative sign (zeros have n = 0 whichever their sign). bits(C) (32 - 2N) is a
//   multiple of 2^24 and |sum(sign n)| < 32 2^(f + 2) <= 2^22, so adding N (the popcount of the XOR
//   of the row's and the column's sign words) and keeping 24 bits, sign-extended, is sum(sign n).
// - c truncated the same way (truncate_term), and S = (sum sign n) u + c's term: exact in fp32,
//   |S| < 2^(f + 7.1) u <= 2^23 u (33 terms below 2^(f + 2) u each);
// - S truncated to sum_bits significant bits: S is 0 or normal (>= u), so masking its low
//   24 - sum_bits significand bits is the truncation. No overflow: |S| <= K 2^32 for fp8 inputs.
// Per product: half a VIADDMNMX (E), FFMA.RZ, LOP3 and an integer add (the sum).
template <int R, bool kBound>
ULPGATE_DEVICE void mma_step(const StepTiles& s, unsigned tx, unsigned ty, const ReplayParams& p,
                             float (&c)[R][kThreadCols], double (&err)[R][kThreadCols]) {
  uint32_t e2[R][kThreadCols / 2];  // C's exponent field for columns (2h, 2h + 1): low and high half
  ULPGATE_UNROLL
  for (int i = 0; i < R; ++i)
    ULPGATE_UNROLL
    for (int h = 0; h < kThreadCols / 2; ++h) {
      const auto ec = [&](int j) {  // c = 0: -127 + c_bias, below e_low
        const int e = int(dev::as_uint(c[i][j]) >> 23 & 0xffu) - 127 + p.c_bias;
        return uint32_t(e > p.e_low ? e : p.e_low);
      };
      e2[i][h] = ec(2 * h) | ec(2 * h + 1) << 16;
    }
  for (int kk = 0; kk < kStepK; ++kk) {
    uint32_t ea[R], eb[kThreadCols / 2];
    tile_values<R>(s.a_exp, kk, ty, ea);
    tile_values<kThreadCols / 2>(reinterpret_cast<const uint32_t*>(s.b_exp), kk, tx, eb);  // column pairs
    ULPGATE_UNROLL
    for (int i = 0; i < R; ++i)
      ULPGATE_UNROLL
      for (int h = 0; h < kThreadCols / 2; ++h) e2[i][h] = dev::add_max_s16x2(ea[i], eb[h], e2[i][h]);
  }
  uint32_t cbits[R][kThreadCols], sum[R][kThreadCols];
  each_output<R>([&](int i, int j) {
    cbits[i][j] = (j % 2 ? e2[i][j / 2] >> 16 : e2[i][j / 2] & 0xffffu) << 23;  // fields in [1, 254]
    sum[i][j] = 0;
  });
  ULPGATE_UNROLL  // whole: rolled, the loop spent 8 of its 60 instructions a K on itself
  for (int kk = 0; kk < kStepK; ++kk) {
    float x[R], y[kThreadCols];
    uint32_t mx[R], my[kThreadCols];
    tile_values<R>(s.a_value, kk, ty, x);
    tile_values<R>(s.a_mask, kk, ty, mx);
    tile_values<kThreadCols>(s.b_value, kk, tx, y);
    tile_values<kThreadCols>(s.b_mask, kk, tx, my);
    each_output<R>([&](int i, int j) {
      sum[i][j] += dev::as_uint(exact_product_add_rz(x[i], y[j], dev::as_float(cbits[i][j]))) ^ mx[i] ^ my[j];
    });
  }
  uint32_t wa[R], za[R], wb[kThreadCols], zb[kThreadCols];
  ULPGATE_UNROLL
  for (int i = 0; i < R; ++i) wa[i] = step_bits(s.a_sign, ty * R + i), za[i] = step_bits(s.a_nonzero, ty * R + i);
  ULPGATE_UNROLL
  for (int j = 0; j < kThreadCols; ++j) {
    wb[j] = step_bits(s.b_sign, tx * 4 + j), zb[j] = step_bits(s.b_nonzero, tx * 4 + j);
  }
  each_output<R>([&](int i, int j) {
    // n 2^8 (the 24 bits moved to the top) as an int32, and u 2^-8 (a normal float: E - f - 8 > -126)
    const int32_t n256 = int32_t((sum[i][j] + uint32_t(dev::popc(wa[i] ^ wb[j]))) << 8);
    const float big = dev::as_float(cbits[i][j]), u256 = dev::as_float(cbits[i][j] - (31u << 23));
    const float total = fmaf(float(n256), u256, truncate_term(c[i][j], big));  // exact
    if constexpr (kBound)
      err[i][j] += step_error(dev::popc(za[i] & zb[j]) + (c[i][j] != 0), big, total, p.sum_quantum);
    c[i][j] = dev::as_float(dev::as_uint(total) & p.sum_mask);
  });
}

// 32 K of the fp32-fma model: c = fmaf(a_k, b_k, c), K ascending; each fmaf adds half an ulp of
// its result to the bound (products past K are zero padding: fmaf(0, 0, c) = c, c never -0, and
// no bound).
template <int R, bool kBound>
ULPGATE_DEVICE void fma_step(const StepTiles& s, unsigned tx, unsigned ty, const ReplayParams& p, int64_t k0,
                             float (&c)[R][kThreadCols], double (&err)[R][kThreadCols]) {
  each_pair<R>(s.a_value, s.b_value, tx, ty, [&](int kk, int i, int j, float x, float y) {
    c[i][j] = fmaf(x, y, c[i][j]);
    if constexpr (kBound)
      if (k0 + kk < p.k) err[i][j] += half_ulp_of(c[i][j]);
  });
}

// The codes [k0, k0 + 16) of one row (zeros past the row's end or past K: code 0 is +0 in every
// fp8 format, and zero products are dropped), one vector load where aligned. Kept as four words
// until decoded: held as 16 bytes, nvcc split them right after the load, so each step waited on
// its next step's load (long scoreboard, ncu on ce739cc).
using CodeWords = Pack16<uint32_t>;
ULPGATE_DEVICE CodeWords load_codes(const uint8_t* codes, int64_t rows, int64_t k, int64_t row, int64_t k0,
                                    bool aligned) {
  if (row < rows && aligned && k0 + 16 <= k)
    return dev::load16(reinterpret_cast<const uint32_t*>(codes + row * k + k0));
  CodeWords p{};
  for (int j = 0; j < 16; ++j)
    if (row < rows && k0 + j < k) p.v[j / 4] |= uint32_t(codes[row * k + k0 + j]) << 8 * (j % 4);
  return p;
}
ULPGATE_DEVICE unsigned code_at(const CodeWords& codes, int j) { return codes.v[j / 4] >> 8 * (j % 4) & 0xffu; }

// The replay of a (16 kRows) x 64 output tile: 256 threads, each kRows x 4 outputs in registers
// (chain c, accumulator acc, and their bounds), K in steps of 32 whose operands are decoded into
// one of two shared buffers while the other is read (one barrier a step).
// Cost of the sm90 bits (nvcc 13.0, sm_90a SASS, 4 x 4 outputs): the E pass 86 instructions per
// 128 products (8 VIADDMNMX.S16x2 and 2 LDS per K), the sum 60 per 16 (FFMA.RZ, LOP3, IMAD.IADD
// each, 4 LDS): 4.4 instructions a product, against 7.5 with the sum in fp32 (FMUL, LOP3, FADD.RZ,
// two FADD each and an FMUL, FMNMX pair for E). ncu at 8192^3 (H100, clocks locked, 128-column
// tiles): with 4 x 8 outputs and 8 warps an SM 105 G warp instructions (152 G before), issue 53 %
// of cycles; with 2 x 8 and 16 warps 121 G, issue 65 %, stalls per issue: short scoreboard 1.38
// (the shared loads: 67 % of the shared pipe's wavefronts), wait 1.26, not selected 0.84, math
// pipe throttle 0.56, barrier 0.52; ALU pipe 51 %, FMA-heavy 43 %. 4 x 4 outputs cut the shared
// wavefronts a K-step of a warp from 10 to 6. The bound adds a few fp64 operations per step and
// chain. ncu at 8192^3 gemm.block (H200, clocks as found, 4 x 4 outputs, 500b95c): 115 G warp
// instructions, 6.7 a product: the sum's K loop 56 % (8 of its 60 a K the loop's own, now unrolled),
// the E pass 10 %, end_chain's scale indices 13 % (divisions: now found once, ScaleRows), the
// step's ends 11 %, decoding 8 %; issue 67 % busy, ALU pipe 55 %, stalls: wait 25 %, not selected
// 18 %, short scoreboard 15 %, math pipe 12 %. 165.0 -> 136.6 ms (the bound's 226.6 -> 186.5).
// ncu on ce739cc: 81.7 G (4.75 a product), issue 57 %, ALU 65 %, long scoreboard 16 % of the stalls,
// a quarter of them on the next step's codes split into bytes right after their load (CodeWords
// keeps them as words: 136.6 -> 127.4 ms, the bound's 186.5 -> 177.4, spills 218 -> 36 bytes).
// Measured and not kept: two K a pass, their terms added first (one IADD3 for two products, on
// the ALU pipe where IMAD.IADD ran on FMA-heavy): 151.2 ms against 150.5 without it. Each
// product's add moved off the ALU pipe as an IMAD by a 1 the compiler cannot see (2.6 -> 2.1 ALU
// instructions a product, but one add a product where IADD3 takes two): 127.4 -> 155.7 ms (H200,
// stop 85, beside a90611a's build in one call, two rounds): the replay is bound by issue, not by
// the ALU pipe. ScaleRows' 8 pointers kept in shared memory (a block's rows and columns) instead of
// 16 registers: the bits-alone replay's 36 bytes of spills gone, 127.2 -> 124.5 ms, but with the
// bound, what the harness runs, 177.2 -> 179.5 (H200, stop 90, two rounds in one call): not kept.
template <class Kind>
struct Replay {
  static constexpr int R = Kind::kRows, kTileRows = Kind::kTileRows, kMaxRegisters = Kind::kMaxRegisters;
  const uint8_t *a, *b;  // [M, K], [N, K] codes
  const float *sa, *sb;  // logical scales
  const StepTable *table_a, *table_b;
  ReplayParams p;
  bool aligned;  // K % 16 == 0 and 16-byte aligned operands: vector loads
  uint32_t* bits;
  double* bound;  // [M, N] with Kind::kBound, else unused

  ULPGATE_DEVICE void operator()() const {
    char* sh = dev::dynamic_shared<char>();
    constexpr std::size_t kTileBytes = StepTiles::bytes(kTileRows);
    // carved where used, from the shared base: the compiler then keeps shared-memory loads
    const auto tiles = [&](int64_t step) { return StepTiles::carve(sh + (step % 2) * kTileBytes, kTileRows); };
    StepTable* ta = reinterpret_cast<StepTable*>(sh + 2 * kTileBytes);
    StepTable* tb = ta + 1;
    const unsigned tid = dev::thread_rank(), tx = tid % 16, ty = tid / 16;
    for (unsigned i = tid; i < 256; i += kReplayThreads) {
      ta->value[i] = table_a->value[i], ta->exp[i] = table_a->exp[i];
      tb->value[i] = table_b->value[i], tb->exp[i] = table_b->exp[i];
    }
    const int64_t m0 = int64_t(dev::block_idx().y) * kTileRows, n0 = int64_t(dev::block_idx().x) * kReplayCols;
    // Loaders, 16 codes each: A's rows x 32 codes by the threads below 2 kTileRows, B's 64 rows by
    // the last 128 threads (with 64 rows of A, each thread decodes one side).
    const unsigned b_tid = tid - (kReplayThreads - 2 * kReplayCols);  // wraps for the others: not loaders
    const bool a_loader = tid < 2 * kTileRows, b_loader = b_tid < 2 * kReplayCols;
    const int64_t a_row = m0 + tid % kTileRows, b_row = n0 + b_tid % kReplayCols;
    const int a_half = int(tid / kTileRows), b_half = int(b_tid / kReplayCols);
    const auto fetch = [&](int64_t step, CodeWords& ca, CodeWords& cb) {
      if (a_loader) ca = load_codes(a, p.m, p.k, a_row, step * kStepK + 16 * a_half, aligned);
      if (b_loader) cb = load_codes(b, p.n, p.k, b_row, step * kStepK + 16 * b_half, aligned);
    };
    float c[R][kThreadCols], acc[R][kThreadCols];
    double c_err[R][kThreadCols], acc_err[R][kThreadCols];
    each_output<R>([&](int i, int j) { c[i][j] = 0, acc[i][j] = 0, c_err[i][j] = 0, acc_err[i][j] = 0; });
    const int64_t steps = (p.k + kStepK - 1) / kStepK;
    const ScaleRows scales = scale_rows(m0 + ty * R, n0 + tx * 4);
    CodeWords ca{}, cb{};
    // Step s + 1's codes are decoded into the other buffer while other warps still compute step s,
    // and step s + 2's are loaded then: one barrier a step.
    const auto decode_step = [&](int64_t step) {
      if (a_loader) decode<true>(ca, *ta, tiles(step), a_half, tid % kTileRows);
      if (b_loader) decode<false>(cb, *tb, tiles(step), b_half, b_tid % kReplayCols);
      if (step + 1 < steps) fetch(step + 1, ca, cb);
    };
    if (steps > 0) fetch(0, ca, cb);
    dev::block_sync();  // the tables are in place
    if (steps > 0) decode_step(0);
    int64_t chain = 0;             // chains ended; with block scales a chain is a K-block: its index
    int left = p.steps_per_chain;  // steps until the chain ends
    for (int64_t step = 0; step < steps; ++step) {
      dev::block_sync();  // step's tiles are decoded, and every read of the other buffer (step - 1) is done
      if constexpr (Kind::kFma)
        fma_step<R, Kind::kBound>(tiles(step), tx, ty, p, step * kStepK, c, c_err);
      else
        mma_step<R, Kind::kBound>(tiles(step), tx, ty, p, c, c_err);
      if (step + 1 < steps) decode_step(step + 1);
      if (--left == 0 || step + 1 == steps) {
        end_chain(c, c_err, acc, acc_err, scales, chain, chain == 0);
        ++chain, left = p.steps_per_chain;
      }
    }
    write(acc, acc_err, scales, m0 + ty * R, n0 + tx * 4);
  }

  // Each output's scale row, found once: ScaleIndex divides, which at every K-block's end cost 1811
  // instructions a warp (13 % of the sm90 replay's at 8192^3 gemm.block on an H200).
  struct ScaleRows {
    const float *a[R], *b[kThreadCols];
  };
  ULPGATE_DEVICE ScaleRows scale_rows(int64_t m0, int64_t n0) const {
    ScaleRows s;
    ULPGATE_UNROLL
    for (int i = 0; i < R; ++i) s.a[i] = sa + p.scale.sa(clamp_m(m0 + i), 0);
    ULPGATE_UNROLL
    for (int j = 0; j < kThreadCols; ++j) s.b[j] = sb + p.scale.sb(clamp_n(column(n0, j)), 0);
    return s;
  }

  // Codes [16 half, 16 half + 16) of row `row` of A's tile (kA) or B's into the K-major tiles:
  // the values alone for fmaf; magnitudes, sign masks, exponents and the row's sign and nonzero
  // bits for the sm90 steps (StepTiles).
  template <bool kA>
  ULPGATE_DEVICE static void decode(const CodeWords& codes, const StepTable& t, const StepTiles& s, int half,
                                    unsigned row) {
    const int width = kA ? kTileRows : kReplayCols;
    float* value = kA ? s.a_value : s.b_value;
    uint32_t* mask = kA ? s.a_mask : s.b_mask;
    uint32_t signs = 0, nonzeros = 0;
    ULPGATE_UNROLL
    for (int j = 0; j < 16; ++j) {
      const int at = (16 * half + j) * width + int(row);
      const unsigned code = code_at(codes, j);
      const float v = t.value[code];
      if constexpr (Kind::kFma) {
        value[at] = v;
      } else {
        const uint32_t bits = dev::as_uint(v);
        value[at] = dev::as_float(bits & 0x7fffffffu);
        mask[at] = uint32_t(int32_t(bits) >> 31);
        const int16_t e = t.exp[code];
        if constexpr (kA)
          s.a_exp[at] = uint32_t(uint16_t(e)) * 0x10001u;
        else
          s.b_exp[at] = e;
        signs |= (bits >> 31) << j;
        nonzeros |= uint32_t(v != 0) << j;
      }
    }
    if constexpr (!Kind::kFma) {
      (kA ? s.a_sign : s.b_sign)[2 * row + unsigned(half)] = uint16_t(signs);
      (kA ? s.a_nonzero : s.b_nonzero)[2 * row + unsigned(half)] = uint16_t(nonzeros);
    }
  }

  ULPGATE_DEVICE static int64_t column(int64_t n0, int j) { return n0 + j; }
  ULPGATE_DEVICE int64_t clamp_m(int64_t m) const { return m < p.m ? m : p.m - 1; }
  ULPGATE_DEVICE int64_t clamp_n(int64_t n) const { return n < p.n ? n : p.n - 1; }

  // A chain's result into the accumulator: by the block's scales (one FMA), or added with RN into
  // the epilogue's sum, the first chain being the sum itself (reference/gemm replay.cpp segment).
  ULPGATE_DEVICE void end_chain(float (&c)[R][kThreadCols], double (&c_err)[R][kThreadCols], float (&acc)[R][kThreadCols],
                                double (&acc_err)[R][kThreadCols], const ScaleRows& scales, int64_t kb,
                                bool first) const {
    each_output<R>([&](int i, int j) {
      const BoundedF chain{c[i][j], c_err[i][j]}, sum{acc[i][j], acc_err[i][j]};
      const BoundedF r = p.block_scaled ? scaled(p.rule, chain, scales.a[i][kb], scales.b[j][kb], &sum)
                         : first ? chain
                                 : plus(sum, chain);
      acc[i][j] = r.v, acc_err[i][j] = r.err;
      c[i][j] = 0, c_err[i][j] = 0;
    });
  }

  // D rounded to the output; the bound inflated by 2^-30 for its own double roundings (as the
  // host reference does).
  ULPGATE_DEVICE void write(const float (&acc)[R][kThreadCols], const double (&acc_err)[R][kThreadCols],
                            const ScaleRows& scales, int64_t m0, int64_t n0) const {
    each_output<R>([&](int i, int j) {
      const int64_t m = m0 + i, n = column(n0, j);
      if (m >= p.m || n >= p.n) return;
      const BoundedF sum{acc[i][j], acc_err[i][j]};
      const BoundedF d = p.block_scaled ? sum : scaled(p.rule, sum, scales.a[i][0], scales.b[j][0], nullptr);
      bits[m * p.n + n] = OutFormat<Kind::Out>::round(double(d.v));
      if constexpr (Kind::kBound) bound[m * p.n + n] = d.err * (1 + 0x1p-30);
    });
  }
};

}  // namespace ulpgate::gemm_kernels
