// allreduce.rms / allreduce.rms-quant in one kernel per rank (reference/allreduce/fused.hpp): the
// custom all-reduce's flag barriers and fp32 rank-order pack sums (allreduce_kernels.hpp) feed the
// RMSNorm kernel's row code (norm_kernels.hpp) through the rank's tmp buffer, which holds the T
// sums the norm reads as its x. Blocks own rows by the norm kernel's grid-stride, the same on every
// rank, so block b of every rank meets block b at the barriers and handles the same rows:
//
//   one-shot  per batch of the block's rows: sum them from every rank's input into the own tmp
//             buffer, sync the block, normalize them (residual, norm, quantizer);
//   two-shot  rank r sums the rows it owns (allreduce::owned_rows) and stores the T sums into
//             every rank's tmp buffer; after the middle barrier every rank normalizes every row.
#pragma once

#include "kernels/allreduce/allreduce_kernels.hpp"
#include "kernels/norm/norm_kernels.hpp"

namespace ulpgate::allreduce_kernels {

template <class Norm, class Faults = NoFault>
struct FusedAllreduceNorm {
  static constexpr Format F = Norm::kFormat;
  static constexpr int kMaxRegisters = Norm::kMaxRegisters;  // the norm rows' register budget (PERF.md)
  WorldPointers p;
  Shape s;           // packs: the message's (M * H elements of T)
  Norm norm;         // x: this rank's tmp buffer
  int64_t row_packs; // 16-byte packs per row
  bool two_shot;
  Faults faults;

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(norm_kernels::Quad, partials, norm_kernels::kMaxWarps / 4);
    const uint32_t flag = next_flag(p, s);
    world_barrier(p, s, kStart, flag);
    const int64_t per_block = norm.geo.rows_per_block, stride = int64_t(dev::grid_dim().x) * per_block;
    const int64_t first = int64_t(dev::block_idx().x) * per_block;
    if (two_shot) {
      for (int64_t row0 = first; row0 < norm.m; row0 += stride) sum_rows(row0, per_block, true);
      world_barrier(p, s, kMiddle, flag);
      for (int64_t row0 = first; row0 < norm.m; row0 += stride) normalize_rows(row0, partials);
    } else {
      for (int64_t row0 = first; row0 < norm.m; row0 += stride) {
        sum_rows(row0, per_block, false);
        dev::block_sync();  // the block's sums, before its threads read them as x
        normalize_rows(row0, partials);
      }
    }
    finish(p, s, flag, faults.end_barrier());
  }

  // Rows [row0, row0 + n) that this rank sums: all (one-shot) or those it owns (two-shot).
  ULPGATE_DEVICE void sum_rows(int64_t row0, int64_t n, bool push) const {
    int64_t begin = row0, end = row0 + n < norm.m ? row0 + n : norm.m;
    if (push) {
      const int64_t per = norm.m / s.world, extra = norm.m % s.world;
      const int64_t own = s.rank * per + (s.rank < extra ? s.rank : extra);
      const int64_t own_end = own + per + (s.rank < extra ? 1 : 0);
      begin = begin > own ? begin : own;
      end = end < own_end ? end : own_end;
    }
    for (int64_t i = begin * row_packs + dev::thread_rank(); i < end * row_packs; i += dev::block_dim().x) {
      const Lanes<F> sum = reduce_pack<F>(p, s, faults.first_rank(s.rank, 0), i);
      if (!push) {
        sum.store(p.tmp[s.rank] + i * 16);
        continue;
      }
      for (int q = 0; q < s.world; ++q)
        if (faults.gathers(q, s.rank)) sum.store(p.tmp[q] + i * 16);
    }
  }

  ULPGATE_DEVICE void normalize_rows(int64_t row0, norm_kernels::Quad* partials) const {
    const auto at = norm.place();
    const int64_t row = row0 + at.row_in_block;
    if (row < norm.m) norm.normalize_row(row, at.t, at.first, partials);
  }
};

}  // namespace ulpgate::allreduce_kernels
