// quant.silu-mul: y = SiLU(gate) * up, then per-token-group fp8 quantization of y, in one kernel.
// Register path (GroupQuant's layout, `lanes` lanes x C chunks make one group, with C = 2 for
// 16-bit input, half GroupQuant's, as the y are held in fp32): each lane loads its chunks of gate
// and up once, keeps their y, and the group's amax is a shuffle of width `lanes`; the element path
// (ProfileCodes or NativeCodes, as for GroupQuant) turns the y into codes. General path (unaligned
// buffers): a lane walks its chunks twice, computing y again with the same fp32 steps, and the
// profile as runtime data. A profile other than vLLM's form (SGLang's g / d, FTZ, the codes or
// the amax of y stored in the input dtype: SGLang's, TransformerEngine's) takes ProfileCodes or the
// general path. vLLM's form on bf16 reads t from a table and stages each lane's next groups in
// shared memory (SiluTable, staged()).
#pragma once

#include "kernels/quant/quant_kernels.hpp"

namespace ulpgate::quant_kernels {

// vLLM's SiLU factor of a bf16 gate, t = fl(g * fl(1 / fl(1 + expf(-g)))) (then y = fl(t * u)),
// depends on the gate's 16 bits alone. A block computes it once with silu_mul's own steps for
// both signs of |g| in [2^-15, 2^9) (24 binades), and a chunk whose gates all lie there reads
// each t instead of computing the exp, the reciprocal and their range test, about a third of the
// element's instructions (kernels/quant/PERF.md). Other chunks take silu_mul_chunk. The negative
// gates' entries start at kSign, a power of two, so that the sign bit is or-ed into the index
// (28 KB of shared memory, 4 KB of it unused).
struct SiluTable {
  static constexpr uint32_t kFirst = 112u << 7;  // the bf16 magnitude bits of 2^-15
  static constexpr uint32_t kSpan = 24u << 7;    // one sign's entries
  static constexpr uint32_t kSign = 1u << 12;    // where the negative gates' entries start
  static constexpr int kEntries = int(2 * kSpan);

  ULPGATE_DEVICE static float* entries() {
    ULPGATE_SHARED(float, t, kSign + kSpan);
    return t;
  }
  // Called by every thread of the block before any reads it.
  ULPGATE_DEVICE static void build() {
    float* t = entries();
    for (uint32_t i = dev::thread_rank(); i < uint32_t(kEntries); i += dev::block_dim().x) {
      const uint32_t sign = i / kSpan, magnitude = kFirst + i % kSpan;
      const float g = dev::as_float((sign << 15 | magnitude) << 16);
      t[sign * kSign + i % kSpan] = g * sigmoid_of_exp(act_exp(-g));
    }
    dev::block_sync();
  }
  // y of a chunk of bf16 gates (widened) whose every gate has an entry; false, y untouched, else.
  template <int N>
  ULPGATE_DEVICE static bool silu_mul(const float (&g)[N], const float (&u)[N], float (&y)[N]) {
    static_assert(kSpan <= kSign, "one sign's entries below the other's");
    uint32_t at[N];
    bool all = true;
    ULPGATE_UNROLL
    for (int i = 0; i < N; ++i) {
      const uint32_t bits = dev::as_uint(g[i]) >> 16, offset = (bits & 0x7FFFu) - kFirst;
      all &= offset < kSpan;
      at[i] = offset | (bits >> (15 - 12) & kSign);  // the sign bit at kSign
    }
    if (!all) return false;
    const float* t = entries();
    ULPGATE_UNROLL
    for (int i = 0; i < N; ++i) y[i] = t[at[i]] * u[i];
    return true;
  }
};

// Every bf16 gate through SiluTable against silu_mul's steps (u = 1), by one block: each
// thread's count of gates the table holds and of those whose y differs (QuantKernels tests).
struct SiluTableProbe {
  uint32_t* held;    // [threads]
  uint32_t* differ;  // [threads]
  ULPGATE_DEVICE void operator()() const {
    SiluTable::build();
    uint32_t n = 0, bad = 0;
    for (uint32_t b = dev::thread_rank(); b < 0x10000u; b += dev::block_dim().x) {
      const float g[1] = {dev::as_float(b << 16)}, u[1] = {1.0f};
      float y[1];
      if (!SiluTable::silu_mul(g, u, y)) continue;
      ++n;
      bad += dev::as_uint(y[0]) != dev::as_uint(silu_mul(g[0], 1.0f)) ? 1u : 0u;
    }
    held[dev::thread_rank()] = n, differ[dev::thread_rank()] = bad;
  }
};

template <Format In, class Reduce = ShuffleAmax, class Path = ProfileCodes>
struct SiluMulQuant {
  using T = typename Input<In>::T;
  static constexpr int V = Chunk<In>::size;
  // The profile's sigmoid form, FTZ and stored y at run time (ProfileCodes); the native paths
  // are vLLM's form, which plan_quant gives them only.
  static constexpr bool kRuntimeForm = std::is_same_v<Path, ProfileCodes>;
  // vLLM's form on bf16 gates reads t from the block's SiluTable; the grid is then as many blocks
  // as the device holds at once (gpu::launch), so each builds its table once.
  static constexpr bool kTable = In == Format::bf16 && !kRuntimeForm;
  static constexpr bool kResidentGrid = kTable;
  static constexpr int C = lane_chunks(int(sizeof(T)), true, kTable);  // silu_staged's plans agree
  // 56 registers a thread: with the four loads issued first, 40 registers left too few to hold
  // them (612 us on an H100 against 526 at 48, 518 at 56, 520 at 64; kernels/quant/PERF.md).
  // With the table, 96: its 28 KB and the 16 KB of staged slots hold an SM to five blocks, which
  // 96 registers allow (no spill; at 128, four blocks: 337 against 326 us on the H200).
  static constexpr int kMaxRegisters = kTable ? 96 : 56;
  const T* x;        // [M, 2K]: gate then up in each row
  uint8_t* codes;    // [M, K]
  int64_t m, k, gs;  // rows, outputs per row, group size
  int lanes, lane_bits;
  QuantMath math;
  ScaleStore scales;
  ScaleSteps steps;  // the store's offsets as an affine map: two multiply-adds, not the layout switch

