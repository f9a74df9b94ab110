// allreduce.rms / allreduce.rms-quant in one kernel per rank (reference/allreduce/fused.hpp): the
// custom all-reduce's flag barriers and fp32 rank-order pack sums (allreduce_kernels.hpp) feed the
// RMSNorm kernel's row code (norm_kernels.hpp) as its x. Blocks own rows by the norm kernel's
// grid-stride, the same on every rank, so block b of every rank meets block b at the barriers:
//
//   one-shot  (OneShot) every row's x is summed from every rank's input as the row code loads it
//             (RankSum), through no buffer;
//   two-shot  rank r sums the rows it owns (allreduce::owned_rows) and stores the T sums into
//             every rank's tmp buffer; after the middle barrier every rank normalizes every row
//             with its tmp buffer as x.
#pragma once

#include "kernels/allreduce/allreduce_kernels.hpp"
#include "kernels/norm/norm_kernels.hpp"

namespace ulpgate::allreduce_kernels {

// OneShot: one-shot launches (fused_plan.hpp); the two-shot kernel is the other instantiation.
template <class Norm, class Faults = NoFault, bool OneShot = false>
struct FusedAllreduceNorm {
  static constexpr Format F = Norm::kFormat;
  using T = typename Norm::T;
  // The norm rows' register budget (kernels/norm/PERF.md), and the 16-byte packs a thread sums at
  // once. fp32 weights: 8 registers more and two packs, which took two-shot rms-quant per token from
  // 55% to 73% of copy on the H200; with T weights both made every row slower (kernels/norm/PERF.md).
  // One-shot's sum in the row code: 40 more (H200, rms at 16384 x 7168: 561 us at 40, 602-650 at
  // 32-48 in a form that held the row's place across the loop; kernels/norm/PERF.md), but at most
  // 128: two 224-thread rows an SM (fourteen warps, four on a sub-partition of 16384 registers) need
  // that, and above it the co-resident grid halves. rms-quant with fp32 weights and fp32 quantizer
  // inputs wanted 152: 1260 -> 817 us at 128; its T-bit inputs (QuantIn::t_once) fit 128 without
  // spills: 618 us (kernels/norm/PERF.md).
  static constexpr int kOneShotRegisters = 128;
  static constexpr bool kFp32Weight = Norm::kForm.fp32_weight;
  static constexpr int kWanted = Norm::kMaxRegisters + (kFp32Weight ? 8 : 0) + (OneShot ? 40 : 0);
  static constexpr int kMaxRegisters = OneShot && kWanted > kOneShotRegisters ? kOneShotRegisters : kWanted;
  static constexpr int kSumPacks = kFp32Weight ? 2 : 1;
  // Two-shot with T weights loads them once r is known (RmsNorm::normalize_row): 16 registers
  // fewer across the row's reduction (ptxas: rms spilled 40 bytes, now 16) took the H200's rms row
  // from 779-785 to 771-779 us. fp32 weights keep them early (two-shot rms-quant 798 us, 806 late),
  // as does one-shot (rms 567 -> 700 us late: an L2 round trip after the barrier, nothing hides it).
  static constexpr bool kLateWeights = !OneShot && !kFp32Weight;
  WorldPointers p;
  Shape s;           // packs: the message's (M * H elements of T)
  Norm norm;         // x: this rank's tmp buffer
  int64_t row_packs; // 16-byte packs per row
  bool two_shot;
  Faults faults;

  // One-shot: x of a row as the row code loads it, summed from every rank's input in fp32, in
  // rank order from `first`, and rounded to T.
  struct RankSum {
    const FusedAllreduceNorm& k;
    int first;

