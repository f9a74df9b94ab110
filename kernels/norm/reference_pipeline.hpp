// The device RMSNorm reference's steps, written once over a pipeline device
// (kernels/portable/host_pipeline.hpp: the host-SIMT emulator; gpu_pipeline.cuh: CUDA).
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/norm/reference_kernels.hpp"
#include "kernels/norm/reference_plan.hpp"

namespace ulpgate::norm_kernels {

// Both results of a case whose inputs are already on the device: y, the ideal y (kNearMark where
// the host decides) and the written-back residual stay there; each row's exact sum and r come back.
template <class Device>
struct OnDevice {
  using Halves = decltype(std::declval<Device&>().template alloc<uint16_t>(0));
  Halves y, ideal, residual_out;
  std::vector<uint64_t> limbs;
  std::vector<uint32_t> flags;
  std::vector<float> r_profile;
  std::vector<double> r_ideal;
};

// x and residual (nullptr without one): the dtype's bits; weight: [h] floats. `window`:
// norm::element::ideal_y's (the reference's 2^-40; a test widens it to send many elements to the host).
template <class Device>
OnDevice<Device> compute_on(Device& dev, const norm::Spec& spec, const uint16_t* x, const uint16_t* residual,
                            const float* weight, double window = 0x1p-40) {
  const auto n = size_t(spec.m * spec.h), rows = size_t(spec.m);
  const RefShape g{spec.m, spec.h};
  const norm::element::Steps steps = spec.steps();
  constexpr unsigned kThreads = 256;
  auto limbs = dev.template alloc<uint64_t>(rows * norm::ExactSum::kLimbs);
  auto flags = dev.template alloc<uint32_t>(rows);
  if (rows > 0) {
    const auto blocks = unsigned(std::clamp<int64_t>((spec.m + kThreads / 32 - 1) / (kThreads / 32), 1, 1 << 16));
    dev.launch({{blocks}, {kThreads}}, RefSquares{x, residual, limbs.get(), flags.get(), g, steps});
  }
  OnDevice<Device> out{dev.template alloc<uint16_t>(n), dev.template alloc<uint16_t>(n),
                       dev.template alloc<uint16_t>(residual ? n : 0), std::vector<uint64_t>(rows * norm::ExactSum::kLimbs),
                       std::vector<uint32_t>(rows), {}, {}};
  dev.to_host(out.limbs.data(), limbs.get(), out.limbs.size() * sizeof(uint64_t));
  dev.to_host(out.flags.data(), flags.get(), rows * sizeof(uint32_t));
  rows_r(spec, out.limbs, out.flags, out.r_profile, out.r_ideal);
  auto r_profile = dev.template alloc<float>(rows);
  auto r_ideal = dev.template alloc<double>(rows);
  dev.to_device(r_profile.get(), out.r_profile.data(), rows * sizeof(float));
  dev.to_device(r_ideal.get(), out.r_ideal.data(), rows * sizeof(double));
  if (rows > 0)
    dev.launch({{unsigned(std::clamp<int64_t>(spec.m, 1, 1 << 16))}, {kThreads}},
               RefOutputs{x, residual, weight, r_profile.get(), r_ideal.get(), out.y.get(), out.ideal.get(),
                          residual ? out.residual_out.get() : nullptr, g, steps, window});
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
  OnDevice<Device> d = compute_on(dev, spec, x.get(), spec.has_residual() ? res.get() : nullptr, weight.get(), window);
  const auto n = size_t(spec.m * spec.h);
  ReferenceResult out;
  out.profile.r = std::move(d.r_profile);
  out.ideal.r = std::move(d.r_ideal);
  out.profile.y.resize(n);
  out.ideal.y.resize(n);
  out.profile.residual.resize(spec.has_residual() ? n : 0);
  dev.to_host(out.profile.y.data(), d.y.get(), n * sizeof(uint16_t));
  dev.to_host(out.ideal.y.data(), d.ideal.get(), n * sizeof(uint16_t));
  dev.to_host(out.profile.residual.data(), d.residual_out.get(), out.profile.residual.size() * sizeof(uint16_t));
  out.near_boundary = resolve_near_boundary(spec, in, d.limbs, d.flags, out.ideal.y);
  return out;
}

}  // namespace ulpgate::norm_kernels
