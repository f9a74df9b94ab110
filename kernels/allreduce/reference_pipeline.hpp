// The device all-reduce reference's steps, written once over a pipeline device
// (kernels/portable/host_pipeline.hpp: the host-SIMT emulator; gpu_pipeline.cuh: CUDA).
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/allreduce/reference_kernels.hpp"

namespace ulpgate::allreduce_kernels {

struct ReferenceResult {
  allreduce::Ideal ideal;
  std::vector<uint32_t> ordered;  // the sum in the order asked for (empty for per_hop)
};

// The ideal of the ranks' inputs (host memory), and their sum in `order` (rank_order or rotated;
// per_hop: none), computed on the device.
template <class Device>
ReferenceResult reference_on(Device& dev, const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in) {
  const auto n = size_t(spec.view.count), world = size_t(spec.world);
  const bool orders = order == allreduce::Order::rank_order || order == allreduce::Order::rotated;
  auto ranks = dev.template alloc<uint32_t>(n * world);
  for (size_t r = 0; r < world; ++r) dev.to_device(ranks.get() + r * n, in[r].data(), n * sizeof(uint32_t));
  auto bits = dev.template alloc<uint32_t>(n), ordered = dev.template alloc<uint32_t>(orders ? n : 0);
  auto exact = dev.template alloc<double>(n), abs_sum = dev.template alloc<double>(n);
  constexpr unsigned kThreads = 256;
  if (n > 0)
    dev.launch({{unsigned(std::clamp<int64_t>(int64_t((n + kThreads - 1) / kThreads), 1, 1 << 16))}, {kThreads}},
               RefAllreduce{ranks.get(), int64_t(n), spec.world, spec.dtype, bits.get(), exact.get(), abs_sum.get(),
                            orders ? ordered.get() : nullptr, order == allreduce::Order::rotated, allreduce::partition(spec)});
  ReferenceResult out{{std::vector<uint32_t>(n), std::vector<double>(n), std::vector<double>(n)},
                      std::vector<uint32_t>(orders ? n : 0)};
  dev.to_host(out.ideal.bits.data(), bits.get(), n * sizeof(uint32_t));
  dev.to_host(out.ideal.exact.data(), exact.get(), n * sizeof(double));
  dev.to_host(out.ideal.abs_sum.data(), abs_sum.get(), n * sizeof(double));
  dev.to_host(out.ordered.data(), ordered.get(), out.ordered.size() * sizeof(uint32_t));
  return out;
}

}  // namespace ulpgate::allreduce_kernels
