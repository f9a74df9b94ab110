// The device quantization reference's steps, written once over a pipeline device
// (kernels/portable/host_pipeline.hpp: the host-SIMT emulator; gpu_pipeline.cuh: CUDA).
#pragma once

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "kernels/quant/reference_plan.hpp"

namespace ulpgate::quant_kernels {

// Both results of a case whose input x is already on the device: the codes stay there (codes,
// ideal), the scales and their storage come back (profile, its codes empty).
template <class Device>
struct OnDevice {
  using Bytes = decltype(std::declval<Device&>().template alloc<uint8_t>(0));
  Bytes codes, ideal;
  quant::Result profile;
};

template <class Device>
OnDevice<Device> compute_on(Device& dev, const quant::Spec& spec, Format input, const void* x) {
  const RefGeometry g = geometry(spec);
  const auto n = size_t(g.m * g.k), tiles = size_t(spec.scale_shape().m * g.groups);
  std::vector<uint32_t> bits(tiles, 0);
  auto amax = dev.template alloc<uint32_t>(tiles);
  dev.to_device(amax.get(), bits.data(), tiles * sizeof(uint32_t));
  constexpr unsigned kThreads = 256;
  if (n > 0)
    with_input(input, [&](auto in) {
      const int64_t units = g.m * g.groups, per_block = kThreads / 32;  // units: warps of 32 or more lanes
      const auto blocks = unsigned(std::clamp<int64_t>((units + per_block - 1) / per_block, 1, 1 << 16));
      dev.launch({{blocks}, {kThreads}},
                 RefAmax<decltype(in)::value>{x, amax.get(), g, spec.profile->nan == quant::NanPolicy::ignore});
    });
  dev.to_host(bits.data(), amax.get(), tiles * sizeof(uint32_t));
  OnDevice<Device> out{dev.template alloc<uint8_t>(n), dev.template alloc<uint8_t>(n), {}};
  const std::vector<float> factors = scales_from_amax(spec, bits, out.profile);
  auto factor = dev.template alloc<float>(tiles), scale = dev.template alloc<float>(tiles);
  dev.to_device(factor.get(), factors.data(), tiles * sizeof(float));
  dev.to_device(scale.get(), out.profile.scales.data(), tiles * sizeof(float));
  if (n > 0)
    with_input(input, [&](auto in) {
      with_fp8(spec.format, [&](auto f) {
        constexpr Format F = decltype(f)::value;
        const float max = spec.fp8_max();
        const auto blocks = unsigned(std::clamp<int64_t>(g.m, 1, 1 << 16));
        dev.launch({{blocks}, {kThreads}},
                   RefCodes<decltype(in)::value, F>{x, factor.get(), scale.get(), out.codes.get(), out.ideal.get(), g,
                                                    quant::divides(spec), quant::clamp_rule(*spec.profile), max,
                                                    spec.profile->clamp ? double(max) : 0.0,
                                                    FastRneCast<F>(spec.profile->cast)});
      });
    });
  return out;
}

// The case from its input bytes on the host to both results on the host.
template <class Device>
ReferenceResult reference_on(Device& dev, const quant::Spec& spec, Format input, std::span<const std::byte> raw) {
  if (const std::string why = reference_declines(spec, input); !why.empty())
    throw UsageError("the device quantization reference declines: " + why);
  auto x = dev.template alloc<std::byte>(raw.size());
  dev.to_device(x.get(), raw.data(), raw.size());
  OnDevice<Device> d = compute_on(dev, spec, input, x.get());
  const auto n = size_t(spec.m * spec.k);
  ReferenceResult r{std::move(d.profile), std::vector<uint8_t>(n)};
  r.profile.codes.resize(n);
  dev.to_host(r.profile.codes.data(), d.codes.get(), n);
  dev.to_host(r.ideal.data(), d.ideal.get(), n);
  return r;
}

}  // namespace ulpgate::quant_kernels
