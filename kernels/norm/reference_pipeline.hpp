// The device RMSNorm reference's steps, written once over a pipeline device
// (kernels/portable/host_pipeline.hpp: the host-SIMT emulator; gpu_pipeline.cuh: CUDA).
#pragma once

#include <algorithm>
#include <bit>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/norm/reference_kernels.hpp"
#include "kernels/norm/reference_plan.hpp"

namespace ulpgate::norm_kernels {

// Both results of a case whose inputs are already on the device, left there: y, the ideal y
// (kNearMark where the host decides), the written-back residual, each row's exact sum and r.
template <class Device>
struct OnDevice {
  using Halves = decltype(std::declval<Device&>().template alloc<uint16_t>(0));
  Halves y, ideal, residual_out;
  decltype(std::declval<Device&>().template alloc<uint64_t>(0)) limbs;
  decltype(std::declval<Device&>().template alloc<uint32_t>(0)) flags;
  decltype(std::declval<Device&>().template alloc<float>(0)) r_profile;
  decltype(std::declval<Device&>().template alloc<double>(0)) r_ideal;
};

// x and residual (nullptr without one): the dtype's bits; weight: [h] floats. `window`:
// norm::element::ideal_y's (the reference's 2^-40; a test widens it to send many elements to the host).
template <class Device>
OnDevice<Device> compute_on(Device& dev, const norm::Spec& spec, const uint16_t* x, const uint16_t* residual,
                            const float* weight, double window = 0x1p-40) {
  const auto n = size_t(spec.m * spec.h), rows = size_t(spec.m);
  OnDevice<Device> out{dev.template alloc<uint16_t>(n),    dev.template alloc<uint16_t>(n),
                       dev.template alloc<uint16_t>(residual ? n : 0), dev.template alloc<uint64_t>(rows * norm::ExactSum::kLimbs),
                       dev.template alloc<uint32_t>(rows), dev.template alloc<float>(rows),
                       dev.template alloc<double>(rows)};
  const auto launch = [&]<Format T>(std::integral_constant<Format, T>) {
    const RefShape g{spec.m, spec.h};
    const norm::element::Steps steps = spec.steps();
    const auto with = [&]<bool Residual>(std::bool_constant<Residual>) {
      dev.launch({{unsigned(std::clamp<int64_t>(spec.m, 1, 1 << 16))}, {kRowThreads}},
                 RefSums<T, Residual>{x, residual, out.limbs.get(), out.flags.get(), g, int(std::bit_width(uint64_t(spec.h))), steps,
                                      packed_rows(spec.h, x, residual)});
      dev.launch({{unsigned((spec.m + kRThreads - 1) / kRThreads), 2}, {kRThreads}},
                 RefR{out.limbs.get(), out.flags.get(), out.r_profile.get(), out.r_ideal.get(), spec.m, spec.h,
                      norm::r_rule(*spec.profile), eps_term(spec)});
      uint16_t *y = out.y.get(), *ideal = out.ideal.get(), *residual_out = residual ? out.residual_out.get() : nullptr;
      const bool exact_products = !spec.fp32_weight && (!residual || steps.rounds_residual);  // z and w T values
      const RefOutputs<T, Residual> outputs{x, residual, weight, out.r_profile.get(), out.r_ideal.get(), y, ideal, residual_out, g,
                                            steps, window, packed_rows(spec.h, x, residual, weight, y, ideal, residual_out),
                                            RefOutputs<T, Residual>::margin_of(exact_products, window)};
      dev.launch({{unsigned((outputs.per_row() + kOutputThreads - 1) / kOutputThreads), unsigned(std::min(spec.m, kOutputRowBlocks))},
                  {kOutputThreads}},
                 outputs);
    };
    if (residual) with(std::true_type{});
    else with(std::false_type{});
  };
  if (rows > 0) {
    if (spec.dtype == Format::bf16) launch(std::integral_constant<Format, Format::bf16>{});
    else launch(std::integral_constant<Format, Format::fp16>{});
  }
  return out;
}

// The case from its inputs on the host to both results on the host.
template <class Device>
ReferenceResult reference_on(Device& dev, const norm::Spec& spec, const RawInputs& in, double window = 0x1p-40) {
  if (const std::string why = reference_declines(spec); !why.empty())
    throw UsageError("the device RMSNorm reference declines: " + why);
  const auto upload = [&](auto span) {
    auto d = dev.template alloc<typename decltype(span)::value_type>(span.size());
    dev.to_device(d.get(), span.data(), span.size_bytes());
    return d;
  };
  auto x = upload(in.x), res = upload(in.residual);
  auto weight = upload(in.weight);
  const OnDevice<Device> d = compute_on(dev, spec, x.get(), spec.has_residual() ? res.get() : nullptr, weight.get(), window);
  const auto n = size_t(spec.m * spec.h), rows = size_t(spec.m);
  const auto download = [&](auto& to, const auto& from, size_t count) {
    to.resize(count);
    dev.to_host(to.data(), from.get(), count * sizeof(to[0]));
  };
  ReferenceResult out;
  download(out.profile.r, d.r_profile, rows);
  download(out.ideal.r, d.r_ideal, rows);
  download(out.profile.y, d.y, n);
  download(out.ideal.y, d.ideal, n);
  download(out.profile.residual, d.residual_out, spec.has_residual() ? n : 0);
  download(out.limbs, d.limbs, rows * norm::ExactSum::kLimbs);
  download(out.flags, d.flags, rows);
  out.near_boundary = resolve_near_boundary(spec, in, out.limbs, out.flags, out.ideal.y);
  return out;
}

}  // namespace ulpgate::norm_kernels
