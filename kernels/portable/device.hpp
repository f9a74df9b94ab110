// The portable device layer: one kernel source for CUDA (nvcc), HIP (HIP clang) and the host-SIMT
// emulator (g++). Kernels include only this header and use only what it provides:
//
//   indices     dev::thread_idx() block_idx() block_dim() grid_dim()   (Dim3 {x, y, z})
//               dev::thread_rank() (linear in the block), dev::lane(), dev::warp_size()
//   barrier     dev::block_sync()                                       (__syncthreads)
//   warp ops    dev::shfl(v, src_lane, width) shfl_up(v, delta, width) shfl_down(v, delta, width)
//               shfl_xor(v, lane_mask, width)    v: a value of <= 8 bytes (int, float, ...)
//               dev::ballot(pred, width) -> bits of the caller's width-group, lane 0 of the group
//               in bit 0; dev::any(pred, width), dev::all(pred, width)
//   shared      ULPGATE_SHARED(T, name, N);  (static, per block)  dev::dynamic_shared<T>()
//   vectors     Pack16<T> p = dev::load16(ptr); dev::store16(ptr, p);   (16-byte aligned)
//   conversion  dev::cvt_e4m3(x) cvt_e5m2(x) -> the arch's native fp8 byte; dev::cvt_ue8m0(x,
//               Ue8m0Round::rp | rz); dev::bf16_to_float(bits) fp16_to_float(bits) (exact)
//               dev::as_float(u32) as_uint(f32); fmaxf, fabsf, ... from <math.h>
//               dev::cvt_e4m3x4(a, b, c, d) cvt_e5m2x4(...) -> four native fp8 bytes, a's in bits
//               0-7 ... d's in 24-31, each cvt_e4m3 / cvt_e5m2 of its value (two instructions
//               where the arch converts pairs)
//   max         dev::fmax_nan(a, b): a NaN (any bits) when a or b is NaN, else fmaxf(a, b)
//   integers    dev::popc(u32); dev::add_max_s16x2(a, b, c): per signed 16-bit half max(a + b, c)
//               (the sums must fit in 16 bits; one DPX instruction on sm_90); max_u16x2(a, b):
//               per unsigned 16-bit half max(a, b); min_u32(a, b) (one VIMNMX on CUDA);
//               sign_bytes4(a, b, c, d): byte j 0xFF where word j's sign bit is set, else 0x00
//   bf16 pairs  dev::mul_bf16x2 / max_bf16x2 / min_bf16x2 / max_abs_bf16x2(a, b) on two bf16 in a word:
//               sm_90+ only (no host form; callers keep portable arithmetic elsewhere)
//   prefetch    dev::prefetch_l2(p, bytes): a hint to bring [p, p + bytes) into L2 (p 16-byte
//               aligned, bytes a multiple of 16); changes no value, does nothing off sm_90;
//               kRowsAhead: how far ahead a row-per-block grid asks for a later block's row
//   async       dev::copy16_async(shared_dst, src), copies_commit(), copies_wait<N>(): a thread's
//               own 16-byte copies into shared memory (cp.async; elsewhere done at once)
//   flags       dev::store_flag(uint32_t* p, v): a release store at system scope;
//               dev::wait_flag(const uint32_t* p, v): spins until *p == v (acquire loads at system
//               scope): the signals between the ranks of an all-reduce (peers' memory, other GPUs).
//               On the host the waiting thread suspends until the flag holds v, and store_flag
//               also works outside a launch (a thread standing in for another process)
//   atomics     dev::atomic_max(uint32_t* p, v): *p = max(*p, v) atomically (device scope);
//               non-negative floats' bits order like their values, so it reduces an amax
//
// Writing a kernel: a functor whose operator() is ULPGATE_DEVICE. Template only on what the
// hardware needs at compile time (warp size, element type); the rest is runtime data.
// examples.hpp has the example, a block-wide amax with a warp-size parameter:
//
//   template <int WarpSize>
//   struct BlockAmax {                       // block b: out[b] = max |in[b * n + i]|
//     const float* in; float* out; int n;
//     ULPGATE_DEVICE void operator()() const {
//       ULPGATE_SHARED(float, warp_max, 1024 / WarpSize);
//       const unsigned tid = dev::thread_rank(), threads = dev::block_dim().x;
//       float m = 0.f;
//       for (unsigned i = tid; i < unsigned(n); i += threads) m = fmaxf(m, fabsf(row[i]));
//       m = group_max<WarpSize>(m);          // shfl_xor(m, 16 .. 1, WarpSize)
//       if (tid % WarpSize == 0) warp_max[tid / WarpSize] = m;
//       dev::block_sync();
//       ...                                  // the first warp reduces warp_max[]
//     }
//   };
//
// Launching it (LaunchConfig{grid, block, dynamic shared bytes}):
//   host:      host_simt::launch(kGfx942, {{rows}, {256}}, BlockAmax<64>{in, out, n});
//              (host_simt.hpp; any Arch of arch.hpp: its warp size and conversion semantics)
//   CUDA/HIP:  gpu::launch({{rows}, {256}}, BlockAmax<32>{d_in, d_out, n}, stream);
//              (gpu.hpp, from a .cu file that nvcc and `clang -x hip` both compile; probes.cu is
//              the model: its kernels run on the GPU and are compared with the emulator)
//
// Contract (what the emulator enforces and real hardware merely assumes):
// - dev::block_sync() must be reached by every thread of the block, at the same call site.
// - A warp operation with width W (a power of two <= warp size) exchanges within aligned groups of
//   W lanes; every lane of the caller's group must call it, at the same call site. Lanes outside
//   the block (a partial last warp) do not exist, so a group must lie inside the block. A call site
//   is where dev::* is called: warp ops inside a shared helper share the helper's site.
// - load16/store16 need 16-byte aligned addresses. In a world launch (host_simt::launch_world,
//   the ranks of an all-reduce) they must not touch a peer rank's registered region after every
//   block of that rank exited: only a barrier before the owner returns orders such an access.
// - dev::wait_flag must be satisfied by a dev::store_flag of the same launch's blocks (a world
//   launch: of any rank's) or, with WorldOptions::patience, of another process. Blocks of one
//   host_simt::launch are not co-resident (a worker runs one block at a time), so there a wait
//   that only another block could satisfy is reported as a deadlock.
// A violation is a host_simt::KernelError naming the block, the threads and the operation, never
// a hang. (The host backend takes the call site as a defaulted std::source_location argument.)
//
// Conversions return the byte the arch's conversion instruction produces: on the host the
// reference core (reference/formats) under the launched Arch's policy; on CUDA
// __nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...) / __nv_cvt_float_to_e8m0 (PTX cvt.rn.satfinite,
// cvt.rp/rz.satfinite.ue8m0x2 on sm100); on gfx942 v_cvt_pk_fp8/bf8_f32 after HIP's saturating
// clamp (fnuz formats); on other HIP targets (gfx90a, no fp8 hardware) the reference core itself.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__) || defined(__HIP__)
#define ULPGATE_GPU 1
#endif

