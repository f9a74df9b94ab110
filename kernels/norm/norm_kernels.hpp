// The RMSNorm kernels (spec/norm.md), one source for CUDA, HIP and the host-SIMT emulator:
// norm.rms, norm.rms-add and norm.rms-quant in one row kernel, RmsNorm.
//
// A row is spread over `row_threads` threads: a power of two up to the warp size (then a block
// holds several rows), or a multiple of the warp size (then a block is one row). A thread owns
// kMaxSlots chunks of V = 8 consecutive elements, one 16-byte vector load each where the row's
// pointers are aligned (element loads otherwise). Chunks are dealt in runs: `lanes` consecutive
// threads own a run of lanes x kMaxSlots consecutive chunks, lane l chunks l, l + lanes, ...,
// so every load instruction of a warp reads whole sectors. For rms, rms-add and per-token
// quantization a run is the whole row (lanes = row_threads); for group quantization a run is
// one quant group, so a lane's share of the group's arithmetic is spread over 32 elements.
// The row is read once: its fp32 values stay in the thread's registers (kMaxSlots x 8 floats)
// from the load through the sum of squares to the output pass. The sum of squares is a butterfly
// shuffle reduction of width min(row_threads, warp size) then, for multi-warp rows, the warps'
// partial sums from shared memory added in warp order: the same order on every backend.
//
// rms-quant is quant.group's quantizer on the fp32 values the profile quantizes: its element
// paths (quant_kernels.hpp: ProfileCodes, or the NativeCodes path plan_quant chose: the
// arithmetic of quant_math.hpp) and its scale storage (scale_store.hpp). Per token, the row's
// amax is a row reduction; per group, a shuffle of width `lanes` over the group's run.
//
// Templated on the element type and the warp reduction (tests substitute a faulty one); the op
// and the profile are runtime data, uniform per launch.
#pragma once

#include <stdint.h>

#include <type_traits>

#include "kernels/norm/norm_math.hpp"
#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_kernels.hpp"  // the element paths, ScalePadding
#include "kernels/quant/quant_plan.hpp"     // ElementPath
#include "kernels/quant/quant_math.hpp"
#include "kernels/quant/scale_store.hpp"
#include "reference/norm/norm.hpp"  // norm::Op

