// The device all-reduce reference's steps, written once over a pipeline device
// (kernels/portable/host_pipeline.hpp: the host-SIMT emulator; gpu_pipeline.cuh: CUDA).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/allreduce/reference_kernels.hpp"

namespace ulpgate::allreduce_kernels {

struct ReferenceResult {
  allreduce::Ideal ideal;
  std::vector<uint32_t> ordered;  // the sum in the order asked for (empty for per_hop)
};

// The results of a case whose ranks' inputs are already on the device, left there.
template <class Device>
struct OnDevice {
  using Words = decltype(std::declval<Device&>().template alloc<uint32_t>(0));
  using Doubles = decltype(std::declval<Device&>().template alloc<double>(0));
  Words bits;
  Doubles exact, abs_sum;
  Words ordered;  // empty for per_hop
};

inline bool has_order(allreduce::Order order) {
  return order == allreduce::Order::rank_order || order == allreduce::Order::rotated;
}

// ranks: [world][count] element bits on the device. The ideal, and the sum in `order` (rank_order
// or rotated; per_hop: none).
template <class Device>
OnDevice<Device> compute_on(Device& dev, const allreduce::Spec& spec, allreduce::Order order, const uint32_t* ranks) {
  const auto n = size_t(spec.view.count);
  const bool orders = has_order(order);
  OnDevice<Device> out{dev.template alloc<uint32_t>(n), dev.template alloc<double>(n), dev.template alloc<double>(n),
                       dev.template alloc<uint32_t>(orders ? n : 0)};
  constexpr unsigned kThreads = 256;
  const auto launch = [&]<int World>(std::integral_constant<int, World>) {
    if (spec.world != World) return;
    dev.launch({{unsigned(std::clamp<int64_t>(int64_t((n + kThreads - 1) / kThreads), 1, 1 << 16))}, {kThreads}},
               RefAllreduce<World>{ranks, int64_t(n), spec.dtype, out.bits.get(), out.exact.get(), out.abs_sum.get(),
                                   orders ? out.ordered.get() : nullptr, order == allreduce::Order::rotated,
                                   allreduce::partition(spec)});
  };
  if (spec.world < 1 || spec.world > allreduce::kMaxWorld) throw UsageError("all-reduce reference: world " + std::to_string(spec.world));
  if (n > 0)
    [&]<int... W>(std::integer_sequence<int, W...>) { (launch(std::integral_constant<int, W + 1>{}), ...); }(
        std::make_integer_sequence<int, allreduce::kMaxWorld>{});
  return out;
}

// The ranks' inputs on the device: [world][count] element bits.
template <class Device>
auto upload_ranks(Device& dev, const allreduce::Spec& spec, const allreduce::Inputs& in) {
  const auto n = size_t(spec.view.count), world = size_t(spec.world);
  auto ranks = dev.template alloc<uint32_t>(n * world);
  for (size_t r = 0; r < world; ++r) dev.to_device(ranks.get() + r * n, in[r].data(), n * sizeof(uint32_t));
  return ranks;
}

// The same from the ranks' inputs in host memory to the results there.
template <class Device>
ReferenceResult reference_on(Device& dev, const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in) {
  const auto n = size_t(spec.view.count);
  auto ranks = upload_ranks(dev, spec, in);
  const OnDevice<Device> d = compute_on(dev, spec, order, ranks.get());
  ReferenceResult out{{std::vector<uint32_t>(n), std::vector<double>(n), std::vector<double>(n)},
                      std::vector<uint32_t>(has_order(order) ? n : 0)};
  dev.to_host(out.ideal.bits.data(), d.bits.get(), n * sizeof(uint32_t));
  dev.to_host(out.ideal.exact.data(), d.exact.get(), n * sizeof(double));
  dev.to_host(out.ideal.abs_sum.data(), d.abs_sum.get(), n * sizeof(double));
  dev.to_host(out.ordered.data(), d.ordered.get(), out.ordered.size() * sizeof(uint32_t));
  return out;
}

// Bytes the reference moves: the ranks' words read, its results written.
inline std::size_t reference_bytes(const allreduce::Spec& spec, allreduce::Order order) {
  const auto n = std::size_t(spec.view.count);
  return n * (std::size_t(spec.world) * 4 + 4 + 8 + 8 + (has_order(order) ? 4 : 0));
}

}  // namespace ulpgate::allreduce_kernels
