// The RMSNorm kernels (spec/norm.md), one source for CUDA, HIP and the host-SIMT emulator:
// norm.rms, norm.rms-add and norm.rms-quant in one row kernel, RmsNorm.
//
// A row is spread over `row_threads` threads: a power of two up to the warp size (then a block
// holds several rows), or a multiple of the warp size (then a block is one row). A thread owns
// kMaxSlots chunks of V = 8 consecutive elements, one 16-byte vector access each where every row
// is whole aligned vectors (Form::vectors), element accesses otherwise. Chunks are dealt in runs:
// `lanes` consecutive threads own a run of lanes x kMaxSlots consecutive chunks, lane l chunks
// l, l + lanes, ..., so every load instruction of a warp reads whole sectors. For rms, rms-add
// and per-token quantization a run is the whole row (lanes = row_threads); for group
// quantization a run is one quant group, so a lane's share of the group's arithmetic is spread
// over 32 elements.
// The row is read once: its values stay in the thread's registers from the load through the sum
// of squares to the output pass, as raw 16-bit chunks where they are T-valued (x, or vLLM's
// rounded x + residual) and as fp32 only for AITER's unrounded x + residual (RowValues): half
// the registers, so that four 224-thread rows (H = 7168) share a multiprocessor. The sum of
// squares is a butterfly shuffle reduction of width min(row_threads, warp size) then, for
// multi-warp rows, the warps' partial sums from shared memory added in warp order: the same
// order on every backend.
//
// rms-quant is quant.group's quantizer on the values the profile quantizes: its element paths
// (quant_kernels.hpp: ProfileCodes, or the NativeCodes path plan_quant chose: the arithmetic of
// quant_math.hpp) and its scale storage (scale_store.hpp). A rounded y (vLLM's T(T(z r) w),
// FlashInfer's T(z r w)) stays in T bits (Form::quant_in): the amax a max over pairs, the codes
// quant.group's on 16-byte vectors; other profiles quantize fp32 values. Per token, the
// row's amax is a row reduction; per group, a shuffle of width `lanes` over the group's run.
//
// Templated on the element type, the warp reduction (tests substitute a faulty one), the
// quantizer path and the Form (kernels/norm/PERF.md says why these are compile-time); the rest
// of the profile is runtime data, uniform per launch.
#pragma once

#include <stdint.h>

#include <type_traits>

#include "kernels/norm/norm_math.hpp"
#include "kernels/norm/norm_rows.hpp"
#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_kernels.hpp"  // the element paths, ScalePadding
#include "kernels/quant/quant_plan.hpp"     // ElementPath
#include "kernels/quant/quant_math.hpp"
#include "kernels/quant/scale_store.hpp"
#include "reference/norm/norm.hpp"  // norm::Op

