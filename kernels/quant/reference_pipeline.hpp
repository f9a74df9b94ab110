// The device quantization reference's steps, written once over a pipeline device
// (kernels/portable/host_pipeline.hpp: the host-SIMT emulator; gpu_pipeline.cuh: CUDA).
#pragma once

#include <algorithm>
#include <bit>
#include <span>
#include <utility>
#include <vector>

#include "kernels/quant/reference_judge.hpp"
#include "kernels/quant/reference_plan.hpp"

namespace ulpgate::quant_kernels {

// Both results of a case whose input x is already on the device, left there: both codes and the
// stored scales (quant::Result's scales, row-major over the scale shape).
template <class Device>
struct OnDevice {
  using Bytes = decltype(std::declval<Device&>().template alloc<uint8_t>(0));
  using Floats = decltype(std::declval<Device&>().template alloc<float>(0));
  Bytes codes, ideal;
  Floats scales;
};

// The profile's steps from a value to its code, and whether its amax drops NaN (compute_from's, and
// a composition's that quantizes the rows it holds: norm_kernels::GroupCodes).
template <Format F>
CodeSteps<F> code_steps(const quant::Spec& spec) {
  return CodeSteps<F>::of(quant::clamp_rule(*spec.profile), spec.fp8_max(), spec.profile->clamp, spec.profile->cast,
                          quant::scale_rule(spec).divides);
}
inline bool ignores_nan(const quant::Spec& spec) { return spec.profile->nan == quant::NanPolicy::ignore; }

// Both results from a source of rows (reference_kernels.hpp: RawRows, or a composition's values made
// as they are loaded); `aligned`: its rows may be read in 16-byte packs where the tiles allow.
template <class Device, class Src>
OnDevice<Device> compute_from(Device& dev, const quant::Spec& spec, const Src& x, bool aligned) {
  RefGeometry g = geometry(spec);
  const auto n = size_t(g.m * g.k), tiles = size_t(spec.scale_shape().m * g.groups);
  OnDevice<Device> out{dev.template alloc<uint8_t>(n), dev.template alloc<uint8_t>(n), dev.template alloc<float>(tiles)};
  if (n == 0) return out;
  const auto aligned_to = [](const void* p, uintptr_t to) { return reinterpret_cast<uintptr_t>(p) % to == 0; };
  g.packed = g.k % kPack == 0 && g.tile_cols % kPack == 0 && aligned && aligned_to(out.codes.get(), 8) &&
             aligned_to(out.ideal.get(), 8);
  const element::ScaleRule rule = quant::scale_rule(spec);
  const bool ignore_nan = ignores_nan(spec);
  constexpr unsigned kThreads = 256;
  // A row's block (RefRowTiles, RefCodes): 128 threads idle less at its barriers than 256 (a 7168
  // row is 896 packs: 7 a thread, not 3 or 4); H100, gs128 row: 1322 against 1585 us.
  constexpr unsigned kRowThreads = 128;
  const auto row_blocks = unsigned(std::clamp<int64_t>(g.m, 1, 1 << 16));
  with_fp8(spec.format, [&](auto f) {
    constexpr Format F = decltype(f)::value;
    const auto steps = code_steps<F>(spec);
    if (one_pass(g)) {
      dev.launch({{row_blocks}, {kRowThreads}, size_t(g.groups) * sizeof(TileValues)},
                 RefRowTiles<Src, F>{x, out.scales.get(), out.codes.get(), out.ideal.get(), g, rule, steps, ignore_nan,
                                     row_tile_lanes(g)});
      return;
    }
    const std::vector<uint32_t> zeros(tiles, 0);
    auto amax = dev.template alloc<uint32_t>(tiles);
    auto values = dev.template alloc<TileValues>(tiles);
    dev.to_device(amax.get(), zeros.data(), tiles * sizeof(uint32_t));
    const int64_t units = g.m * g.groups, per_block = kThreads / 32;  // units: warps of 32 or more lanes
    // A static scale (quant.tensor) takes no amax: its tiles' values are the scale's whatever the
    // amax (ScaleRule), so the zeros stand and x is read once.
    if (spec.static_scale == 0)
      dev.launch({{unsigned(std::clamp<int64_t>((units + per_block - 1) / per_block, 1, 1 << 16))}, {kThreads}},
                 RefAmax<Src>{x, amax.get(), g, ignore_nan});
    dev.launch({{unsigned(std::clamp<int64_t>((int64_t(tiles) + kThreads - 1) / kThreads, 1, 1 << 16))}, {kThreads}},
               RefTileScales{amax.get(), out.scales.get(), values.get(), int64_t(tiles), rule});
    dev.launch({{row_blocks}, {kRowThreads}}, RefCodes<Src, F>{x, values.get(), out.codes.get(), out.ideal.get(), g, steps});
  });
  return out;
}

// Both results from x in memory, of the input dtype `input`.
template <class Device>
OnDevice<Device> compute_on(Device& dev, const quant::Spec& spec, Format input, const void* x) {
  return with_input(input, [&](auto in) {
    return compute_from(dev, spec, RawRows<decltype(in)::value>{x}, reinterpret_cast<uintptr_t>(x) % 16 == 0);
  });
}

// The profile's scales and their storage from the device to the host (codes empty).
template <class Device>
quant::Result scales_to_host(Device& dev, const quant::Spec& spec, const OnDevice<Device>& d) {
  quant::Result r{{}, std::vector<float>(size_t(spec.scale_shape().m * spec.scale_shape().g)), {}};
  dev.to_host(r.scales.data(), d.scales.get(), r.scales.size() * sizeof(float));
  if (spec.writes_scales()) r.storage = quant::pack(spec.layout, spec.scale_shape(), r.scales);
  return r;
}

// The profile's result (codes, scales and their storage) from the device to the host.
template <class Device>
quant::Result profile_to_host(Device& dev, const quant::Spec& spec, const OnDevice<Device>& d) {
  quant::Result r = scales_to_host(dev, spec, d);
  r.codes.resize(size_t(spec.m * spec.k));
  dev.to_host(r.codes.data(), d.codes.get(), r.codes.size());
  return r;
}

// The case from its input's rows on the host (uploaded a slab at a time) to both results left on
// a device of its own (made from device_args), with the input: HeldReference.
template <class Device>
class HeldOn : public HeldReference {
 public:
  template <class... DeviceArgs>
  HeldOn(const quant::Spec& spec, Format input, const InputRows& raw, DeviceArgs&&... device_args)
      : dev_(std::forward<DeviceArgs>(device_args)...),
        k_(spec.k),
        row_bytes_(raw.row_bytes),
        x_(dev_.template alloc<uint8_t>(std::size_t(raw.m) * raw.row_bytes)),
        d_(compute_on(dev_, spec, input, uploaded(raw))),
        nan_codes_(dev_.template alloc<uint8_t>(256)) {
    scales_ = scales_to_host(dev_, spec, d_);
    const std::array<uint8_t, 256> nan = nan_codes(spec.format);
    dev_.to_device(nan_codes_.get(), nan.data(), nan.size());
  }
  void rows(int64_t row0, int64_t row1, std::span<uint8_t> codes, std::span<uint8_t> ideal) override {
    const auto at = size_t(row0 * k_), n = size_t((row1 - row0) * k_);
    dev_.to_host(codes.data(), d_.codes.get() + at, n);
    dev_.to_host(ideal.data(), d_.ideal.get() + at, n);
  }
  void input(int64_t row0, int64_t row1, std::span<std::byte> out) override {
    dev_.to_host(out.data(), x_.get() + size_t(row0) * row_bytes_, size_t(row1 - row0) * row_bytes_);
  }
  const void* input_on_device() const override { return x_.get(); }
  CodeCounts count_codes(int64_t row0, int64_t row1, const uint8_t* actual) override {
    const auto at = row0 * k_, count = (row1 - row0) * k_;
    const auto c = dev::counted_on<4, kCountThreads>(dev_, count, [&](unsigned grid, dev::BlockCounts<4>* blocks) {
      dev_.launch({{grid}, {kCountThreads}}, CountCodes{actual + at, d_.codes.get() + at, d_.ideal.get() + at,
                                                         nan_codes_.get(), count, blocks});
    });
    return {c[0], c[1], c[2], c[3]};
  }

 private:
  Device dev_;  // first: the buffers below go back to its pool before it goes
  int64_t k_;
  std::size_t row_bytes_;
  typename OnDevice<Device>::Bytes x_;
  OnDevice<Device> d_;
  typename OnDevice<Device>::Bytes nan_codes_;  // [256]: 1 for the format's NaN codes

  // 2^26 bytes a slab: the host holds one slab of the input at a time.
  const void* uploaded(const InputRows& raw) {
    each_input_slab(raw, std::size_t(1) << 26, [&](int64_t row0, int64_t, std::span<const std::byte> bytes) {
      dev_.to_device(x_.get() + std::size_t(row0) * raw.row_bytes, bytes.data(), bytes.size());
    });
    return x_.get();
  }
};

// The device reference's refusal, as a UsageError, before any device work.
inline void require_reference(const quant::Spec& spec, Format input) {
  if (const std::string why = reference_declines(spec, input); !why.empty())
    throw UsageError("the device quantization reference declines: " + why);
}

}  // namespace ulpgate::quant_kernels