namespace ulpgate::norm_kernels {

inline constexpr int kMaxSlots = 4;          // chunks one thread keeps of its row
inline constexpr int kMaxRowThreads = 512;   // the widest row: 512 x 4 x 8 = 16384 elements; a
                                             // block of 512 threads has 128 registers a thread
inline constexpr int kMaxWarps = 1024 / 32;  // partial sums of one row (and of any block)

// How rows are spread over threads (norm_plan.cpp chooses it).
struct RowGeometry {
  int row_threads;     // threads per row: a power of two <= warp size, or a multiple of it
  int rows_per_block;  // 1 when row_threads > warp size
  int lanes;           // threads sharing a run of lanes x kMaxSlots chunks (divides row_threads)
  bool grouped;        // rms-quant per group: a run is one quant group (else the whole row)
};

// Combining two partial results of a reduction. Both are symmetric in their operands, so every
// lane of a butterfly ends with the same bits.
struct SumOp {
  ULPGATE_DEVICE float operator()(float a, float b) const { return a + b; }
};
struct AmaxOp {
  bool propagate;  // the quant profile's NaN policy
  ULPGATE_DEVICE float operator()(float a, float b) const { return quant_kernels::amax_merge(a, b, propagate); }
};

// A warp-level reduction over aligned groups of `width` lanes (a power of two <= warp size).
struct ButterflyReduce {
  template <class Op>
  ULPGATE_DEVICE float operator()(float v, int width, const Op& op) const {
    for (int offset = width / 2; offset > 0; offset /= 2) v = op(v, dev::shfl_xor(v, offset, width));
    return v;
  }
};

// acc + v * v with both steps rounded: never contracted into an FMA (spec: fp32 steps).
ULPGATE_DEVICE float add_square(float acc, float v) {
#if defined(__CUDACC__)
  return __fadd_rn(acc, __fmul_rn(v, v));
#else
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  return acc + v * v;
#endif
}

// One chunk's 8 raw 16-bit elements as four 32-bit words, element 2k in the low half of word k:
// one 16-byte vector access, and four registers where an array of 16-bit values may take eight.
using Raw = Pack16<uint32_t>;
ULPGATE_DEVICE uint16_t element(const Raw& c, int i) { return uint16_t(c.v[i / 2] >> (16 * (i % 2))); }

template <class T>
ULPGATE_DEVICE bool aligned16(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// The kernel of norm.rms and norm.rms-add: no quantizer compiled in.
struct NoQuant {};

// Path: NoQuant (norm.rms, norm.rms-add) or quant.group's element path (norm.rms-quant).
template <Format In, class Reduce = ButterflyReduce, class Path = NoQuant>
struct RmsNorm {
  using E = Elem<In>;
  using T = typename E::T;
  static constexpr int V = 8;  // elements per chunk
  static_assert(sizeof(T) == 2, "chunks hold 16-bit elements");
  using Values = float[kMaxSlots][V];

  const T* x;
  const T* residual;   // rms-add
  const T* weight;
  T* y;                // rms, rms-add
  T* residual_out;     // rms-add
  uint8_t* codes;      // rms-quant
  int64_t m, h;
  norm::Op op;
  NormMath math;
  RowGeometry geo;
  quant_kernels::QuantMath quant;    // rms-quant
  quant_kernels::ScaleStore scales;  // rms-quant

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(float, partials, kMaxWarps);
    const unsigned tid = dev::thread_rank();
    const int t = int(tid % unsigned(geo.row_threads));
    const int first = t / geo.lanes * geo.lanes * kMaxSlots + t % geo.lanes;  // its first chunk
    const int64_t per_block = geo.rows_per_block, stride = int64_t(dev::grid_dim().x) * per_block;
    // Grid-stride over rows; a multi-warp row is a whole block, so its barriers see every thread.
    for (int64_t row = int64_t(dev::block_idx().x) * per_block + tid / unsigned(geo.row_threads); row < m;
         row += stride)
      normalize_row(row, t, first, partials);
  }

  ULPGATE_DEVICE void normalize_row(int64_t row, int t, int first, float* partials) const {
    const int64_t base = row * h;
    const bool vec = row_aligned(base);
    Values z;
    load_row(base, first, vec, z);
    Raw w[kMaxSlots];  // the weights, in flight during the reduction
    load_chunks(weight, 0, first, vec, w);
    float sum = 0.0f;
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) sum = add_square(sum, z[j][i]);
    }
    const float r = row_rsqrt(math, row_reduce(sum, SumOp{}, partials), h);
    if constexpr (std::is_same_v<Path, NoQuant>)
      write_y(base, first, vec, r, w, z);
    else
      quantize_row(row, t, first, r, w, z, partials);
  }

  // ---- the row's chunks ----------------------------------------------------------------------

  // Element offset in the row of the thread's slot j (first: its first chunk).
  ULPGATE_DEVICE int64_t chunk_at(int j, int first) const { return int64_t(first + j * geo.lanes) * V; }
  ULPGATE_DEVICE int chunk_size(int64_t at) const { return h - at >= V ? V : (h > at ? int(h - at) : 0); }

  // Vector loads and stores for this row: every pointer it touches is 16-byte aligned (then
  // every full chunk is too, as chunks start at multiples of 16 bytes from the row start).
  ULPGATE_DEVICE bool row_aligned(int64_t base) const {
    bool ok = aligned16(x + base) && aligned16(weight);
    if (op == norm::Op::rms_add) ok = ok && aligned16(residual + base) && aligned16(residual_out + base);
    if (op != norm::Op::rms_quant) ok = ok && aligned16(y + base);
    return ok;
  }

  // The n elements at p, the rest of the chunk +0 (adds nothing to a sum or an amax). Element
  // loops are unrolled with a guard, so a chunk never leaves registers.
  ULPGATE_DEVICE static Raw load_chunk(const T* p, int n, bool vec) {
    if (vec && n == V) return dev::load16(reinterpret_cast<const uint32_t*>(p));
    Raw c;
    ULPGATE_UNROLL
    for (int k = 0; k < V / 2; ++k) c.v[k] = pair_word(2 * k < n ? p[2 * k] : T(0), 2 * k + 1 < n ? p[2 * k + 1] : T(0));
    return c;
  }

  ULPGATE_DEVICE static void store_chunk(T* p, const Raw& c, int n, bool vec) {
    if (vec && n == V) return dev::store16(reinterpret_cast<uint32_t*>(p), c);
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i)
      if (i < n) p[i] = element(c, i);
  }

  // Every chunk of this thread from `src` (row offset `base`), all loads issued before any use.
  ULPGATE_DEVICE void load_chunks(const T* src, int64_t base, int first, bool vec, Raw (&c)[kMaxSlots]) const {
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      const int64_t at = chunk_at(j, first);
      c[j] = load_chunk(src + base + at, chunk_size(at), vec);
    }
  }

  // z = x, or for rms-add z = x + residual (fp32, or rounded to T per the profile), with the
  // rounded sum written as the new residual. Every load comes before the first store: the
  // compiler cannot know residual_out does not alias the inputs.
  ULPGATE_DEVICE void load_row(int64_t base, int first, bool vec, Values& z) const {
    Raw xs[kMaxSlots], rs[kMaxSlots];
    load_chunks(x, base, first, vec, xs);
    if (op == norm::Op::rms_add) load_chunks(residual, base, first, vec, rs);
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      ULPGATE_UNROLL
      for (int i = 0; i < V; ++i) z[j][i] = E::widen(element(xs[j], i));
      if (op != norm::Op::rms_add) continue;
      Raw sum;
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) {
        const float s0 = z[j][2 * k] + E::widen(element(rs[j], 2 * k));
        const float s1 = z[j][2 * k + 1] + E::widen(element(rs[j], 2 * k + 1));
        sum.v[k] = E::narrow2(s0, s1);
        z[j][2 * k] = math.round_residual ? E::widen(element(sum, 2 * k)) : s0;
        z[j][2 * k + 1] = math.round_residual ? E::widen(element(sum, 2 * k + 1)) : s1;
      }
      const int64_t at = chunk_at(j, first);
      store_chunk(residual_out + base + at, sum, chunk_size(at), vec);
    }
  }

  // ---- reductions ----------------------------------------------------------------------------

  // Every thread of the row gets op over the row's values.
  template <class Op>
  ULPGATE_DEVICE float row_reduce(float v, const Op& op, float* partials) const {
    const int warp = dev::warp_size();
    if (geo.row_threads <= warp) return Reduce{}(v, geo.row_threads, op);
    v = Reduce{}(v, warp, op);
    const unsigned tid = dev::thread_rank();
    if (tid % unsigned(warp) == 0) partials[tid / unsigned(warp)] = v;
    dev::block_sync();
    float total = partials[0];
    for (int w = 1; w < geo.row_threads / warp; ++w) total = op(total, partials[w]);
    dev::block_sync();  // partials is reused by the next reduction
    return total;
  }

  // ---- outputs -------------------------------------------------------------------------------

  // Elements 2k, 2k + 1 of chunk j before the last rounding: T(z * r) * w (round twice) or
  // (z * r) * w.
  ULPGATE_DEVICE void normalized(const Values& z, const Raw (&w)[kMaxSlots], float r, int j, int k, float& a,
                                 float& b) const {
    a = z[j][2 * k] * r, b = z[j][2 * k + 1] * r;
    if (math.round_twice) E::round2(a, b);
    a *= E::widen(element(w[j], 2 * k)), b *= E::widen(element(w[j], 2 * k + 1));
  }

  ULPGATE_DEVICE void write_y(int64_t base, int first, bool vec, float r, const Raw (&w)[kMaxSlots],
                              const Values& z) const {
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      const int64_t at = chunk_at(j, first);
      const int n = chunk_size(at);
      if (n == 0) continue;
      Raw out;
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) {
        float a, b;
        normalized(z, w, r, j, k, a, b);
        out.v[k] = E::narrow2(a, b);
      }
      store_chunk(y + base + at, out, n, vec);
    }
  }

  // The values the quantizer sees replace z: T(y) or the fp32 y, per the profile.
  ULPGATE_DEVICE void quant_inputs(int first, float r, const Raw (&w)[kMaxSlots], Values& z) const {
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      const int n = chunk_size(chunk_at(j, first));
      ULPGATE_UNROLL
      for (int k = 0; k < V / 2; ++k) {
        float a, b;
        normalized(z, w, r, j, k, a, b);
        if (math.quantize_rounded) E::round2(a, b);
        z[j][2 * k] = 2 * k < n ? a : 0.0f;
        z[j][2 * k + 1] = 2 * k + 1 < n ? b : 0.0f;
      }
    }
  }

  // ---- the fused quantizer: quant.group's element paths on fp32 values -------------------------
  // (members of a template, compiled only in the rms-quant kernels)

  // One chunk's amax under the path's NaN rule (elements past the row are +0: no effect).
  ULPGATE_DEVICE float chunk_amax(const float (&v)[V]) const {
    float a = 0.0f;
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) a = Path::amax(quant, a, v[i]);
    return Path::lane_amax(a);
  }

  // The group arithmetic for an amax. T(y) values have 16-bit significands, which lets a
  // dividing path use its quick division; fp32 values divide exactly.
  template <class P = Path>  // deferred: NoQuant has no Group
  ULPGATE_DEVICE typename P::Group group(float amax) const {
    return math.quantize_rounded ? Path::template group<T>(quant, amax) : Path::template group<float>(quant, amax);
  }

  // The chunk's codes through the path (as two fp32 vectors of quant.group's kernel), stored as
  // one 8-byte word where whole and aligned.
  template <class P = Path>
  ULPGATE_DEVICE void store_codes(const typename P::Group& g, const float (&v)[V], uint8_t* dst, int n) const {
    quant_kernels::Raw<Format::fp32> in[2];
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i) in[i / 4].v[i % 4] = v[i];
    quant_kernels::CodeWord<4> w[2];
    Path::template codes<Format::fp32>(quant, g, in, w);
    const uint64_t word = uint64_t(w[0]) | uint64_t(w[1]) << 32;  // little-endian: code i in byte i
    if (n == V && reinterpret_cast<uintptr_t>(dst) % 8 == 0) return quant_kernels::store_word(dst, word);
    ULPGATE_UNROLL
    for (int i = 0; i < V; ++i)
      if (i < n) dst[i] = uint8_t(word >> (8 * i));
  }

  ULPGATE_DEVICE void quantize_values(int64_t row, int t, int first, const Values& v, float* partials) const {
    const int64_t base = row * h;
    // The lane's amax over its chunks (one quant group's share, or the row's).
    float a = 0.0f;
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) a = quant_kernels::amax_merge(a, chunk_amax(v[j]), quant.nan_propagate);
    const AmaxOp merge{quant.nan_propagate};
    if (geo.grouped && chunk_size(chunk_at(0, first)) == 0) return;  // no group: the same for its lanes
    const float amax = geo.grouped ? Reduce{}(a, geo.lanes, merge) : row_reduce(a, merge, partials);
    const typename Path::Group g = group(amax);
    if (t % geo.lanes == 0) scales.write(row, geo.grouped ? t / geo.lanes : 0, g.scale);
    ULPGATE_UNROLL
    for (int j = 0; j < kMaxSlots; ++j) {
      const int64_t at = chunk_at(j, first);
      if (const int n = chunk_size(at)) store_codes(g, v[j], codes + base + at, n);
    }
  }

  ULPGATE_DEVICE void quantize_row(int64_t row, int t, int first, float r, const Raw (&w)[kMaxSlots], Values& z,
                                   float* partials) const {
    quant_inputs(first, r, w, z);
    quantize_values(row, t, first, z, partials);
  }
};

}  // namespace ulpgate::norm_kernels