namespace ulpgate::norm_kernels {

inline constexpr int kMaxRowThreads = 512;   // the widest row: 512 x 4 x 8 = 16384 elements; a
                                             // block of 512 threads has 128 registers a thread
inline constexpr int kMaxWarps = 1024 / 32;  // partial sums of one row (and of any block)

// Four partial results of a row's warps: one 16-byte shared-memory read.
struct alignas(16) Quad {
  float v[4];
};

// How rows are spread over threads (norm_plan.cpp chooses it).
struct RowGeometry {
  int row_threads;     // threads per row: a power of two <= warp size, or a multiple of it
  int rows_per_block;  // 1 when row_threads > warp size
  int lanes;           // threads sharing a run of lanes x kMaxSlots chunks (divides row_threads)
  bool grouped;        // rms-quant per group: a run is one quant group (else the whole row)
  int row_bits;        // log2(row_threads) where rows_per_block > 1 (then a power of two)
  int lane_bits;       // log2(lanes) where grouped (then a power of two)
  int64_t ahead = 0;   // a row's first thread asks L2 for the input row this far on (0: none)
};

// Combining two partial results of a reduction. Both are symmetric in their operands, so every
// lane of a butterfly ends with the same bits.
struct SumOp {
  ULPGATE_DEVICE float operator()(float a, float b) const { return a + b; }
};
template <class Path>
struct AmaxOp {
  const quant_kernels::QuantMath& quant;  // the path's NaN policy (compile-time where it is native)
  ULPGATE_DEVICE float operator()(float a, float b) const { return Path::merge(quant, a, b); }
};

// A warp-level reduction over aligned groups of `width` lanes (a power of two <= warp size). A loop
// over the runtime width, not quant.group's unrolled ShuffleAmax form: unrolled, it made the fused
// two-shot rms-quant kernels spill more and run 1 % slower (kernels/norm/PERF-rms-quant.md).
struct ButterflyReduce {
  template <class Op>
  ULPGATE_DEVICE float operator()(float v, int width, const Op& op) const {
    for (int offset = width / 2; offset > 0; offset /= 2) v = op(v, dev::shfl_xor(v, offset, width));
    return v;
  }
  // The same where every lane of the warp takes part: the shuffles name the whole warp. The
  // common group of four lanes (a quant group of 128: kMaxSlots chunks of 8 a lane) as two
  // shuffles: norm.rms-quant's loop bookkeeping cost it 1.5 % on the H200 (PERF-rms-quant.md).
  template <class Op>
  ULPGATE_DEVICE float whole_warp(float v, int width, const Op& op) const {
    const int ws = dev::warp_size();
    if (width == 4) {
      v = op(v, dev::shfl_xor(v, 2, ws));
      return op(v, dev::shfl_xor(v, 1, ws));
    }
    for (int offset = width / 2; offset > 0; offset /= 2) v = op(v, dev::shfl_xor(v, offset, ws));
    return v;
  }
};

// acc + v * v as one fused multiply-add, as vLLM's and AITER's `sum += x * x` compile (nvcc and
// hipcc contract by default): one rounding per element on every backend (fmaf is exact on the
// host too). For T-valued z the square is exact in fp32 anyway (but for bf16 below 2^-63), so
// only AITER's fp32 z sums differently from the unfused form.
ULPGATE_DEVICE float add_square(float acc, float v) { return fmaf(v, v, acc); }

// The kernel of norm.rms and norm.rms-add: no quantizer compiled in.
struct NoQuant {};

// What the fused quantizer sees (rms-quant): fp32 values, or T bits (half the registers, and
// quant.group's codes on 16-byte vectors) where the profile quantizes the rounded y: T(T(z r) w)
// (vLLM's round twice: the second rounding one pair multiply) or T(z r w) (round once: FlashInfer).
enum class QuantIn : uint8_t { fp32, t_twice, t_once };

// What one kernel fixes at compile time: each costs registers wherever it is compiled in, and a
// kernel's registers are those of its most demanding path (rms needs 64 at H = 7168, so that four
// rows share a multiprocessor; rms-add's residual adds 16). The rest of the profile is runtime data.
struct Form {
  norm::Op op;
  bool fp32_z;   // z in fp32 (rms-add without rounding the residual), else raw chunks
  bool vectors;  // every chunk of every row is whole and 16-byte aligned: h % 8 == 0 and aligned
                 // buffers (else element accesses, any h and alignment)
  QuantIn quant_in = QuantIn::fp32;  // rms-quant
  bool fp32_weight = false;  // the weights are fp32 (allreduce.rms with vLLM's fp32 norm weights)
};

// Whether a Form's op adds a residual (norm.rms-add, norm.rms-add-quant).
constexpr bool adds_residual(norm::Op op) { return op == norm::Op::rms_add || op == norm::Op::rms_add_quant; }

// Path: NoQuant (norm.rms, norm.rms-add) or quant.group's element path (norm.rms-quant,
// norm.rms-add-quant).
template <Format In, class Reduce, class Path, Form K>
struct RmsNorm {
  static constexpr Format kFormat = In;
  static constexpr Form kForm = K;
  using E = Elem<In>;
  using T = typename E::T;
  static constexpr int V = kChunkElems;
  static_assert(sizeof(T) == 2, "chunks hold 16-bit elements");
  using Z = RowValues<E, K.fp32_z>;
  using W = RowWeights<E, K.fp32_weight>;
  static_assert(!(K.fp32_weight && K.quant_in == QuantIn::t_twice), "T(T(z r) w) multiplies T pairs: T weights only");
  // Registers per thread (CUDA), as measured on the H200 (kernels/norm/PERF.md): 64 lets four
  // 224-thread rows (H = 7168) or two 512-thread rows (H = 16384) share a multiprocessor, 56 five
  // (rms-quant on T bits fits without spills); rms-add's residual needs 72 to run without spills,
  // and 80 with AITER's fp32 z; element accesses need about 130.
  // fp32 weights (allreduce.rms) hold twice the registers of T weights.
  static constexpr int kMaxRegisters =
      (!K.vectors ? 128 : K.fp32_z ? 80 : adds_residual(K.op) ? 72 : K.quant_in != QuantIn::fp32 ? 56 : 64) + (K.fp32_weight ? 32 : 0);

