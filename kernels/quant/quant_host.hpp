// Runs the quantization kernels on the host-SIMT emulator, under any Arch's warp size and
// conversion semantics. Reduce: the group amax reduction (tests pass faulty ones).
#pragma once

#include <cstddef>
#include <functional>
#include <span>

#include "kernels/portable/host_simt.hpp"
#include "kernels/quant/quant_plan.hpp"

namespace ulpgate::quant_kernels {

// Throws QuantError (before launch) or host_simt::KernelError (the kernel failed).
template <class Reduce = ShuffleAmax, class Amax = GridAmax>
void run_quant_host(const Arch& arch, const quant::Spec& spec, Format input, std::span<const std::byte> x,
                    std::span<uint8_t> codes, std::span<uint8_t> scales) {
  const QuantPlan plan = plan_quant(spec, input, arch, x.size(), codes.size(), scales.size());
  launch_quant<Reduce, Amax>(plan, x.data(), codes.data(), scales.data(),
                       [&](const LaunchConfig& cfg, const auto& kernel) { host_simt::launch(arch, cfg, kernel); });
}

// A grouped op (plan_grouped_quant) on its row map; faulty(rows) gives the rows the kernels use
// (tests substitute faulty row maps).
template <class Faulty = std::identity>
void run_grouped_quant_host(const Arch& arch, const quant::GroupedSpec& spec, Format input, std::span<const std::byte> x,
                            std::span<const int32_t> row_map, std::span<uint8_t> codes, std::span<uint8_t> scales,
                            Faulty faulty = {}) {
  const QuantPlan plan = plan_grouped_quant(spec, input, arch, x.size(), codes.size(), scales.size(), row_map.size());
  launch_quant(plan, x.data(), codes.data(), scales.data(),
               [&](const LaunchConfig& cfg, const auto& kernel) { host_simt::launch(arch, cfg, kernel); },
               faulty(expert_row_map(plan, row_map.data())));
}

}  // namespace ulpgate::quant_kernels
