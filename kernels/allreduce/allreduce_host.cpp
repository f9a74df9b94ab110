#include "kernels/allreduce/allreduce_host.hpp"

#include <algorithm>

namespace ulpgate::allreduce_kernels {

void HostWorld::reserve(int world, int64_t bytes) {
  bytes = std::max<int64_t>(bytes, allreduce::kPackBytes);
  if (bytes > capacity_) {
    for (Rank& r : ranks_) r.data.reset(), r.tmp.reset();
    capacity_ = bytes;
  }
  if (ranks_.size() < size_t(world)) ranks_.resize(size_t(world));
  for (Rank& r : ranks_) {
    // new[] of uint8_t is aligned to at least 16 bytes (operator new's default alignment).
    if (!r.data) r.data.reset(new uint8_t[size_t(capacity_)]), r.tmp.reset(new uint8_t[size_t(capacity_)]);
    if (!r.signal || world != world_) r.signal = std::make_unique<Signal>(Signal{});
  }
  world_ = world;
}

WorldPointers HostWorld::pointers(int world) const {
  WorldPointers p{};
  for (size_t r = 0; r < size_t(world); ++r) p.data[r] = ranks_[r].data.get(), p.tmp[r] = ranks_[r].tmp.get(), p.signal[r] = ranks_[r].signal.get();
  return p;
}

std::vector<host_simt::RankRegion> HostWorld::regions(int world, int64_t bytes) const {
  std::vector<host_simt::RankRegion> out;
  for (size_t r = 0; r < size_t(world); ++r) {
    out.push_back({unsigned(r), ranks_[r].data.get(), size_t(bytes)});
    out.push_back({unsigned(r), ranks_[r].tmp.get(), size_t(bytes)});
  }
  return out;
}

WorldPointers segment_pointers(std::span<std::byte* const> segments, int64_t registered) {
  WorldPointers p{};
  for (size_t r = 0; r < segments.size(); ++r) {
    const uintptr_t at = reinterpret_cast<uintptr_t>(segments[r]);
    uint8_t* base = reinterpret_cast<uint8_t*>((at + kSegmentAlign - 1) / kSegmentAlign * kSegmentAlign);
    p.signal[r] = reinterpret_cast<Signal*>(base);
    p.data[r] = base + kSegmentHeader;
    p.tmp[r] = base + kSegmentHeader + registered;
  }
  return p;
}

void run_nccl_ring_host(const allreduce::RingOrder& ring, const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) {
  allreduce::Inputs in;
  for (const allreduce::RankBuffers& b : io) in.push_back(allreduce::read_view(spec, b.input));
  const std::vector<uint32_t> sum = allreduce::ring_sum(spec, ring, in);
  for (const allreduce::RankBuffers& b : io) allreduce::write_view(spec, b.output, sum);
}

}  // namespace ulpgate::allreduce_kernels