  const T* x;
  const T* residual;   // rms-add
  const typename W::Elem* weight;
  T* y;                // rms, rms-add
  T* residual_out;     // rms-add
  uint8_t* codes;      // rms-quant
  int64_t m, h;
  NormMath math;
  RowGeometry geo;
  quant_kernels::QuantMath quant;    // rms-quant
  quant_kernels::ScaleStore scales;  // rms-quant
  quant_kernels::ScaleSteps steps;   // rms-quant: scales' offsets as an affine map

  // The thread's place by shifts (rows sharing a block and quant groups are powers of two wide):
  // t in its row, its first chunk, its row in the block.
  struct Place {
    int t, first, row_in_block;
  };
  ULPGATE_DEVICE Place place() const {
    const unsigned tid = dev::thread_rank();
    const bool one_row = geo.rows_per_block == 1;
    const int t = one_row ? int(tid) : int(tid & unsigned(geo.row_threads - 1));
    const int first = geo.grouped ? (t >> geo.lane_bits << geo.lane_bits) * kMaxSlots + (t & (geo.lanes - 1)) : t;
    return {t, first, one_row ? 0 : int(tid >> geo.row_bits)};
  }

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(Quad, partials, kMaxWarps / 4);
    const Place at = place();
    const int64_t per_block = geo.rows_per_block, stride = int64_t(dev::grid_dim().x) * per_block;
    // Grid-stride over rows; a multi-warp row is a whole block, so its barriers see every thread.
    for (int64_t row = int64_t(dev::block_idx().x) * per_block + at.row_in_block; row < m; row += stride)
      normalize_row(row, at.t, at.first, partials);
  }

  // The input of row `row`, as DRAM reads that complete into L2 while this block works: by the
  // time the block that normalizes it loads it, it is an L2 hit, so fewer of a multiprocessor's
  // rows sit waiting on DRAM (kernels/norm/PERF.md). Whole vector rows only (the bulk prefetch
  // needs 16-byte aligned, 16-byte multiple ranges).
  template <class Source>
  ULPGATE_DEVICE void prefetch_row(int64_t row, const Source& src) const {
    if (!K.vectors || row >= m) return;
    const uint32_t bytes = uint32_t(h * int64_t(sizeof(T)));
    src.prefetch(row * h, bytes);
    if constexpr (adds_residual(K.op)) dev::prefetch_l2(residual + row * h, bytes);
  }

  // The row's x from a Source: load<Whole> fills a thread's chunks as load_chunks does, prefetch
  // asks L2 for the row at element `base`. The kernel is its own (x in memory); the fused
  // all-reduce's one-shot sums its ranks' inputs instead (kernels/allreduce/fused_kernels.hpp).
  template <bool Whole>
  ULPGATE_DEVICE void load(const RmsNorm&, int64_t base, int first, Raw (&c)[kMaxSlots]) const {
    load_chunks<Whole>(x, base, first, c);
  }
  ULPGATE_DEVICE void prefetch(int64_t base, uint32_t bytes) const { dev::prefetch_l2(x + base, bytes); }