#if defined(__HIP__)
#include <hip/hip_runtime.h>
#elif defined(__CUDACC__)
#include <cuda_fp8.h>
#endif

#if defined(ULPGATE_GPU)
#define ULPGATE_DEVICE __device__ __forceinline__
// A rarely taken path kept out of line, so its code neither raises the hot loop's registers nor
// is predicated into it. (The attribute, not __noinline__: HIP's headers define that as nothing.)
#define ULPGATE_DEVICE_COLD __device__ __attribute__((noinline)) inline
#define ULPGATE_HOST_DEVICE __host__ __device__
#define ULPGATE_KERNEL __global__
// Fixed-size loops over a vector's elements: unrolled, so the elements stay in registers.
#define ULPGATE_UNROLL _Pragma("unroll")
// A loop whose body is large and runs few times: rolled (its copies cost instruction cache, and
// its trip count a division).
#define ULPGATE_NO_UNROLL _Pragma("unroll 1")
#else
#include <atomic>
#include <cmath>
#include <cstring>
#include <source_location>
#include <type_traits>
#define ULPGATE_DEVICE inline
#define ULPGATE_DEVICE_COLD inline
#define ULPGATE_HOST_DEVICE
#define ULPGATE_KERNEL
#define ULPGATE_UNROLL
#define ULPGATE_NO_UNROLL
#endif

