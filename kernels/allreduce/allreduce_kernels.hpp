// The custom all-reduce kernels (spec/allreduce.md; the design of vLLM's custom_all_reduce.cuh),
// written once for CUDA, HIP and the host-SIMT emulator. Every rank runs the same kernel on its
// own device (or as a rank of an emulated world) and reads its peers' registered buffers directly
// (P2P, CUDA IPC, or shared host memory) with 16-byte loads, adding in fp32:
//
//   one-shot  every rank reduces every pack, ranks 0..n-1 in that order on every rank (so all ranks
//             get the same bits), rounds once and writes its output;
//   two-shot  rank r reduces only its partition (packs [r part, (r + 1) part), the last rank also
//             the remainder) in the order r, r + 1, ..., r - 1, into its tmp buffer; after a
//             barrier every rank gathers all partitions from the owners' tmp buffers unchanged.
//
// Ranks meet at barriers of signal flags: block b's thread t < world stores the call's flag into
// rank t's slot [phase][b][rank] (a release store) and spins until its own slot [phase][b][t]
// holds it (acquire loads). The start barrier orders the peers' inputs before the reads; the end
// barrier keeps a rank from returning (and its buffer from being overwritten by the next call)
// while a peer still reads it. Each rank's per-block counter numbers the calls, so flags never
// need resetting. Grids must be co-resident (grid <= multiprocessors) or the barriers deadlock.
#pragma once

#include "kernels/norm/norm_math.hpp"  // Elem<bf16|fp16>: exact widening, RNE narrowing, NaN repair
#include "kernels/portable/device.hpp"

namespace ulpgate::allreduce_kernels {

inline constexpr int kMaxWorld = 8;
inline constexpr int kMaxBlocks = 1024;  // the fused kernels fill a GPU with blocks (fused_gpu.cu)

enum Phase : int { kStart, kMiddle, kEnd, kPhases };

// One per rank, in memory every peer writes (zeroed once when registered).
struct Signal {
  uint32_t flags[kPhases][kMaxBlocks][kMaxWorld];
  uint32_t counter[kMaxBlocks];  // the last call's flag, per block
};

// What rank `rank` sees: every rank's registered input (the message copied in), tmp buffer
// (two-shot partitions) and signal, through whatever mapping makes peers' memory addressable.
struct WorldPointers {
  const uint8_t* data[kMaxWorld];
  uint8_t* tmp[kMaxWorld];
  Signal* signal[kMaxWorld];
};

// What a correct kernel does where tests inject faults (suites/allreduce): which rank a sum
// starts at, and whether the end barrier is there.
struct NoFault {
  ULPGATE_DEVICE int first_rank(int /*rank*/, int start) const { return start; }
  ULPGATE_DEVICE bool end_barrier() const { return true; }
  ULPGATE_DEVICE bool gathers(int /*rank*/, int /*owner*/) const { return true; }  // two-shot: rank takes owner's partition
};

// 16 bytes of elements as fp32: 8 bf16 / fp16 or 4 fp32.
template <Format F>
struct Lanes {
  using Elem = norm_kernels::Elem<F>;
  static constexpr int n = 8;
  float v[n];
  ULPGATE_DEVICE void set(const norm_kernels::Raw& w) {
    ULPGATE_UNROLL
    for (int k = 0; k < 4; ++k) Elem::widen2(w.v[k], v[2 * k], v[2 * k + 1]);
  }
  ULPGATE_DEVICE void add(const norm_kernels::Raw& w) {
    Lanes o;
    o.set(w);
    ULPGATE_UNROLL
    for (int i = 0; i < n; ++i) v[i] += o.v[i];
  }
  ULPGATE_DEVICE void load(const uint8_t* p) { set(dev::load16(reinterpret_cast<const uint32_t*>(p))); }
  ULPGATE_DEVICE void add(const uint8_t* p) { add(dev::load16(reinterpret_cast<const uint32_t*>(p))); }
  ULPGATE_DEVICE norm_kernels::Raw narrow() const { return norm_kernels::narrow_chunk<Elem>(v); }
  ULPGATE_DEVICE void store(uint8_t* p) const { dev::store16(reinterpret_cast<uint32_t*>(p), narrow()); }
};
template <>
struct Lanes<Format::fp32> {
  static constexpr int n = 4;
  Pack16<float> w;
  ULPGATE_DEVICE void load(const uint8_t* p) { w = dev::load16(reinterpret_cast<const float*>(p)); }
  ULPGATE_DEVICE void add(const uint8_t* p) {
    const Pack16<float> o = dev::load16(reinterpret_cast<const float*>(p));
    ULPGATE_UNROLL
    for (int i = 0; i < n; ++i) w.v[i] += o.v[i];
  }
  ULPGATE_DEVICE void store(uint8_t* p) const { dev::store16(reinterpret_cast<float*>(p), w); }
};

struct Shape {
  int world, rank;
  int64_t packs;  // 16-byte packs of the message
};

// Block b of every rank meets here (see the header): the block's own work before it is done, and
// the peers' work before it is visible to the whole block after.
ULPGATE_DEVICE void world_barrier(const WorldPointers& p, const Shape& s, Phase phase, uint32_t flag) {
  const unsigned t = dev::thread_rank(), b = dev::block_idx().x;
  dev::block_sync();
  if (t < unsigned(s.world)) {
    dev::store_flag(&p.signal[t]->flags[phase][b][s.rank], flag);
    dev::wait_flag(&p.signal[s.rank]->flags[phase][b][t], flag);
  }
  dev::block_sync();
}

// The sums over all ranks from rank `first` on, in fp32, of packs pack, pack + step, ... (N of
// them, those below `end`): every rank's N loads in flight at once.
template <Format F, int N>
ULPGATE_DEVICE void reduce_packs(const WorldPointers& p, const Shape& s, int first, int64_t pack, int64_t step,
                                 int64_t end, Lanes<F> (&acc)[N]) {
  ULPGATE_UNROLL
  for (int u = 0; u < N; ++u)
    if (pack + u * step < end) acc[u].load(p.data[first] + (pack + u * step) * 16);
  for (int k = 1; k < s.world; ++k) {
    const uint8_t* peer = p.data[(first + k) % s.world];
    ULPGATE_UNROLL
    for (int u = 0; u < N; ++u)
      if (pack + u * step < end) acc[u].add(peer + (pack + u * step) * 16);
  }
}
// The pack's sum over all ranks from rank `first` on, in fp32.
template <Format F>
ULPGATE_DEVICE Lanes<F> reduce_pack(const WorldPointers& p, const Shape& s, int first, int64_t pack) {
  Lanes<F> acc[1];
  reduce_packs<F, 1>(p, s, first, pack, 0, pack + 1, acc);
  return acc[0];
}

// This call's flag for the block; the end of the call records it.
ULPGATE_DEVICE uint32_t next_flag(const WorldPointers& p, const Shape& s) {
  return p.signal[s.rank]->counter[dev::block_idx().x] + 1;
}
ULPGATE_DEVICE void finish(const WorldPointers& p, const Shape& s, uint32_t flag, bool end_barrier) {
  if (end_barrier) world_barrier(p, s, kEnd, flag);
  else dev::block_sync();
  if (dev::thread_rank() == 0) p.signal[s.rank]->counter[dev::block_idx().x] = flag;
}

template <Format F, class Faults = NoFault>
struct OneShot {
  WorldPointers p;
  Shape s;
  uint8_t* out;  // this rank's output view
  Faults faults;