  ULPGATE_DEVICE void normalize_row(int64_t row, int t, int first, Quad* partials) const {
    normalize_row(row, t, first, partials, *this);
  }
  // LateWeights: the weights are loaded once r is known, not held in registers across the sum's
  // reduction (the fused two-shot kernel: it spilled with them, kernels/norm/PERF.md).
  template <bool LateWeights = false, class Source>
  ULPGATE_DEVICE void normalize_row(int64_t row, int t, int first, Quad* partials, const Source& src) const {
    const int64_t base = row * h;
    // Every load of the row is issued before any value is used: the weights first, as the
    // rms-add residual store that follows the row's loads would keep the compiler from moving
    // them up (residual_out may alias weight), adding an L2 round trip to every row.
    W w;
    Z z;
    if (whole_run(first)) {
      if (!LateWeights) load_weights<true>(first, w);
      load_row<true>(base, first, z, src);
    } else {
      if (!LateWeights) load_weights<false>(first, w);
      load_row<false>(base, first, z, src);
    }
    if (t == 0 && geo.ahead > 0) prefetch_row(row + geo.ahead, src);  // once per row, its loads issued
    float sum = 0.0f;
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) sum = add_square(sum, z.at(j, i));
    }
    const float r = row_rsqrt(math, row_reduce(sum, SumOp{}, partials), h);
    if (LateWeights) whole_run(first) ? load_weights<true>(first, w) : load_weights<false>(first, w);
    if constexpr (std::is_same_v<Path, NoQuant>) {
      if (math.round_twice) return write_y<true>(base, first, r, w, z);
      write_y<false>(base, first, r, w, z);
    } else {
      quantize_row(row, t, first, r, w, z, partials);
    }
  }

  // ---- the row's chunks ----------------------------------------------------------------------

  // Element offset in the row of the thread's slot j (first: its first chunk); 32 bits, as
  // h <= max_hidden_size.
  ULPGATE_DEVICE int chunk_at(int j, int first) const { return (first + j * geo.lanes) * V; }
  ULPGATE_DEVICE int chunk_size(int at) const {
    if constexpr (K.vectors) return at < int(h) ? V : 0;  // h % V == 0
    const int n = int(h) - at;
    return n >= V ? V : (n > 0 ? n : 0);
  }
  // Whether each of the thread's chunks is a whole vector in the row, as in the rows of the
  // common shapes: then its loads need no bound and no zeroing. Not for rms-add: the compiler
  // copies the residual's sum and store along with the loads, which lengthens every row (one
  // 512-thread row per SM at H = 16384: 80% of copy instead of 97%; kernels/norm/PERF.md).
  ULPGATE_DEVICE bool whole_run(int first) const {
    return K.vectors && !adds_residual(K.op) && chunk_at(kMaxSlots - 1, first) < int(h);
  }

  // The n elements at p, the rest of the chunk +0 (adds nothing to a sum or an amax). Element
  // loops are unrolled with a guard, so a chunk never leaves registers.
  ULPGATE_DEVICE static Raw load_chunk(const T* p, int n) {
    Raw c{};
    if constexpr (K.vectors) {
      if (n == V) c = dev::load16(reinterpret_cast<const uint32_t*>(p));
    } else {
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) c.v[k] = pair_word(2 * k < n ? p[2 * k] : T(0), 2 * k + 1 < n ? p[2 * k + 1] : T(0));
    }
    return c;
  }

  ULPGATE_DEVICE static void store_chunk(T* p, const Raw& c, int n) {
    if constexpr (K.vectors) {
      if (n == V) dev::store16(reinterpret_cast<uint32_t*>(p), c);
    } else {
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i)
        if (i < n) p[i] = element(c, i);
    }
  }

  // Every chunk of this thread from `src` (row offset `base`), all loads issued before any use;
  // Whole: whole_run. One pointer for all of them: chunk j lies j * lanes chunks past the first.
  template <bool Whole>
  ULPGATE_DEVICE void load_chunks(const T* src, int64_t base, int first, Raw (&c)[kMaxSlots]) const {
    const T* p = src + base + chunk_at(0, first);
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j)
      c[j] = load_chunk(p + j * geo.lanes * V, Whole ? V : chunk_size(chunk_at(j, first)));
  }

  template <bool Whole>
  ULPGATE_DEVICE void load_weights(int first, W& w) const {
    if constexpr (!K.fp32_weight) {
      load_chunks<Whole>(weight, 0, first, w.c);
    } else {
      ULPGATE_UNROLL
      for (int j = 0; j < kMaxSlots; ++j) {
        const int at = chunk_at(j, first), n = Whole ? V : chunk_size(at);
        const float* p = weight + at;
        if (K.vectors) {
          if (n != V) continue;
          const Pack16<float> a = dev::load16(p), b = dev::load16(p + 4);
          ULPGATE_UNROLL
          for (int i = 0; i < 4; ++i) w.v[j][i] = a.v[i], w.v[j][4 + i] = b.v[i];
        } else {
          ULPGATE_UNROLL
          for (int i = 0; i < V; ++i) w.v[j][i] = i < n ? p[i] : 0.0f;
        }
      }
    }
  }

  // z = x, or for rms-add z = x + residual (fp32, or rounded to T per the profile), with the
  // rounded sum written as the new residual. Every load comes before the first store: the
  // compiler cannot know residual_out does not alias the inputs.
  template <bool Whole, class Source>
  ULPGATE_DEVICE void load_row(int64_t base, int first, Z& z, const Source& src) const {
    Raw xs[kMaxSlots], rs[kMaxSlots];
    src.template load<Whole>(*this, base, first, xs);
    if constexpr (adds_residual(K.op)) load_chunks<Whole>(residual, base, first, rs);
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      if constexpr (!adds_residual(K.op))
        z.set(j, xs[j]);
      else
        add_residual(j, base, first, xs[j], rs[j], z);
    }
  }

  // Chunk j of z = x + residual, the rounded sum stored as the new residual.
  ULPGATE_DEVICE void add_residual(int j, int64_t base, int first, const Raw& xc, const Raw& rc, Z& z) const {
    float sum[V];
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) sum[i] = E::widen(element(xc, i)) + E::widen(element(rc, i));
    const Raw rounded = narrow_chunk<E>(sum);
    z.set_sum(j, rounded, sum, math.round_residual);
    const int at = chunk_at(j, first);
    store_chunk(residual_out + base + at, rounded, chunk_size(at));
  }

  // ---- reductions ----------------------------------------------------------------------------

  // Every thread of the row gets op over the row's values.
  template <class Op>
  ULPGATE_DEVICE float row_reduce(float v, const Op& op, Quad* partials) const {
    const int warp = dev::warp_size();
    if (geo.row_threads <= warp) return Reduce{}(v, geo.row_threads, op);
    v = Reduce{}(v, warp, op);
    const unsigned tid = dev::thread_rank(), warps = unsigned(geo.row_threads / warp);
    if (tid % unsigned(warp) == 0) partials[tid / unsigned(warp) / 4].v[tid / unsigned(warp) % 4] = v;
    // The slots up to the next multiple of 4 hold +0, which leaves a sum of squares or an amax
    // as it is: the partials are added in warp order, four read at a time.
    if (tid < (0u - warps) % 4u) partials[(warps + tid) / 4].v[(warps + tid) % 4] = 0.0f;
    dev::block_sync();
    float total = 0.0f;
    for (unsigned q = 0; q < kMaxWarps / 4; ++q) {
      if (4 * q >= warps) break;
      const Quad p = partials[q];
      total = op(op(op(q == 0 ? p.v[0] : op(total, p.v[0]), p.v[1]), p.v[2]), p.v[3]);
    }
    dev::block_sync();  // partials is reused by the next reduction
    return total;
  }

  // ---- outputs -------------------------------------------------------------------------------

  // Elements 2k, 2k + 1 of chunk j before the last rounding: T(z * r) * w (round twice) or
  // (z * r) * w. T(z * r) * w in fp32 rounded to T is the exact product rounded once, as the
  // reference computes it: fp16 products are exact in fp32, and bf16 products round in fp32 only
  // below 2^-133, never to another bf16 value (NormMath.Bf16ProductsRoundedThroughFp32AreRoundedOnce).
  template <bool Twice>
  ULPGATE_DEVICE void normalized(const Z& z, const W& w, float r, int j, int k, float& a, float& b) const {
    a = z.at(j, 2 * k) * r, b = z.at(j, 2 * k + 1) * r;
    if (Twice) E::round2(a, b);
    a *= w.at(j, 2 * k), b *= w.at(j, 2 * k + 1);
  }

  template <bool Twice>
  ULPGATE_DEVICE void write_y(int64_t base, int first, float r, const W& w, const Z& z) const {
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      const int at = chunk_at(j, first);
      const int n = chunk_size(at);
      if (n == 0) continue;
      float out[V];
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) normalized<Twice>(z, w, r, j, k, out[2 * k], out[2 * k + 1]);
      store_chunk(y + base + at, narrow_chunk<E>(out), n);
    }
  }

  // ---- the fused quantizer: quant.group's element paths -----------------------------------------
  // (members of a template, compiled only in the rms-quant kernels)
  //
  // The quantizer's input chunks are T bits (Raw) where the profile quantizes the rounded y (the
  // values rms would store: Form::quant_in), else fp32 values (Floats).

  struct Floats {
    float v[V];
  };

  // T(T(z r) w), the second rounding as one pair multiply: the product of two T values rounded
  // once, as the reference computes it; or T(z r w), the fp32 product rounded once (narrow2, not
  // write_y's narrow_chunk: a NaN's codes do not depend on its payload, so none is made canonical).
  ULPGATE_DEVICE void rounded_outputs(int first, float r, const W& w, const Z& z, Raw (&y)[kMaxSlots]) const {
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) {
        if constexpr (K.quant_in == QuantIn::t_twice) {
          y[j].v[k] = E::mul_round2(E::narrow2(z.at(j, 2 * k) * r, z.at(j, 2 * k + 1) * r), w.c[j].v[k]);
        } else {
          float a, b;
          normalized<false>(z, w, r, j, k, a, b);
          y[j].v[k] = E::narrow2(a, b);
        }
      }
      zero_past_row(chunk_size(chunk_at(j, first)), y[j]);
    }
  }

  // The fp32 values of the other profiles: T(y) or the fp32 y.
  template <bool Twice>
  ULPGATE_DEVICE void quant_inputs(int first, float r, const W& w, const Z& z, Floats (&v)[kMaxSlots]) const {
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) {
        float a, b;
        normalized<Twice>(z, w, r, j, k, a, b);
        if (math.quantize_rounded) E::round2(a, b);
        v[j].v[2 * k] = a, v[j].v[2 * k + 1] = b;
      }
      zero_past_row(chunk_size(chunk_at(j, first)), v[j]);
    }
  }

  // Element accesses: the values past the row +0 (adding nothing to an amax), whatever r is.
  ULPGATE_DEVICE static void zero_past_row(int n, Floats& c) {
    if constexpr (!K.vectors) {
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) c.v[i] = i < n ? c.v[i] : 0.0f;
    }
  }
  ULPGATE_DEVICE static void zero_past_row(int n, Raw& c) {
    if constexpr (!K.vectors) {
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) c.v[k] = 2 * k + 1 < n ? c.v[k] : (2 * k < n ? c.v[k] & 0xffffu : 0u);
    }
  }

  // The lane's amax over its chunks under the path's NaN rule; a chunk past the row adds nothing.
  ULPGATE_DEVICE float lane_amax(int first, const Floats (&c)[kMaxSlots]) const {
    float a = 0.0f;
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      float m = 0.0f;
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) m = Path::amax(quant, m, c[j].v[i]);
      a = Path::merge(quant, a, chunk_size(chunk_at(j, first)) ? Path::lane_amax(m) : 0.0f);
    }
    return a;
  }
  // T bits: where the path's max ignores NaN (as max on pairs does), a running max of pairs.
  ULPGATE_DEVICE float lane_amax(int first, const Raw (&c)[kMaxSlots]) const {
    if constexpr (Path::kAmaxIgnoresNan) {
      uint32_t m = 0;
      ULPGATE_UNROLL
      for (int j = 0; j < kMaxSlots; ++j) {
        uint32_t cm = 0;
        ULPGATE_UNROLL
        for (int k = 0; k < V / 2; ++k) cm = E::abs_max2(cm, c[j].v[k]);
        m = chunk_size(chunk_at(j, first)) ? E::abs_max2(m, cm) : m;
      }
      float lo, hi;
      E::widen2(m, lo, hi);
      return Path::amax(quant, Path::amax(quant, 0.0f, lo), hi);
    } else {
      Floats f[kMaxSlots];
      ULPGATE_UNROLL
      for (int j = 0; j < kMaxSlots; ++j) {
        ULPGATE_UNROLL
        for (int k = 0; k < V / 2; ++k) E::widen2(c[j].v[k], f[j].v[2 * k], f[j].v[2 * k + 1]);
      }
      return lane_amax(first, f);
    }
  }

  // The chunks' codes through the path (quant.group's kernel on vectors of T values, or on pairs
  // of fp32 vectors), each chunk's eight as one little-endian word.
  template <class P = Path>  // deferred: NoQuant has no Group
  ULPGATE_DEVICE void chunk_codes(const typename P::Group& g, const Floats (&c)[kMaxSlots],
                                  uint64_t (&words)[kMaxSlots]) const {
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      quant_kernels::Raw<Format::fp32> in[2];
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) in[i / 4].v[i % 4] = c[j].v[i];
      quant_kernels::CodeWord<4> w[2];
      Path::template codes<Format::fp32>(quant, g, in, w);
      words[j] = uint64_t(w[0]) | uint64_t(w[1]) << 32;
    }
  }
  template <class P = Path>
  ULPGATE_DEVICE void chunk_codes(const typename P::Group& g, const Raw (&c)[kMaxSlots],
                                  uint64_t (&words)[kMaxSlots]) const {
    quant_kernels::Raw<In> in[kMaxSlots];
    memcpy(in, c, sizeof(in));
    Path::template codes<In>(quant, g, in, words);
  }

  template <class P = Path>
  ULPGATE_DEVICE typename P::Group group(float amax) const { return Path::group(quant, amax); }

  // A quant group's amax: its lanes' shuffles. Where rows are whole warps, every lane of the warp
  // is here, so the shuffles name the whole warp (a uniform mask; a group's lanes still exchange
  // only among themselves).
  template <class Op>
  ULPGATE_DEVICE float group_reduce(float v, const Op& op) const {
    if constexpr (requires { Reduce{}.whole_warp(v, 1, op); })
      if (geo.rows_per_block == 1) return Reduce{}.whole_warp(v, geo.lanes, op);
    return Reduce{}(v, geo.lanes, op);
  }

  template <class Chunk>
  ULPGATE_DEVICE void quantize_chunks(int64_t row, int t, int first, const Chunk (&c)[kMaxSlots],
                                      Quad* partials) const {
    // The amax of the lane's quant group, or of the row; a group past the row's end has lanes
    // only to take part in the shuffles.
    // A static scale (QuantMath::given_scale) ignores the amax and is not written.
    const AmaxOp<Path> merge{quant};
    const float a = lane_amax(first, c);
    const float amax = geo.grouped ? group_reduce(a, merge) : row_reduce(a, merge, partials);
    const typename Path::Group g = group(amax);
    const bool leader = geo.grouped ? (t & (geo.lanes - 1)) == 0 : t == 0;
    if (leader && quant.given_scale == 0 && chunk_size(chunk_at(0, first)) > 0)
      steps.write(scales, row, geo.grouped ? t >> geo.lane_bits : 0, g.scale);
    uint64_t words[kMaxSlots];  // code i of a chunk in byte i
    chunk_codes(g, c, words);
    uint8_t* dst = codes + row * h + chunk_at(0, first);
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      const int n = chunk_size(chunk_at(j, first));
      uint8_t* p = dst + j * geo.lanes * V;
      if (K.vectors || (n == V && reinterpret_cast<uintptr_t>(p) % 8 == 0)) {
        if (n == V) quant_kernels::store_word(p, words[j]);  // vectors: n is V or 0
      } else {
        ULPGATE_UNROLL
        for (int i = 0; i < V; ++i)
          if (i < n) p[i] = uint8_t(words[j] >> (8 * i));
      }
    }
  }

  ULPGATE_DEVICE void quantize_row(int64_t row, int t, int first, float r, const W& w, const Z& z,
                                   Quad* partials) const {
    if constexpr (K.quant_in != QuantIn::fp32) {
      Raw y[kMaxSlots];
      rounded_outputs(first, r, w, z, y);
      quantize_chunks(row, t, first, y, partials);
    } else {
      Floats v[kMaxSlots];
      if (math.round_twice)
        quant_inputs<true>(first, r, w, z, v);
      else
        quant_inputs<false>(first, r, w, z, v);
      quantize_chunks(row, t, first, v, partials);
    }
  }
};

}  // namespace ulpgate::norm_kernels
