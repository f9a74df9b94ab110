// All-reduce family (spec/allreduce.md): every rank r of a world holds x_r; afterwards every rank
// holds sum_r x_r. Three results per case: the ideal (the exact sum rounded once), the
// profile-exact sum of a variant that documents its order (fp32 in rank order, or rotated per
// two-shot partition, rounded once), and a per-element error bound for the budget tier.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/allreduce/element.hpp"
#include "reference/allreduce/nccl_ring.hpp"
#include "reference/formats/formats.hpp"

namespace ulpgate::allreduce {

// How a variant adds the ranks' values.
enum class Order : uint8_t {
  rank_order,  // custom one-shot: fp32, ranks 0..n-1 on every rank, rounded once
  rotated,     // custom two-shot: fp32, the owner of the element's partition first, rounded once
  by_size,     // custom auto: one-shot or two-shot by the selection rule (select_kernel)
  per_hop,     // NCCL ring/tree: rounded to the element type at every hop, in an order it does not
               // document (nccl_ring.hpp: where it was measured)
};

// One implementation of the op, as data (a new variant is a new row in allreduce.cpp).
struct Variant {
  std::string_view name;  // "custom-1shot", "custom-2shot", "custom-auto", "nccl"
  Order order;
  int64_t max_bytes;  // the registered buffer (a larger message is refused); 0: no limit
  bool packs16;       // the size must be a multiple of 16 bytes (16-byte loads)
  bool fixed_worlds;  // only world sizes 2, 4, 6, 8 (the custom kernels' signal layout)
};
std::span<const Variant> variants();
const Variant& variant(std::string_view name);  // throws UsageError naming the choices
std::string variant_names();

inline constexpr int kMaxWorld = 8;
inline constexpr int64_t kPackBytes = 16;
inline constexpr int64_t kDefaultRegisteredBytes = int64_t(8) << 20;  // vLLM's default maximum

// A rank's tensor as a view into its storage: `count` elements from element `offset`, then `tail`
// elements of storage after it. Weakly contiguous (the tensor fills its storage's tail, R19) when
// tail == 0; the custom kernels refuse anything else.
struct View {
  int64_t count = 0, offset = 0, tail = 0;
  int64_t storage() const { return offset + count + tail; }
  bool weakly_contiguous() const { return tail == 0; }
  bool operator==(const View&) const = default;
};

struct Spec {
  const Variant* variant = nullptr;
  Format dtype = Format::bf16;  // bf16, fp16 or fp32
  int world = 2;                // 2, 4, 6 or 8
  View view;
  bool in_place = false;

  int64_t bytes() const { return view.count * int64_t(info(dtype).bits / 8); }
  // Empty when valid, else what is wrong: no variant, a dtype other than bf16/fp16/fp32, a world
  // size outside {2, 4, 6, 8}, a negative view field.
  std::string problem() const;
  // Why this implementation may refuse the case (empty: it must reduce it): a view that is not
  // weakly contiguous, a size that is not a multiple of 16 bytes, a message larger than the
  // registered buffer (R19: an error or the correct result, never silent garbage).
  std::string may_refuse() const;
};

// The custom kernel the selection rule runs for `bytes` on `world` ranks (fully connected NVLink):
// world 2 -> one-shot; else one-shot if (world <= 4 and bytes < 512 KiB) or (world <= 8 and bytes
// < 256 KiB), else two-shot. Returns Order::rank_order (one-shot) or Order::rotated (two-shot).
Order select_kernel(int world, int64_t bytes);
// The order a custom variant follows for this spec (auto resolved); per_hop for nccl.
Order resolved_order(const Spec& spec);

// Two-shot: rank r owns the packs [r part, (r + 1) part) of the message, the last rank also the
// remainder; the owner of element i, which adds first.
int owner_of(const Spec& spec, int64_t i);
// The same as data a kernel can hold (the device reference).
element::Partition partition(const Spec& spec);

// One rank's tensors as a kernel reads and writes them: the storage its input view lies in and
// the storage of its output view (the same span in place), each view.storage() elements of dtype
// (little-endian); the view's offset and tail apply to both.
struct RankBuffers {
  std::span<std::byte> input, output;
};

// The ranks' inputs: element bits of spec.dtype (bf16 / fp16 in the low 16 bits), [world][count].
using Inputs = std::vector<std::vector<uint32_t>>;

// A rank's view in its storage (elements [offset, offset + count)) as element bits, and back.
std::vector<uint32_t> read_view(const Spec& spec, std::span<const std::byte> storage);
void write_view(const Spec& spec, std::span<std::byte> storage, const std::vector<uint32_t>& bits);

// The exact sum rounded once to dtype (RNE; Inf beyond its range; the IEEE sum where an input is
// NaN or Inf), the exact sum to double precision, and sum_r |x_r| (for the bounds).
struct Ideal {
  std::vector<uint32_t> bits;
  std::vector<double> exact, abs_sum;
};
Ideal ideal(const Spec& spec, const Inputs& in);

// What a kernel following `order` (rank_order or rotated) produces, bit for bit: the fp32 sum in
// that order, rounded once to dtype.
std::vector<uint32_t> ordered_sum(const Spec& spec, Order order, const Inputs& in);
// The same from the ranks' raw elements of dtype (little-endian, the view's count each), which a
// caller need not widen to bits (4 bytes an element a rank).
using RawRanks = std::vector<std::span<const std::byte>>;
std::vector<uint32_t> ordered_sum(const Spec& spec, Order order, const RawRanks& raw);

// What NCCL's ring produces where its order was measured (nccl_ring.hpp), bit for bit.
std::vector<uint32_t> ring_sum(const Spec& spec, const RingOrder& ring, const Inputs& in);

// gamma_{n-1} of the arithmetic `order` adds in (fp32 for the custom kernels, dtype per hop for
// NCCL), times sum |x|: a rigorous bound on |y - S| for any order of n - 1 rounded additions (a
// rounding of the fp32 result to dtype adds half an ulp of dtype, which the comparator allows).
double error_bound(const Spec& spec, Order order, double abs_sum);

}  // namespace ulpgate::allreduce
