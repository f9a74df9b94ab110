// The device RMSNorm reference's steps, written once over a pipeline device
// (kernels/portable/host_pipeline.hpp: the host-SIMT emulator; gpu_pipeline.cuh: CUDA).
#pragma once

#include <algorithm>
#include <bit>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/norm/reference_fast.hpp"
#include "kernels/norm/reference_kernels.hpp"
#include "kernels/norm/reference_plan.hpp"
#include "kernels/quant/reference_pipeline.hpp"
#include "reference/parallel.hpp"

namespace ulpgate::norm_kernels {

// Both results of a case whose inputs are already on the device, left there: y, the ideal y
// (kNearMark where the host decides), the written-back residual, each row's exact sum and r. For
// rms-quant no ideal y: the quantization reference's results, and the quantizer's inputs (y's bits
// where it sees T(y), else `values`) where a pass stores them (not NormRows or GroupCodes, which
// make T(y) as they load z: quantizer_inputs makes them on the host from r).
template <class Device>
struct OnDevice {
  using Halves = decltype(std::declval<Device&>().template alloc<uint16_t>(0));
  using Floats = decltype(std::declval<Device&>().template alloc<float>(0));
  Halves y, ideal, residual_out;
  decltype(std::declval<Device&>().template alloc<uint64_t>(0)) limbs;
  decltype(std::declval<Device&>().template alloc<uint32_t>(0)) flags;
  Floats r_profile;
  decltype(std::declval<Device&>().template alloc<double>(0)) r_ideal;
  Floats values;
  std::optional<quant_kernels::OnDevice<Device>> quant;  // rms-quant
  bool exact_sums = true;  // limbs and flags made (RefRowsFast decided every row: not)
  bool inputs_made = true;  // rms-quant: y or values hold the quantizer's inputs
};

// x and residual (nullptr without one): the dtype's bits; weight: [h] floats. `window`:
// norm::element::ideal_y's (the reference's 2^-40; a test widens it to send many elements to the host).
template <class Device>
OnDevice<Device> compute_on(Device& dev, const norm::Spec& spec, const uint16_t* x, const uint16_t* residual,
                            const float* weight, double window = 0x1p-40, RowPasses passes = RowPasses::one_where_decided) {
  const auto n = size_t(spec.m * spec.h), rows = size_t(spec.m);
  const norm::element::Steps steps = spec.steps();
  const bool quantizes = spec.quantizes(), quantizes_y = quantizes && steps.quantizes_y;  // rms-quant's y: T(y)'s bits
  // T(y) of T values z (x, or the residual sum RefSums keeps), made where it is quantized.
  const bool norm_rows = quantizes_y && (!residual || steps.rounds_residual);
  const norm::ExactSum eps = eps_term(spec);  // checked exact (both paths' D adds it)
  OnDevice<Device> out{dev.template alloc<uint16_t>(!quantizes || (quantizes_y && !norm_rows) ? n : 0),
                       dev.template alloc<uint16_t>(quantizes ? 0 : n),
                       dev.template alloc<uint16_t>(residual ? n : 0),
                       dev.template alloc<uint64_t>(rows * norm::ExactSum::kLimbs),
                       dev.template alloc<uint32_t>(rows),
                       dev.template alloc<float>(rows),
                       dev.template alloc<double>(rows),
                       dev.template alloc<float>(quantizes && !quantizes_y ? n : 0),
                       std::nullopt};
  out.inputs_made = !norm_rows;
  const auto launch = [&]<Format T>(std::integral_constant<Format, T>) {
    const RefShape g{spec.m, spec.h};
    uint16_t *y = out.y.get(), *ideal = out.ideal.get(), *residual_out = residual ? out.residual_out.get() : nullptr;
    // One pass where every row's r is decided from its estimate (RefRowsFast, Outputs writing the
    // row's results from it): norm.rms, and rms-quant of T(y) in one-row groups; else the split
    // passes.
    const auto one_pass = [&](const auto& outputs) {
      auto undecided = dev.template alloc<uint32_t>(1);
      uint32_t left = 0;
      dev.to_device(undecided.get(), &left, sizeof left);
      dev.launch({{unsigned(std::clamp<int64_t>(spec.m, 1, 1 << 16))}, {kRowThreads}},
                 RefRowsFast<T, std::decay_t<decltype(outputs)>>{x, out.r_profile.get(), out.r_ideal.get(), undecided.get(), g,
                                                                 int(std::bit_width(uint64_t(spec.h))), norm::r_rule(*spec.profile),
                                                                 eps_times_h(spec.profile->eps_added, spec.h), outputs});
      dev.to_host(&left, undecided.get(), sizeof left);
      out.exact_sums = left != 0;
      return left == 0;
    };
    const bool one_pass_fits = passes == RowPasses::one_where_decided && !residual && RefRowsFast<T, RowOutputs<T>>::fits(spec.h);
    if (one_pass_fits && !quantizes && packed_rows(spec.h, x, weight, y, ideal) &&
        one_pass(RowOutputs<T>{weight, y, ideal, steps, window, RefOutputs<T, false>::margin_of(!spec.fp32_weight, window)}))
      return;
    if (one_pass_fits && quantizes_y && packed_rows(spec.h, x, weight)) {
      const quant::Profile qp = spec.quant_row();
      const quant::Spec qs = spec.quant_spec(qp);
      const quant_kernels::RefGeometry qg = quant_kernels::geometry(qs);
      if (qg.tile_rows == 1 && group_codes_fit(spec.h, qg.tile_cols)) {
        quant_kernels::OnDevice<Device> q{dev.template alloc<uint8_t>(n), dev.template alloc<uint8_t>(0),
                                          dev.template alloc<float>(rows * size_t(qg.groups))};
        bool decided = false;
        quant_kernels::with_fp8(qs.format, [&]<Format F>(std::integral_constant<Format, F>) {
          decided = one_pass(GroupCodes<T, F>{NormRows<T>{x, weight, nullptr, steps}, q.scales.get(), q.codes.get(),
                                              quant::scale_rule(qs), quant_kernels::code_steps<F>(qs),
                                              std::countr_zero(uint64_t(qg.tile_cols / 8)),
                                              quant_kernels::ignores_nan(qs)});
        });
        if (decided) {
          out.quant.emplace(std::move(q));
          return;
        }
      }
    }
    // Where z is the written-back residual T(x + residual), RefSums stores it and pass 3 reads it
    // as its x, with no residual: 2 bytes an element read where x and the residual were 4 and
    // written before, and no z_of an element in pass 3.
    const bool z_kept = residual && steps.rounds_residual;
    const auto sums = [&]<bool Residual>(std::bool_constant<Residual>) {
      dev.launch({{unsigned(std::clamp<int64_t>(spec.m, 1, 1 << 16))}, {kRowThreads}},
                 RefSums<T, Residual>{x, residual, out.limbs.get(), out.flags.get(), z_kept ? residual_out : nullptr, g,
                                      int(std::bit_width(uint64_t(spec.h))), steps, packed_rows(spec.h, x, residual, z_kept ? residual_out : nullptr)});
    };
    if (residual) sums(std::true_type{});
    else sums(std::false_type{});
    dev.launch({{unsigned((spec.m + kRThreads - 1) / kRThreads), 2}, {kRThreads}},
               RefR{out.limbs.get(), out.flags.get(), out.r_profile.get(), out.r_ideal.get(), spec.m, spec.h,
                    norm::r_rule(*spec.profile), eps});
    const uint16_t* x3 = z_kept ? residual_out : x;
    const uint16_t* residual3 = z_kept ? nullptr : residual;
    if (z_kept) residual_out = nullptr;
    const auto outputs = [&]<bool Residual>(std::bool_constant<Residual>) {
      // rms-quant whose quantizer sees T(y) of T values z: the quantization reference makes T(y) as
      // it loads z (NormRows).
      if (quantizes_y && !Residual) {
        const NormRows<T> rows{x3, weight, out.r_profile.get(), steps};
        const quant::Profile qp = spec.quant_row();
        out.quant.emplace(quant_kernels::compute_from(dev, spec.quant_spec(qp), rows, packed_rows(spec.h, x3, weight)));
        return;
      }
      if (quantizes) {  // the quantizer's inputs instead of y and the ideal y
        float* values = out.values.get();
        const RefValues<T, Residual> pass{x3, residual3, weight, out.r_profile.get(), y, values, residual_out, g, steps,
                                          packed_rows(spec.h, x3, residual3, weight, y, values, residual_out)};
        dev.launch({{unsigned((pass.per_row() + kOutputThreads - 1) / kOutputThreads), unsigned(std::min(spec.m, kOutputRowBlocks))},
                    {kOutputThreads}},
                   pass);
        return;
      }
      const bool exact_products = !spec.fp32_weight && (!residual || steps.rounds_residual);  // z and w T values
      const RefOutputs<T, Residual> pass{x3, residual3, weight, out.r_profile.get(), out.r_ideal.get(), y, ideal, residual_out, g,
                                         steps, window, packed_rows(spec.h, x3, residual3, weight, y, ideal, residual_out),
                                         RefOutputs<T, Residual>::margin_of(exact_products, window)};
      dev.launch({{unsigned((pass.per_row() + kOutputThreads - 1) / kOutputThreads), unsigned(std::min(spec.m, kOutputRowBlocks))},
                  {kOutputThreads}},
                 pass);
    };
    if (residual3) outputs(std::true_type{});
    else outputs(std::false_type{});
  };
  if (rows > 0) {
    if (spec.dtype == Format::bf16) launch(std::integral_constant<Format, Format::bf16>{});
    else launch(std::integral_constant<Format, Format::fp16>{});
  }
  if (quantizes && !out.quant) {
    const quant::Profile qp = spec.quant_row();
    const void* values = quantizes_y ? static_cast<const void*>(out.y.get()) : out.values.get();
    out.quant.emplace(quant_kernels::compute_on(dev, spec.quant_spec(qp), quantizes_y ? spec.dtype : Format::fp32, values));
  }
  return out;
}

// rms-quant's quantizer inputs from each row's profile r, where the device made them as it loaded
// z and kept none (NormRows, GroupCodes): the host reference's element steps, which those hold to.
inline std::vector<float> quantizer_inputs(const norm::Spec& spec, const RawInputs& in, const std::vector<float>& r) {
  const norm::element::Steps steps = spec.steps();
  std::vector<float> v(size_t(spec.m * spec.h));
  parallel_for_each(spec.m, 64, [&](int64_t row) {
    for (int64_t col = 0; col < spec.h; ++col) {
      const size_t i = size_t(row * spec.h + col);
      const float x = norm::element::widen(spec.dtype, in.x[i]);
      const float res = steps.has_residual ? norm::element::widen(spec.dtype, in.residual[i]) : 0.0f;
      v[i] = norm::element::quantizer_input(steps, norm::element::z_of(steps, x, res), in.weight[size_t(col)], r[size_t(row)]);
    }
  });
  return v;
}

// The case from its inputs on the host to both results on the host.
template <class Device>
ReferenceResult reference_on(Device& dev, const norm::Spec& spec, const RawInputs& in, double window = 0x1p-40,
                             RowPasses passes = RowPasses::one_where_decided) {
  if (const std::string why = reference_declines(spec); !why.empty())
    throw UsageError("the device RMSNorm reference declines: " + why);
  const auto upload = [&](auto span) {
    auto d = dev.template alloc<typename decltype(span)::value_type>(span.size());
    dev.to_device(d.get(), span.data(), span.size_bytes());
    return d;
  };
  auto x = upload(in.x), res = upload(in.residual);
  auto weight = upload(in.weight);
  const OnDevice<Device> d = compute_on(dev, spec, x.get(), spec.has_residual() ? res.get() : nullptr, weight.get(), window, passes);
  const auto n = size_t(spec.m * spec.h), rows = size_t(spec.m);
  const auto download = [&](auto& to, const auto& from, size_t count) {
    to.resize(count);
    dev.to_host(to.data(), from.get(), count * sizeof(to[0]));
  };
  ReferenceResult out;
  download(out.profile.r, d.r_profile, rows);
  download(out.ideal.r, d.r_ideal, rows);
  download(out.profile.residual, d.residual_out, spec.has_residual() ? n : 0);
  download(out.limbs, d.limbs, d.exact_sums ? rows * norm::ExactSum::kLimbs : 0);
  download(out.flags, d.flags, d.exact_sums ? rows : 0);
  if (spec.quantizes()) {
    if (!d.inputs_made) {
      out.profile.v = quantizer_inputs(spec, in, out.profile.r);
    } else if (spec.steps().quantizes_y) {
      std::vector<uint16_t> y;
      download(y, d.y, n);
      out.profile.v.resize(n);
      std::transform(y.begin(), y.end(), out.profile.v.begin(), [&](uint16_t b) { return norm::element::widen(spec.dtype, b); });
    } else {
      download(out.profile.v, d.values, n);
    }
    const quant::Profile qp = spec.quant_row();
    out.profile.quant = quant_kernels::profile_to_host(dev, spec.quant_spec(qp), *d.quant);
    return out;
  }
  download(out.profile.y, d.y, n);
  download(out.ideal.y, d.ideal, n);
  out.near_boundary = resolve_near_boundary(spec, in, out.limbs, out.flags, out.ideal.y);
  return out;
}

}  // namespace ulpgate::norm_kernels
