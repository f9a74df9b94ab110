// allreduce.rms / allreduce.rms-quant in one kernel per rank (reference/allreduce/fused.hpp): the
// custom all-reduce's flag barriers and fp32 rank-order pack sums (allreduce_kernels.hpp) feed the
// RMSNorm kernel's row code (norm_kernels.hpp) as its x. Blocks own rows by the norm kernel's
// grid-stride, the same on every rank, so block b of every rank meets block b at the barriers:
//
//   one-shot  (OneShot) every row's x is summed from every rank's input as the row code loads it
//             (RankSum), through no buffer;
//   two-shot  rank r sums the rows it owns (allreduce::owned_rows) and stores the T sums into
//             every rank's tmp buffer; after the middle barrier every rank normalizes every row
//             with its tmp buffer as x;
//   two-shot, the owner adding (OwnerAdds: every rank's buffers in one address space, and z the
//             rounded sum T(x + residual)): rank r also adds every rank's residual to its rows'
//             sums and stores z as that rank's new residual; after the middle barrier every rank
//             normalizes its new residual as norm.rms / norm.rms-quant would. The tmp buffers'
//             store and load are gone: 4 t bytes a rank instead of 5 t (t = the message).
#pragma once

#include "kernels/allreduce/allreduce_kernels.hpp"
#include "kernels/norm/norm_kernels.hpp"

namespace ulpgate::allreduce_kernels {

// The norm kernel N without its residual add: the same row code, profile and outputs, its x the
// z that N would form (for a Form whose z is T(x + residual), not fp32).
template <class N>
struct PlainNorm;
template <Format In, class Reduce, class Path, norm_kernels::Form K>
struct PlainNorm<norm_kernels::RmsNorm<In, Reduce, Path, K>> {
  static_assert(!K.fp32_z, "an fp32 z is not what the residual stores");
  static constexpr norm::Op kOp = K.op == norm::Op::rms_add ? norm::Op::rms : K.op == norm::Op::rms_add_quant ? norm::Op::rms_quant : K.op;
  using type = norm_kernels::RmsNorm<In, Reduce, Path, norm_kernels::Form{kOp, K.fp32_z, K.vectors, K.quant_in, K.fp32_weight}>;
  // n's buffers and plan, x its residual_out.
  static type of(const norm_kernels::RmsNorm<In, Reduce, Path, K>& n) {
    return {n.residual_out, nullptr, n.weight, n.y, nullptr, n.codes, n.m, n.h, n.math, n.geo, n.quant, n.scales, n.steps};
  }
};

// The row code's kernel of a fused kernel: N, or with OwnerAdds its plain form.
template <class N, bool OwnerAdds>
struct RowsOf {
  using type = N;
};
template <class N>
struct RowsOf<N, true> {
  using type = typename PlainNorm<N>::type;
};

// OwnerAdds: every rank's residual and new residual, as bytes.
struct WorldResiduals {
  const uint8_t* in[kMaxWorld];
  uint8_t* out[kMaxWorld];
};

// OneShot: one-shot launches (fused_plan.hpp); the two-shot kernels are the others, OwnerAdds
// where all ranks' buffers are in one address space (FusedPlan::owner_adds).
template <class Norm, class Faults = NoFault, bool OneShot = false, bool OwnerAdds = false>
struct FusedAllreduceNorm {
  static_assert(!(OneShot && OwnerAdds));
  static constexpr Format F = Norm::kFormat;
  using T = typename Norm::T;
  // The row code's kernel: Norm, or with OwnerAdds its plain form (fewer registers: no residual).
  using Rows = typename RowsOf<Norm, OwnerAdds>::type;
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
  static constexpr int kWanted = Rows::kMaxRegisters + (kFp32Weight ? 8 : 0) + (OneShot ? 40 : 0);
  static constexpr int kMaxRegisters = OneShot && kWanted > kOneShotRegisters ? kOneShotRegisters : kWanted;
  static constexpr int kSumPacks = kFp32Weight ? 2 : 1;
  // Two-shot with T weights loads them once r is known (RmsNorm::normalize_row): 16 registers
  // fewer across the row's reduction (ptxas: rms spilled 40 bytes, now 16) took the H200's rms row
  // from 779-785 to 771-779 us. fp32 weights keep them early (two-shot rms-quant 798 us, 806 late),
  // as does one-shot (rms 567 -> 700 us late: an L2 round trip after the barrier, nothing hides it).
  static constexpr bool kLateWeights = !OneShot && !kFp32Weight;
  WorldPointers p;
  Shape s;           // packs: the message's (M * H elements of T)
  Rows norm;         // x: this rank's tmp buffer; with OwnerAdds its new residual (PlainNorm::of)
  int64_t row_packs; // 16-byte packs per row
  bool two_shot;
  Faults faults;
  WorldResiduals residuals;  // OwnerAdds

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
        if constexpr (OwnerAdds) {
          add_residuals(sum[u].narrow(), at);
          continue;
        }
        for (int q = 0; q < s.world; ++q)
          if (faults.gathers(q, s.rank)) sum[u].store(p.tmp[q] + at);
      }
    }
  }

  // OwnerAdds: z = T(x + residual) of every rank at byte `at` (RmsNorm::add_residual's sum and
  // rounding), stored as its new residual; two ranks' residuals loaded before their stores.
  ULPGATE_DEVICE void add_residuals(const norm_kernels::Raw& x, int64_t at) const {
    const auto z = [&](const norm_kernels::Raw& r) {
      Lanes<F> sum;
      sum.set(x);
      sum.add(r);
      return sum.narrow();
    };
    for (int q = 0; q < s.world; q += 2) {
      const bool pair = q + 1 < s.world;
      const norm_kernels::Raw r0 = dev::load16(reinterpret_cast<const uint32_t*>(residuals.in[q] + at));
      const norm_kernels::Raw r1 = pair ? dev::load16(reinterpret_cast<const uint32_t*>(residuals.in[q + 1] + at)) : r0;
      if (faults.gathers(q, s.rank)) dev::store16(reinterpret_cast<uint32_t*>(residuals.out[q] + at), z(r0));
      if (pair && faults.gathers(q + 1, s.rank)) dev::store16(reinterpret_cast<uint32_t*>(residuals.out[q + 1] + at), z(r1));
    }
  }

  ULPGATE_DEVICE void normalize_rows(int64_t row0, norm_kernels::Quad* partials) const {
    const auto at = norm.place();
    const int64_t row = row0 + at.row_in_block;
    if (row >= norm.m) return;
    if constexpr (OneShot) norm.normalize_row(row, at.t, at.first, partials, RankSum{*this, faults.first_rank(s.rank, 0)});
    else norm.template normalize_row<kLateWeights>(row, at.t, at.first, partials, norm);  // x: tmp, or z (OwnerAdds)
  }
};

}  // namespace ulpgate::allreduce_kernels