  // y of the n elements of one chunk starting at output column c of row `row`.
  ULPGATE_DEVICE void chunk_y(int64_t row, int64_t c, int n, float (&y)[V]) const {
    const T* gate = x + row * 2 * k + c;
    const Chunk<In> g = Chunk<In>::load(gate, n), u = Chunk<In>::load(gate + k, n);
    silu_mul_chunk(math, g.v, u.v, y);
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) y[i] = i < n ? y[i] : 0.0f;
  }

  ULPGATE_DEVICE void operator()() const {
    if constexpr (kTable) {
      SiluTable::build();
      if (register_layout<In>(gs, lanes, C, x, codes) && dev::block_dim().x <= unsigned(kStageThreads)) return staged();
    }
    for_each_group<In, Path>(*this);
  }

  // A group's gate and up as lane `sub` holds them: chunks sub, sub + lanes, ... (gs = lanes * C *
  // V, so k and every chunk are 16-byte aligned).
  struct Loaded {
    Raw<In> g[C], u[C];
  };
  ULPGATE_DEVICE Loaded load_group(int64_t row, int64_t col, int sub) const {
    const int64_t step = int64_t(lanes) * V;
    const T* gate = x + row * 2 * k + col * gs + int64_t(sub) * V;
    Loaded in;
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) in.g[c] = dev::load16(gate + c * step), in.u[c] = dev::load16(gate + k + c * step);
    return in;
  }

  // for_each_group's register path with the groups ahead of a lane staged in shared memory:
  // with the table a lane's arithmetic is too short to hide its loads, and holding the next
  // group in registers spilled (kernels/quant/PERF.md). Each thread copies its next groups'
  // chunks into its own slots (kStages groups in flight: one of four chunks, 128 bytes a thread;
  // two would pass a block's 48 KB of static shared memory) and reads only those, so no barrier
  // is needed. Blocks of at most kStageThreads threads (plan_quant's 128).
  static constexpr int kStages = 1, kStageThreads = 128;
  ULPGATE_DEVICE void staged() const {
    ULPGATE_SHARED(Raw<In>, slots, kStages * 2 * C * kStageThreads);
    const unsigned tid = dev::thread_rank();
    const int64_t threads = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    const int64_t t = int64_t(dev::block_idx().x) * dev::block_dim().x + tid;
    const int64_t per_row = k / gs, groups = m * per_row;
    const int sub = int(t & (lanes - 1));
    const int64_t step = int64_t(lanes) * V;
    const GroupWalk walk(threads >> lane_bits, per_row);
    GroupWalk::At ahead = walk.at(t >> lane_bits), now = ahead;
    const auto slot = [&](int64_t i, int j) -> Raw<In>* { return &slots[((i % kStages) * 2 * C + j) * kStageThreads + tid]; };
    // The copies of the lane's i-th group, `ahead` (none past the last), closed as one group of copies.
    const auto stage = [&](int64_t i) {
      if (ahead.gi < groups) {
        const T* gate = x + ahead.row * 2 * k + ahead.col * gs + int64_t(sub) * V;
        ULPGATE_UNROLL
        for (int c = 0; c < C; ++c)
          dev::copy16_async(&slot(i, c)->v[0], gate + c * step), dev::copy16_async(&slot(i, C + c)->v[0], gate + k + c * step);
      }
      dev::copies_commit();
      walk.next(ahead);
    };
    // The warp runs the loop while any of its lanes has a group, so that the amax shuffles see the
    // whole warp (warp_group_amax); a lane past the last computes on its slots (zeroed, or its
    // last group's) and stores nothing.
    ULPGATE_UNROLL
    for (int j = 0; j < kStages * 2 * C; ++j) *slot(j / (2 * C), j % (2 * C)) = Raw<In>{};
    const int64_t lead = dev::lane() >> lane_bits;  // groups of the warp before this lane's
    for (int i = 0; i < kStages; ++i) stage(i);
    for (int64_t i = 0; now.gi - lead < groups; ++i, walk.next(now)) {
      dev::copies_wait<kStages - 1>();
      float y[C][V], a[C];
      ULPGATE_UNROLL
      for (int c = 0; c < C; ++c) a[c] = y_of_chunk(*slot(i, c), *slot(i, C + c), y[c]);
      stage(i + kStages);  // into the slots just read
      quantize_y<true>(y, a, now.row, now.col, sub, now.gi < groups);
    }
  }

  ULPGATE_DEVICE void quantize_in_registers(int64_t row, int64_t col, int sub) const {
    quantize_loaded(load_group(row, col, sub), row, col, sub);
  }

  // y of one chunk of gate and up (raw), and its amax.
  ULPGATE_DEVICE float y_of_chunk(const Raw<In>& gate, const Raw<In>& up, float (&y)[V]) const {
    float g[V], u[V], a = 0.0f;
    Input<In>::widen(gate, g);
    Input<In>::widen(up, u);
    if constexpr (kRuntimeForm) {
      silu_mul_chunk(math, g, u, y);
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) a = Path::amax(math, a, amax_y(math, y[i]));
    } else {
      if (!kTable || !SiluTable::silu_mul(g, u, y)) silu_mul_chunk(g, u, y);
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) a = Path::amax(math, a, y[i]);
    }
    return a;
  }

  ULPGATE_DEVICE void quantize_loaded(const Loaded& in, int64_t row, int64_t col, int sub) const {
    float y[C][V], a[C];
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) a[c] = y_of_chunk(in.g[c], in.u[c], y[c]);
    quantize_y(y, a, row, col, sub);
  }

  // The group's amax, scale and codes from the lane's y and their amaxes; `Warp`: the whole warp
  // makes the call (warp_group_amax), and only lanes that `store` write.
  template <bool Warp = false>
  ULPGATE_DEVICE void quantize_y(float (&y)[C][V], float (&a)[C], int64_t row, int64_t col, int sub, bool store = true) const {
    const int64_t step = int64_t(lanes) * V, first = col * gs + int64_t(sub) * V;
    ULPGATE_UNROLL
    for (int c = 1; c < C; ++c) a[0] = Path::merge(math, a[0], a[c]);
    const float amax = Path::lane_amax(a[0]);
    const typename Path::Group grp = Path::group(
        math, Warp ? warp_group_amax<Reduce>(amax, lanes, propagates<Path>(math)) : Reduce{}(amax, lanes, propagates<Path>(math)));
    if (!store) return;
    if (sub == 0) steps.write(scales, row, col, grp.scale);
    if constexpr (kRuntimeForm)
      for (int c = 0; c < C; ++c)
        ULPGATE_UNROLL
        for (int i = 0; i < V; ++i) y[c][i] = stored_y(math, y[c][i]);
    CodeWord<V> w[C];
    Path::value_codes(math, grp, y, w);
    uint8_t* out = codes + row * k + first;
    ULPGATE_UNROLL
    for (int c = 0; c < C; ++c) store_word(out + c * step, w[c]);
  }

  ULPGATE_DEVICE void quantize_group(int64_t row, int64_t col, int sub) const {
    const int64_t c0 = col * gs;
    float amax = 0.0f, y[V];
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      chunk_y(row, c0 + c, n, y);
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) amax = amax_step(amax, amax_y(math, y[i]), math.nan_propagate);
    }
    amax = Reduce{}(amax, lanes, math.nan_propagate);
    const GroupArith g(math, amax);
    if (sub == 0) scales.write(row, col, g.scale);
    for (int64_t c = int64_t(sub) * V; c < gs; c += int64_t(lanes) * V) {
      const int n = int(gs - c < V ? gs - c : V);
      chunk_y(row, c0 + c, n, y);
      uint8_t q[V];
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) q[i] = quantize_one(math, g.factor, stored_y(math, y[i]));
      store_codes(codes + row * k + c0 + c, q, n);
    }
  }

};

}  // namespace ulpgate::quant_kernels