#if !defined(__CUDACC__)
#include "reference/formats/formats.hpp"  // host and HIP: the rounding core (constexpr, so HIP
#include "kernels/portable/arch.hpp"       // clang compiles it as device code too)
#endif

namespace ulpgate {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr Dim3() = default;
  ULPGATE_HOST_DEVICE constexpr Dim3(unsigned x_, unsigned y_ = 1, unsigned z_ = 1)
      : x(x_), y(y_), z(z_) {}
  ULPGATE_HOST_DEVICE constexpr unsigned count() const { return x * y * z; }
};

struct LaunchConfig {
  Dim3 grid;
  Dim3 block;
  std::size_t shared_bytes = 0;  // dynamic shared memory per block
};

// ue8m0 conversions name their rounding (spec/formats.md): toward zero or up.
enum class Ue8m0Round : uint8_t { rz, rp };

// 16 bytes of T, the unit of a vector load (ld.global.v4 / global_load_dwordx4).
template <class T>
struct alignas(16) Pack16 {
  static constexpr int size = 16 / sizeof(T);
  T v[size];
};

}  // namespace ulpgate

#if !defined(ULPGATE_GPU)
#include "kernels/portable/device_host.hpp"  // the host-SIMT backend: its hooks and dev::'s functions
#endif

namespace ulpgate {
namespace dev {

#if defined(ULPGATE_GPU)
inline namespace gpu_backend {  // distinct names from the host backend's, so both link together

ULPGATE_DEVICE Dim3 thread_idx() { return {threadIdx.x, threadIdx.y, threadIdx.z}; }
ULPGATE_DEVICE Dim3 block_idx() { return {blockIdx.x, blockIdx.y, blockIdx.z}; }
ULPGATE_DEVICE Dim3 block_dim() { return {blockDim.x, blockDim.y, blockDim.z}; }
ULPGATE_DEVICE Dim3 grid_dim() { return {gridDim.x, gridDim.y, gridDim.z}; }
ULPGATE_DEVICE unsigned thread_rank() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
ULPGATE_DEVICE int warp_size() {
#if defined(__CUDACC__)
  return 32;
#elif defined(__AMDGCN_WAVEFRONT_SIZE)
  return __AMDGCN_WAVEFRONT_SIZE;
#else
  return warpSize;
#endif
}
ULPGATE_DEVICE int lane() { return int(thread_rank() % unsigned(warp_size())); }

ULPGATE_DEVICE void block_sync() { __syncthreads(); }

#if defined(__CUDACC__)
// The lanes of the caller's width-group: exactly those a sync shuffle must name.
ULPGATE_DEVICE unsigned group_mask(int width) {
  return width >= 32 ? 0xffffffffu : ((1u << width) - 1) << (lane() & ~(width - 1));
}
template <class T> ULPGATE_DEVICE T shfl(T v, int src_lane, int width) {
  return __shfl_sync(group_mask(width), v, src_lane, width);
}
template <class T> ULPGATE_DEVICE T shfl_up(T v, int delta, int width) {
  return __shfl_up_sync(group_mask(width), v, delta, width);
}
template <class T> ULPGATE_DEVICE T shfl_down(T v, int delta, int width) {
  return __shfl_down_sync(group_mask(width), v, delta, width);
}
template <class T> ULPGATE_DEVICE T shfl_xor(T v, int lane_mask, int width) {
  return __shfl_xor_sync(group_mask(width), v, lane_mask, width);
}
ULPGATE_DEVICE uint64_t ballot(bool pred, int width) {
  const unsigned bits = __ballot_sync(group_mask(width), pred);
  return (bits >> (lane() & ~(width - 1))) & ((uint64_t(1) << width) - 1);
}
#else  // HIP: wavefronts execute in lockstep; the width-group needs no mask
template <class T> ULPGATE_DEVICE T shfl(T v, int src_lane, int width) {
  return __shfl(v, src_lane, width);
}
template <class T> ULPGATE_DEVICE T shfl_up(T v, int delta, int width) {
  return __shfl_up(v, delta, width);
}
template <class T> ULPGATE_DEVICE T shfl_down(T v, int delta, int width) {
  return __shfl_down(v, delta, width);
}
template <class T> ULPGATE_DEVICE T shfl_xor(T v, int lane_mask, int width) {
  return __shfl_xor(v, lane_mask, width);
}
ULPGATE_DEVICE uint64_t ballot(bool pred, int width) {
  const uint64_t bits = __ballot(pred);
  const uint64_t all = width >= 64 ? ~uint64_t(0) : (uint64_t(1) << width) - 1;
  return (bits >> (lane() & ~(width - 1))) & all;
}
#endif
ULPGATE_DEVICE bool any(bool pred, int width) { return ballot(pred, width) != 0; }
ULPGATE_DEVICE bool all(bool pred, int width) {
  return ballot(pred, width) == (width >= 64 ? ~uint64_t(0) : (uint64_t(1) << width) - 1);
}

template <class T>
ULPGATE_DEVICE T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char ulpgate_dynamic_smem[];
  return reinterpret_cast<T*>(ulpgate_dynamic_smem);
}
#define ULPGATE_SHARED(T, name, N) __shared__ T name[N]

// Flags between GPUs (peer memory over NVLink / xGMI): release/acquire at system scope, so the
// data written before store_flag is visible to whoever sees the flag.
ULPGATE_DEVICE void store_flag(uint32_t* p, uint32_t v) {
#if defined(__CUDACC__)
  asm volatile("st.release.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");  // sm_70+
#else
  __hip_atomic_store(p, v, __ATOMIC_RELEASE, __HIP_MEMORY_SCOPE_SYSTEM);
#endif
}
ULPGATE_DEVICE void atomic_max(uint32_t* p, uint32_t v) { atomicMax(reinterpret_cast<unsigned int*>(p), v); }

ULPGATE_DEVICE void wait_flag(const uint32_t* p, uint32_t v) {
#if defined(__CUDACC__)
  uint32_t seen;
  do {
    asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(seen) : "l"(p) : "memory");  // sm_70+
  } while (seen != v);
#else
  while (__hip_atomic_load(p, __ATOMIC_ACQUIRE, __HIP_MEMORY_SCOPE_SYSTEM) != v) {
  }
#endif
}

template <class T>
ULPGATE_DEVICE Pack16<T> load16(const T* p) {
  Pack16<T> r;
  *reinterpret_cast<uint4*>(&r) = *reinterpret_cast<const uint4*>(p);
  return r;
}
template <class T>
ULPGATE_DEVICE void store16(T* p, const Pack16<T>& v) {
  *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(&v);
}

ULPGATE_DEVICE float as_float(uint32_t u) { return __uint_as_float(u); }
ULPGATE_DEVICE uint32_t as_uint(float f) { return __float_as_uint(f); }

#if defined(__CUDACC__)
// 1 / d for d in [1, 2^126): the approximate reciprocal (MUFU.RCP) and one Newton step, the fast
// path of __frcp_rn, whose result it is there (quant_math.hpp, silu_mul_chunk). For d = +Inf the
// estimate is +0 and the step's residual NaN, which fmaxf drops: +0, __frcp_rn's result, with no
// select (the residual is below 2^-22 in magnitude for the others).
ULPGATE_DEVICE float rcp_in_range(float d) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(d));
  return fmaf(r, fmaxf(fmaf(-d, r, 1.0f), -1.0f), r);
}
ULPGATE_DEVICE uint8_t cvt_e4m3(float x) { return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3); }
ULPGATE_DEVICE uint8_t cvt_e5m2(float x) { return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2); }
ULPGATE_DEVICE uint8_t cvt_ue8m0(float x, Ue8m0Round r) {
  return __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, r == Ue8m0Round::rp ? cudaRoundPosInf : cudaRoundZero);
}
// cvt.rn.satfinite.{e4m3,e5m2}x2.f32 (sm_89+) converts a pair (the first source to the high
// byte), as two single conversions would; the two pairs are packed into one word by the move.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define ULPGATE_CVT_X4(type, single)                                                            \
  uint32_t r;                                                                                   \
  asm("{ .reg .b16 lo, hi;\n\t"                                                                 \
      "cvt.rn.satfinite." type "x2.f32 lo, %2, %1;\n\t"                                          \
      "cvt.rn.satfinite." type "x2.f32 hi, %4, %3;\n\t"                                          \
      "mov.b32 %0, {lo, hi}; }"                                                                 \
      : "=r"(r) : "f"(a), "f"(b), "f"(c), "f"(d));                                            \
  return r
