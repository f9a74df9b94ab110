#include "reference/allreduce/nccl_ring.hpp"

#include <algorithm>
#include <array>

namespace ulpgate::allreduce {
namespace {

constexpr std::string_view kH200x4 =
    "NCCL 2.28.3, 4 H200s (NV18 between every pair), NCCL_NVLS_ENABLE=0: ulpgate reveal, ci/gpu-run.sh allreduce, 2026-11-26";

// The slices as revealed, message by message (bytes): one slice of four chunks up to 12304 bytes
// (chunks rounded up to 16 bytes); 8 slices of 4 KiB chunks at 128 KiB; from 2 MiB, 24 slices whose
// chunks are a 24th of the message in 512-byte units, the last slice taking the rest.
constexpr std::array kRows = {
    RingOrder{"sm90", 4, 2048, 512, 0, 512, kH200x4},
    RingOrder{"sm90", 4, 4096, 1024, 0, 1024, kH200x4},
    RingOrder{"sm90", 4, 8192, 2048, 0, 2048, kH200x4},
    RingOrder{"sm90", 4, 12304, 3088, 0, 3088, kH200x4},
    RingOrder{"sm90", 4, 131072, 4096, 8, 4096, kH200x4},
    RingOrder{"sm90", 4, 2097152, 22016, 23, 17920, kH200x4},
    RingOrder{"sm90", 4, 8388608, 88064, 23, 71680, kH200x4},
    RingOrder{"sm90", 4, 33554432, 350208, 23, 333824, kH200x4},
};

}  // namespace

int RingOrder::first_rank(int64_t at_byte) const {
  if (world == 2) return 0;
  const int64_t slice = int64_t(world) * chunk_bytes, full = full_slices * slice;
  const int64_t chunk = at_byte < full ? (at_byte % slice) / chunk_bytes : (at_byte - full) / last_chunk_bytes;
  return int((std::min<int64_t>(chunk, world - 1) + 1) % world);
}

std::span<const RingOrder> ring_orders() { return kRows; }

const RingOrder* find_ring_order(std::string_view arch, int world, int64_t bytes) {
  static constexpr RingOrder kTwoRanks{"", 2, 0, 0, 0, 0, "two ranks: one rounding in either order"};
  const auto measured = [&](const RingOrder& r) { return r.arch == arch; };
  if (std::ranges::none_of(kRows, measured)) return nullptr;
  if (world == 2) return &kTwoRanks;
  const auto it = std::ranges::find_if(kRows, [&](const RingOrder& r) { return r.arch == arch && r.world == world && r.bytes == bytes; });
  return it == kRows.end() ? nullptr : &*it;
}

}  // namespace ulpgate::allreduce
