#include "reference/allreduce/nccl_ring.hpp"

#include <algorithm>
#include <array>

namespace ulpgate::allreduce {
namespace {

constexpr std::string_view kH200x4 =
    "NCCL 2.28.3, 4 H200s (NV18 between every pair), NCCL_NVLS_ENABLE=0: ulpgate reveal, ci/gpu-run.sh allreduce, 2026-11-26";

// The rings as revealed, message by message (bytes): up to 12304 bytes one region of one step
// (chunks rounded up to 16 bytes); at 128 KiB 8 regions of one step of 4 KiB chunks; from 2 MiB to
// 64 MiB 24 regions of one step, chunks a 96th of the message rounded up to 512 bytes; at 256 MiB
// and 1 GiB 24 regions of steps of 2 MiB chunks, each region ending in a step of 700416-byte chunks.
constexpr std::array kRows = {
    RingOrder{"sm90", 4, 2048, 2048, 512, 512, 512, kH200x4},
    RingOrder{"sm90", 4, 4096, 4096, 1024, 1024, 1024, kH200x4},
    RingOrder{"sm90", 4, 8192, 8192, 2048, 2048, 2048, kH200x4},
    RingOrder{"sm90", 4, 12304, 12304, 3088, 3088, 3088, kH200x4},
    RingOrder{"sm90", 4, 131072, 16384, 4096, 4096, 4096, kH200x4},
    RingOrder{"sm90", 4, 2097152, 88064, 22016, 22016, 17920, kH200x4},
    RingOrder{"sm90", 4, 8388608, 352256, 88064, 88064, 71680, kH200x4},
    RingOrder{"sm90", 4, 33554432, 1400832, 350208, 350208, 333824, kH200x4},
    RingOrder{"sm90", 4, 67108864, 2801664, 700416, 700416, 667648, kH200x4},
    RingOrder{"sm90", 4, 268435456, 11190272, 2097152, 700416, 667648, kH200x4},
    RingOrder{"sm90", 4, 1073741824, 44744704, 2097152, 700416, 667648, kH200x4},
};

}  // namespace

int RingOrder::first_rank(int64_t at_byte) const {
  if (world == 2) return 0;
  const int64_t regions = (bytes + region_bytes - 1) / region_bytes, region = std::min(at_byte / region_bytes, regions - 1);
  const bool last = region == regions - 1;
  const int64_t at = at_byte - region * region_bytes, length = last ? bytes - region * region_bytes : region_bytes;
  const int64_t step = world * chunk_bytes, full = length / step * step;
  const int64_t chunk = at < full ? at % step / chunk_bytes : (at - full) / (last ? last_rest_chunk_bytes : rest_chunk_bytes);
  return int((std::min<int64_t>(chunk, world - 1) + 1) % world);
}

std::span<const RingOrder> ring_orders() { return kRows; }

const RingOrder* find_ring_order(std::string_view arch, int world, int64_t bytes) {
  static constexpr RingOrder kTwoRanks{"", 2, 0, 0, 0, 0, 0, "two ranks: one rounding in either order"};
  const auto measured = [&](const RingOrder& r) { return r.arch == arch; };
  if (std::ranges::none_of(kRows, measured)) return nullptr;
  if (world == 2) return &kTwoRanks;
  const auto it = std::ranges::find_if(kRows, [&](const RingOrder& r) { return r.arch == arch && r.world == world && r.bytes == bytes; });
  return it == kRows.end() ? nullptr : &*it;
}

}  // namespace ulpgate::allreduce