#else
#define ULPGATE_CVT_X4(type, single) \
  return uint32_t(single(a)) | uint32_t(single(b)) << 8 | uint32_t(single(c)) << 16 | uint32_t(single(d)) << 24
#endif
ULPGATE_DEVICE uint32_t cvt_e4m3x4(float a, float b, float c, float d) { ULPGATE_CVT_X4("e4m3", cvt_e4m3); }
ULPGATE_DEVICE uint32_t cvt_e5m2x4(float a, float b, float c, float d) { ULPGATE_CVT_X4("e5m2", cvt_e5m2); }
#undef ULPGATE_CVT_X4
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
// bf16 pair operations (sm_90+), IEEE per half: mul.rn rounds the exact product once, subnormals
// kept; max and min return the other operand of a NaN. No host form: callers keep their portable
// arithmetic for other targets and say why it gives the same values.
#define ULPGATE_BF16X2_OP(name, op)                                     \
  ULPGATE_DEVICE uint32_t name(uint32_t a, uint32_t b) {                \
    uint32_t r;                                                         \
    asm(op " %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));                  \
    return r;                                                           \
  }
ULPGATE_BF16X2_OP(mul_bf16x2, "mul.rn.bf16x2")
ULPGATE_BF16X2_OP(max_bf16x2, "max.bf16x2")
ULPGATE_BF16X2_OP(min_bf16x2, "min.bf16x2")
// max(|a|, |b|) per half with the XOR of their signs (one instruction where max of abs takes two):
// for running magnitudes whose sign the caller drops.
ULPGATE_BF16X2_OP(max_abs_bf16x2, "max.xorsign.abs.bf16x2")
#undef ULPGATE_BF16X2_OP
#endif
// max.NaN.f32 (sm_80+): one instruction; its NaN is the canonical 0x7fffffff.
ULPGATE_DEVICE float fmax_nan(float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float r;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
#else
  return a != a || b != b ? __int_as_float(0x7fffffff) : fmaxf(a, b);
#endif
}
#else
#if defined(__gfx942__)
// HIP's saturating mode: finite values clamp to +-max before the (non-saturating) instruction;
// Inf and NaN pass through and become NaN (the hip_host policy of arch.hpp's kGfx942).
ULPGATE_DEVICE float hip_saturate(float x, float max) {
  return (as_uint(x) & 0x7f800000u) == 0x7f800000u ? x : __builtin_amdgcn_fmed3f(x, max, -max);
}
ULPGATE_DEVICE uint8_t cvt_e4m3(float x) {
  return __builtin_amdgcn_cvt_pk_fp8_f32(hip_saturate(x, 240.f), 0.f, 0, false) & 0xff;
}
ULPGATE_DEVICE uint8_t cvt_e5m2(float x) {
  return __builtin_amdgcn_cvt_pk_bf8_f32(hip_saturate(x, 57344.f), 0.f, 0, false) & 0xff;
}
// v_cvt_pk_{fp8,bf8}_f32 writes src0's byte and src1's to the low word (word_sel false) or the
// high word (true) of `old`.
ULPGATE_DEVICE uint32_t cvt_e4m3x4(float a, float b, float c, float d) {
  const int lo = __builtin_amdgcn_cvt_pk_fp8_f32(hip_saturate(a, 240.f), hip_saturate(b, 240.f), 0, false);
  return uint32_t(__builtin_amdgcn_cvt_pk_fp8_f32(hip_saturate(c, 240.f), hip_saturate(d, 240.f), lo, true));
}
ULPGATE_DEVICE uint32_t cvt_e5m2x4(float a, float b, float c, float d) {
  const int lo = __builtin_amdgcn_cvt_pk_bf8_f32(hip_saturate(a, 57344.f), hip_saturate(b, 57344.f), 0, false);
  return uint32_t(__builtin_amdgcn_cvt_pk_bf8_f32(hip_saturate(c, 57344.f), hip_saturate(d, 57344.f), lo, true));
}
#else  // no fp8 hardware (gfx90a) or the host pass: the reference rounding under gfx942's policy
ULPGATE_DEVICE uint8_t cvt_e4m3(float x) { return uint8_t(encode<Format::e4m3fnuz>(x, kGfx942.e4m3)); }
ULPGATE_DEVICE uint8_t cvt_e5m2(float x) { return uint8_t(encode<Format::e5m2fnuz>(x, kGfx942.e5m2)); }
#endif
ULPGATE_DEVICE uint8_t cvt_ue8m0(float x, Ue8m0Round r) {
  const Conversion c{Format::ue8m0, Overflow::satfinite, r == Ue8m0Round::rp ? Rounding::rp : Rounding::rz};
  return uint8_t(encode<Format::ue8m0>(x, c));
}
#endif

}  // namespace gpu_backend
#endif

// ---- the same on every backend -------------------------------------------------------------

#if !defined(__CUDACC__) && !defined(__gfx942__)  // one conversion at a time
ULPGATE_DEVICE uint32_t cvt_e4m3x4(float a, float b, float c, float d) {
  return uint32_t(cvt_e4m3(a)) | uint32_t(cvt_e4m3(b)) << 8 | uint32_t(cvt_e4m3(c)) << 16 | uint32_t(cvt_e4m3(d)) << 24;
}
ULPGATE_DEVICE uint32_t cvt_e5m2x4(float a, float b, float c, float d) {
  return uint32_t(cvt_e5m2(a)) | uint32_t(cvt_e5m2(b)) << 8 | uint32_t(cvt_e5m2(c)) << 16 | uint32_t(cvt_e5m2(d)) << 24;
}
#endif
#if !defined(__CUDACC__)
ULPGATE_DEVICE float fmax_nan(float a, float b) {
  const bool nan = (as_uint(a) & 0x7fffffffu) > 0x7f800000u || (as_uint(b) & 0x7fffffffu) > 0x7f800000u;
  return nan ? as_float(0x7fc00000u) : fmaxf(a, b);
}
#endif

ULPGATE_DEVICE int popc(uint32_t x) {
#if defined(__CUDACC__) || defined(__HIP__)
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}

ULPGATE_DEVICE uint32_t add_max_s16x2(uint32_t a, uint32_t b, uint32_t c) {
#if defined(__CUDACC__)
  return __viaddmax_s16x2(a, b, c);
#else
  const auto half = [](uint32_t x, int h) { return int(int16_t(uint16_t(x >> (16 * h)))); };
  const auto pick = [&](int h) {
    const int sum = half(a, h) + half(b, h), other = half(c, h);
    return uint32_t(uint16_t(sum > other ? sum : other));
  };
  return pick(0) | pick(1) << 16;
#endif
}

ULPGATE_DEVICE uint32_t max_u16x2(uint32_t a, uint32_t b) {
#if defined(__CUDACC__)
  return __vmaxu2(a, b);
#else
  const uint32_t lo = (a & 0xffffu) > (b & 0xffffu) ? a & 0xffffu : b & 0xffffu;
  const uint32_t hi = (a >> 16) > (b >> 16) ? a >> 16 : b >> 16;
  return lo | hi << 16;
#endif
}

// (CUDA: inline PTX, as the compiler turns min(r, 1) into a comparison and a select.)
ULPGATE_DEVICE uint32_t min_u32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  uint32_t m;
  asm("min.u32 %0, %1, %2;" : "=r"(m) : "r"(a), "r"(b));
  return m;
#else
  return a < b ? a : b;
#endif
}

