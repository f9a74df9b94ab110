#include "reference/allreduce/allreduce.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "reference/allreduce/element.hpp"
#include "reference/formats/name_table.hpp"
#include "reference/parallel.hpp"

namespace ulpgate::allreduce {
namespace {

// spec/allreduce.md "What implementations do".
constexpr std::array kVariants = {
    Variant{"custom-1shot", Order::rank_order, kDefaultRegisteredBytes, true, true},
    Variant{"custom-2shot", Order::rotated, kDefaultRegisteredBytes, true, true},
    Variant{"custom-auto", Order::by_size, kDefaultRegisteredBytes, true, true},
    Variant{"nccl", Order::per_hop, 0, false, false},
};

// Below this many elements a reference loop stays on one thread.
constexpr int64_t kSerialElements = int64_t(1) << 16;

constexpr bool known_world(int w) { return w == 2 || w == 4 || w == 6 || w == 8; }

// Unit roundoff of the arithmetic each addition rounds in.
double unit_roundoff(Format f) { return std::ldexp(1.0, -(info(f).mbits + 1)); }

}  // namespace

std::span<const Variant> variants() { return kVariants; }
const Variant& variant(std::string_view name) { return row_named(std::span<const Variant>(kVariants), name, "all-reduce variant"); }
std::string variant_names() { return row_names(std::span<const Variant>(kVariants)); }

std::string Spec::problem() const {
  if (!variant) return "no variant";
  if (dtype != Format::bf16 && dtype != Format::fp16 && dtype != Format::fp32) return "the dtype is bf16, fp16 or fp32";
  if (!known_world(world)) return "world size " + std::to_string(world) + " is not 2, 4, 6 or 8";
  if (view.count < 0 || view.offset < 0 || view.tail < 0) return "a negative view field";
  return "";
}

std::string Spec::may_refuse() const {
  if (variant->fixed_worlds && !view.weakly_contiguous())
    return "the view is not weakly contiguous (" + std::to_string(view.tail) + " storage elements after it)";
  if (variant->packs16 && bytes() % kPackBytes != 0)
    return "the message (" + std::to_string(bytes()) + " bytes) is not a multiple of 16 bytes";
  if (variant->max_bytes && bytes() > variant->max_bytes)
    return "the message (" + std::to_string(bytes()) + " bytes) is larger than the registered buffer (" +
           std::to_string(variant->max_bytes) + " bytes)";
  return "";
}

Order select_kernel(int world, int64_t bytes) {
  if (world == 2) return Order::rank_order;
  const bool small = (world <= 4 && bytes < (int64_t(512) << 10)) || (world <= 8 && bytes < (int64_t(256) << 10));
  return small ? Order::rank_order : Order::rotated;
}

Order resolved_order(const Spec& spec) {
  return spec.variant->order == Order::by_size ? select_kernel(spec.world, spec.bytes()) : spec.variant->order;
}

element::Partition partition(const Spec& spec) {
  const int64_t per_pack = kPackBytes / (info(spec.dtype).bits / 8);
  const int64_t packs = (spec.view.count + per_pack - 1) / per_pack;
  return {per_pack, packs / spec.world, spec.world};
}

int owner_of(const Spec& spec, int64_t i) { return partition(spec).owner(i); }

namespace {

// The ranks' bits at element i.
struct AtElement {
  uint32_t v[kMaxWorld];
  AtElement(const Inputs& in, size_t i) : v{} {
    for (size_t r = 0; r < in.size(); ++r) v[r] = in[r][i];
  }
  AtElement(const RawRanks& raw, size_t width, size_t i) : v{} {
    for (size_t r = 0; r < raw.size(); ++r) std::memcpy(&v[r], raw[r].data() + i * width, width);  // little-endian
  }
};

// ordered_sum over ranks whose element i at(i) gives.
template <class At>
std::vector<uint32_t> ordered_sum_of(const Spec& spec, Order order, At at) {
  std::vector<uint32_t> out(size_t(spec.view.count));
  const element::Partition p = partition(spec);
  parallel_for_each(spec.view.count, kSerialElements, [&](int64_t i) {
    out[size_t(i)] = element::ordered(spec.dtype, at(size_t(i)).v, spec.world, order == Order::rotated ? p.owner(i) : 0);
  });
  return out;
}

}  // namespace

std::vector<uint32_t> read_view(const Spec& spec, std::span<const std::byte> storage) {
  std::vector<uint32_t> out(size_t(spec.view.count));
  const size_t w = info(spec.dtype).bits / 8, at = size_t(spec.view.offset) * w;
  parallel_for_each(spec.view.count, kSerialElements, [&](int64_t i) { std::memcpy(&out[size_t(i)], storage.data() + at + size_t(i) * w, w); });
  return out;
}

void write_view(const Spec& spec, std::span<std::byte> storage, const std::vector<uint32_t>& bits) {
  const size_t w = info(spec.dtype).bits / 8, at = size_t(spec.view.offset) * w;
  parallel_for_each(int64_t(bits.size()), kSerialElements, [&](int64_t i) { std::memcpy(storage.data() + at + size_t(i) * w, &bits[size_t(i)], w); });
}

Ideal ideal(const Spec& spec, const Inputs& in) {
  const size_t n = size_t(spec.view.count);
  Ideal out{std::vector<uint32_t>(n), std::vector<double>(n), std::vector<double>(n)};
  parallel_for_each(int64_t(n), kSerialElements, [&](int64_t i) {
    const element::Ideal e = element::ideal(spec.dtype, AtElement(in, size_t(i)).v, spec.world);
    out.bits[size_t(i)] = e.bits, out.exact[size_t(i)] = e.exact, out.abs_sum[size_t(i)] = e.abs_sum;
  });
  return out;
}

std::vector<uint32_t> ordered_sum(const Spec& spec, Order order, const Inputs& in) {
  return ordered_sum_of(spec, order, [&](size_t i) { return AtElement(in, i); });
}

std::vector<uint32_t> ordered_sum(const Spec& spec, Order order, const RawRanks& raw) {
  const size_t width = info(spec.dtype).bits / 8;
  for (const std::span<const std::byte>& r : raw)
    if (r.size() != size_t(spec.view.count) * width) throw std::logic_error("allreduce::ordered_sum: a rank of another size");
  return ordered_sum_of(spec, order, [&](size_t i) { return AtElement(raw, width, i); });
}

std::vector<uint32_t> ring_sum(const Spec& spec, const RingOrder& ring, const Inputs& in) {
  std::vector<uint32_t> out(size_t(spec.view.count));
  const int64_t width = info(spec.dtype).bits / 8;
  parallel_for_each(spec.view.count, kSerialElements, [&](int64_t i) {
    out[size_t(i)] = element::per_hop(spec.dtype, AtElement(in, size_t(i)).v, spec.world, ring.first_rank(i * width));
  });
  return out;
}

double error_bound(const Spec& spec, Order order, double abs_sum) {
  const double u = unit_roundoff(order == Order::per_hop ? spec.dtype : Format::fp32), k = spec.world - 1;
  // gamma_k = k u / (1 - k u); the factor 1 + 2^-40 covers the double rounding of abs_sum itself.
  return k * u / (1 - k * u) * abs_sum * (1 + 0x1p-40);
}

}  // namespace ulpgate::allreduce