  ULPGATE_DEVICE void operator()() const {
    const uint32_t flag = next_flag(p, s);
    world_barrier(p, s, kStart, flag);
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < s.packs; i += stride)
      reduce_pack<F>(p, s, faults.first_rank(s.rank, 0), i).store(out + i * 16);
    finish(p, s, flag, faults.end_barrier());
  }
};

// Two-shot partitions: every rank part packs, the last rank the remainder too.
ULPGATE_DEVICE int64_t part_begin(const Shape& s, int r) { return (s.packs / s.world) * r; }
ULPGATE_DEVICE int64_t part_end(const Shape& s, int r) { return r == s.world - 1 ? s.packs : part_begin(s, r + 1); }

template <Format F, class Faults = NoFault>
struct TwoShot {
  WorldPointers p;
  Shape s;
  uint8_t* out;
  Faults faults;

  ULPGATE_DEVICE void operator()() const {
    const uint32_t flag = next_flag(p, s);
    const int64_t tid = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    world_barrier(p, s, kStart, flag);
    const int64_t begin = part_begin(s, s.rank), end = part_end(s, s.rank);
    for (int64_t i = begin + tid; i < end; i += stride)
      reduce_pack<F>(p, s, faults.first_rank(s.rank, s.rank), i).store(p.tmp[s.rank] + (i - begin) * 16);
    world_barrier(p, s, kMiddle, flag);
    for (int k = 0; k < s.world; ++k) {
      const int owner = (s.rank + k) % s.world;
      if (!faults.gathers(s.rank, owner)) continue;
      const int64_t b = part_begin(s, owner), e = part_end(s, owner);
      for (int64_t i = b + tid; i < e; i += stride)
        dev::store16(reinterpret_cast<uint32_t*>(out + i * 16),
                     dev::load16(reinterpret_cast<const uint32_t*>(p.tmp[owner] + (i - b) * 16)));
    }
    finish(p, s, flag, faults.end_barrier());
  }
};

}  // namespace ulpgate::allreduce_kernels