// (CUDA: prmt's sign replication, a selector nibble's bit 3: three PRMT for four words.)
ULPGATE_DEVICE uint32_t sign_bytes4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
#if defined(__CUDA_ARCH__)
  uint32_t lo, hi, all;
  asm("prmt.b32 %0, %1, %2, 0xFB;" : "=r"(lo) : "r"(a), "r"(b));
  asm("prmt.b32 %0, %1, %2, 0xFB;" : "=r"(hi) : "r"(c), "r"(d));
  asm("prmt.b32 %0, %1, %2, 0x5410;" : "=r"(all) : "r"(lo), "r"(hi));
  return all;
#else
  const auto sign = [](uint32_t w, int j) { return w >> 31 ? 0xFFu << (8 * j) : 0u; };
  return sign(a, 0) | sign(b, 1) | sign(c, 2) | sign(d, 3);
#endif
}

// cp.async.bulk.prefetch.L2 (sm_90+): one instruction asks for a whole contiguous range and
// returns at once, so a block can start the DRAM reads of a row it will need later without
// holding registers or shared memory for it. Elsewhere nothing (a hint, never a value).
ULPGATE_DEVICE void prefetch_l2(const void* p, uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes));
#else
  (void)p, (void)bytes;
#endif
}

// How far ahead a grid of a block a row (one row each in the bench's shapes) asks L2 for the row a
// block started a little later takes, by one prefetch_l2 of it, so that that block's loads wait on
// L2 rather than DRAM. H200: the quantization reference's gs128 row 440 -> 400 us, the norm
// reference's 1748 -> 1690; 16 to 96 rows ahead alike, 132: 402 us, 198: 412, 660: 457, 1188: 467
// (kernels/quant/PERF.md).
inline constexpr int64_t kRowsAhead = 32;

