// The host-SIMT backend of the portable device layer: the emulator's hooks (implemented in
// host_simt.cpp) and dev::'s functions on them. Part of device.hpp, which includes it after its
// types where no GPU compiler builds the kernels; include device.hpp, not this.
#pragma once

#if !defined(ULPGATE_DEVICE) || defined(ULPGATE_GPU)
#error "kernels/portable/device_host.hpp is part of kernels/portable/device.hpp (host builds)"
#endif

namespace ulpgate {

namespace host_simt {

enum class WarpOp : uint8_t { shfl, shfl_up, shfl_down, shfl_xor, ballot };

// What kernel code reads about the calling thread; the emulator's per-thread record derives
// from it.
struct ThreadState {
  Dim3 thread_idx, block_idx, block_dim, grid_dim;
  unsigned rank;  // linear thread index in the block
  int warp_size;
  const Arch* arch;
  unsigned world_rank;  // the launching rank in a world launch; 0 in a plain launch
};

extern thread_local constinit ThreadState* t_current;

void block_sync(const std::source_location& site);
uint64_t warp_exchange(WarpOp op, uint64_t value, int operand, int width,
                       const std::source_location& site);
void* static_shared(const void* tag, std::size_t bytes);
void* dynamic_shared();
// load16/store16: the address is 16-byte aligned and, in a world launch, not in a released peer
// region.
void check_vector_access(const void* p, const char* what);
void store_flag(uint32_t* p, uint32_t v);
void wait_flag(const uint32_t* p, uint32_t v, const std::source_location& site);

}  // namespace host_simt

namespace dev {

inline namespace host_backend {

using SiteArg = std::source_location;
#define ULPGATE_SITE ::ulpgate::dev::SiteArg site = ::ulpgate::dev::SiteArg::current()

inline const host_simt::ThreadState& self() { return *host_simt::t_current; }
inline Dim3 thread_idx() { return self().thread_idx; }
inline Dim3 block_idx() { return self().block_idx; }
inline Dim3 block_dim() { return self().block_dim; }
inline Dim3 grid_dim() { return self().grid_dim; }
inline unsigned thread_rank() { return self().rank; }
inline int warp_size() { return self().warp_size; }
inline int lane() { return int(self().rank % unsigned(self().warp_size)); }

inline void block_sync(ULPGATE_SITE) { host_simt::block_sync(site); }

// Values travel through the exchange as up to 8 raw bytes.
template <class T>
inline T exchange(host_simt::WarpOp op, T v, int operand, int width, const SiteArg& site) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle a value of <= 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = host_simt::warp_exchange(op, bits, operand, width, site);
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
template <class T> inline T shfl(T v, int src_lane, int width, ULPGATE_SITE) {
  return exchange(host_simt::WarpOp::shfl, v, src_lane, width, site);
}
template <class T> inline T shfl_up(T v, int delta, int width, ULPGATE_SITE) {
  return exchange(host_simt::WarpOp::shfl_up, v, delta, width, site);
}
template <class T> inline T shfl_down(T v, int delta, int width, ULPGATE_SITE) {
  return exchange(host_simt::WarpOp::shfl_down, v, delta, width, site);
}
template <class T> inline T shfl_xor(T v, int lane_mask, int width, ULPGATE_SITE) {
  return exchange(host_simt::WarpOp::shfl_xor, v, lane_mask, width, site);
}
inline uint64_t ballot(bool pred, int width, ULPGATE_SITE) {
  return host_simt::warp_exchange(host_simt::WarpOp::ballot, pred, 0, width, site);
}
inline bool any(bool pred, int width, ULPGATE_SITE) { return ballot(pred, width, site) != 0; }
inline bool all(bool pred, int width, ULPGATE_SITE) {
  return ballot(pred, width, site) == (width >= 64 ? ~uint64_t(0) : (uint64_t(1) << width) - 1);
}

inline void store_flag(uint32_t* p, uint32_t v) { host_simt::store_flag(p, v); }
// Blocks may run on several workers: a compare-and-swap loop on the word.
inline void atomic_max(uint32_t* p, uint32_t v) {
  std::atomic_ref<uint32_t> word(*p);
  uint32_t seen = word.load();
  while (seen < v && !word.compare_exchange_weak(seen, v)) {
  }
}
// The waiting thread suspends; the emulator resumes it once the flag holds v.
inline void wait_flag(const uint32_t* p, uint32_t v, ULPGATE_SITE) { host_simt::wait_flag(p, v, site); }
#undef ULPGATE_SITE

template <class T>
inline T* dynamic_shared() { return static_cast<T*>(host_simt::dynamic_shared()); }
// A per-block array keyed by the address of a static tag unique to this declaration.
#define ULPGATE_SHARED(T, name, N)                                                   \
  static constexpr char name##_ulpgate_tag = 0;                                      \
  T(&name)[N] = *static_cast<T(*)[N]>(                                               \
      ::ulpgate::host_simt::static_shared(&name##_ulpgate_tag, sizeof(T[N])))

template <class T>
inline Pack16<T> load16(const T* p) {
  host_simt::check_vector_access(p, "load16");
  Pack16<T> r;
  std::memcpy(&r, p, 16);
  return r;
}
template <class T>
inline void store16(T* p, const Pack16<T>& v) {
  host_simt::check_vector_access(p, "store16");
  std::memcpy(p, &v, 16);
}

inline float as_float(uint32_t u) { return std::bit_cast<float>(u); }
inline uint32_t as_uint(float f) { return std::bit_cast<uint32_t>(f); }

inline uint8_t cvt_e4m3(float x) { return uint8_t(encode(x, self().arch->e4m3)); }
inline uint8_t cvt_e5m2(float x) { return uint8_t(encode(x, self().arch->e5m2)); }
inline uint8_t cvt_ue8m0(float x, Ue8m0Round r) {
  const Conversion c{Format::ue8m0, Overflow::satfinite, r == Ue8m0Round::rp ? Rounding::rp : Rounding::rz};
  return uint8_t(encode<Format::ue8m0>(x, c));
}

}  // namespace host_backend

}  // namespace dev
}  // namespace ulpgate