    template <bool Whole, class N>
    ULPGATE_DEVICE void load(const N& n, int64_t base, int at, norm_kernels::Raw (&c)[norm_kernels::kMaxSlots]) const {
      constexpr int kSlots = norm_kernels::kMaxSlots;
      // Slot j's chunk lies j * step bytes past the first (RmsNorm::chunk_at), in every buffer.
      const int64_t off = (base + n.chunk_at(0, at)) * int64_t(sizeof(T));
      const int step = n.geo.lanes * N::V * int(sizeof(T));
      const auto whole = [&](int j) { return Whole || n.chunk_size(n.chunk_at(j, at)) == N::V; };
      const auto chunk = [&](const uint8_t* buffer, int j) { return reinterpret_cast<const uint32_t*>(buffer + off + j * step); };
      // The first two ranks' chunks (a world has 2 to 8) all loaded at once; two ranks add them
      // without an fp32 row between (registers: ptxas spilled 260-624 bytes with one).
      norm_kernels::Raw a[kSlots], b[kSlots];
      const uint8_t *first_x = k.p.data[first], *second_x = k.p.data[(first + 1) % k.s.world];
      ULPGATE_UNROLL
      for (int j = 0; j < kSlots; ++j)
        if (whole(j)) a[j] = dev::load16(chunk(first_x, j)), b[j] = dev::load16(chunk(second_x, j));
      ULPGATE_UNROLL
      for (int j = 0; j < kSlots; ++j) {
        if (!whole(j)) {
          c[j] = norm_kernels::Raw{};
          continue;
        }
        Lanes<F> sum;
        sum.set(a[j]);
        sum.add(b[j]);
        for (int r = 2; r < k.s.world; ++r) sum.add(dev::load16(chunk(k.p.data[(first + r) % k.s.world], j)));
        c[j] = sum.narrow();
      }
    }
    ULPGATE_DEVICE void prefetch(int64_t base, uint32_t bytes) const {
      for (int r = 0; r < k.s.world; ++r) dev::prefetch_l2(k.p.data[r] + base * int64_t(sizeof(T)), bytes);
    }
  };

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(norm_kernels::Quad, partials, norm_kernels::kMaxWarps / 4);
    const uint32_t flag = next_flag(p, s);
    world_barrier(p, s, kStart, flag);
    const int64_t per_block = norm.geo.rows_per_block, stride = int64_t(dev::grid_dim().x) * per_block;
    const int64_t first = int64_t(dev::block_idx().x) * per_block;
    if (!OneShot && two_shot) {
      for (int64_t row0 = first; row0 < norm.m; row0 += stride) sum_rows(row0, per_block, true);
      world_barrier(p, s, kMiddle, flag);
    }
    // One call site of the row code (with two, ptxas spilled 164-180 bytes at the norm's register
    // cap and every fused row ran 1-5 points of copy slower on the H200). The two-shot kernel
    // keeps the one-shot sum staged through tmp, which no launch takes since RankSum: without it
    // ptxas allocates that kernel differently, and two-shot rms-quant with fp32 weights ran 17 %
    // slower on the H200 (973 against 828 us; kernels/norm/PERF.md).
    for (int64_t row0 = first; row0 < norm.m; row0 += stride) {
      if (!OneShot && !two_shot) {
        sum_rows(row0, per_block, false);
        dev::block_sync();  // the block's sums, before its threads read them as x
      }
      normalize_rows(row0, partials);
    }
    finish(p, s, flag, faults.end_barrier());
  }

  // Rows [row0, row0 + n) that this rank sums into tmp: those it owns (two-shot), or all (the
  // staged one-shot above).
  ULPGATE_DEVICE void sum_rows(int64_t row0, int64_t n, bool push) const {
    int64_t begin = row0, end = row0 + n < norm.m ? row0 + n : norm.m;
    if (push) {
      const int64_t per = norm.m / s.world, extra = norm.m % s.world;
      const int64_t own = s.rank * per + (s.rank < extra ? s.rank : extra);
      const int64_t own_end = own + per + (s.rank < extra ? 1 : 0);
      begin = begin > own ? begin : own;
      end = end < own_end ? end : own_end;
    }
    // kSumPacks packs a thread from each rank in flight at once, all before the first store (the
    // stores may alias the inputs for all the compiler knows, so it would not move loads above them).
    const int64_t step = dev::block_dim().x, last = end * row_packs;
    const int first = faults.first_rank(s.rank, 0);
    for (int64_t i = begin * row_packs + dev::thread_rank(); i < last; i += kSumPacks * step) {
      Lanes<F> sum[kSumPacks];
      reduce_packs<F, kSumPacks>(p, s, first, i, step, last, sum);
      ULPGATE_UNROLL
      for (int u = 0; u < kSumPacks; ++u) {
        if (i + u * step >= last) break;
        const int64_t at = (i + u * step) * 16;
        if (!push) {
          sum[u].store(p.tmp[s.rank] + at);
          continue;
        }
        for (int q = 0; q < s.world; ++q)
          if (faults.gathers(q, s.rank)) sum[u].store(p.tmp[q] + at);
      }
    }
  }

  ULPGATE_DEVICE void normalize_rows(int64_t row0, norm_kernels::Quad* partials) const {
    const auto at = norm.place();
    const int64_t row = row0 + at.row_in_block;
    if (row >= norm.m) return;
    if constexpr (OneShot) norm.normalize_row(row, at.t, at.first, partials, RankSum{*this, faults.first_rank(s.rank, 0)});
    else norm.template normalize_row<kLateWeights>(row, at.t, at.first, partials, norm);  // x: the tmp buffer
  }
};

}  // namespace ulpgate::allreduce_kernels