// Asynchronous 16-byte copies from global into shared memory that only the issuing thread reads
// back (cp.async.cg, sm_80+): a thread stages what it needs next without holding registers for
// it. copy16_async starts one (both addresses 16-byte aligned, the source not written meanwhile),
// copies_commit closes the thread's current group of copies, copies_wait<N>() returns once at
// most N of its closed groups are in flight, their data then visible to the thread. Elsewhere the
// copy is done at once and the other two do nothing.
template <class T>
ULPGATE_DEVICE void copy16_async(T* shared_dst, const T* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(uint32_t(__cvta_generic_to_shared(shared_dst))),
               "l"(src)
               : "memory");
#else
  store16(shared_dst, load16(src));
#endif
}
ULPGATE_DEVICE void copies_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
template <int N>
ULPGATE_DEVICE void copies_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

ULPGATE_DEVICE float bf16_to_float(uint16_t b) { return as_float(uint32_t(b) << 16); }
// Exact widening of IEEE binary16 bits (subnormals scale exactly by 2^-24).
ULPGATE_DEVICE float fp16_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  const float mag = e == 0    ? float(m) * 5.9604644775390625e-8f
                    : e == 31 ? as_float(0x7f800000u | (m << 13))
                              : as_float(((e + 112) << 23) | (m << 13));
  return as_float(as_uint(mag) | sign);
}

}  // namespace dev
}  // namespace ulpgate
