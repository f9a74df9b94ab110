#include "kernels/quant/reference_plan.hpp"

#include "reference/parallel.hpp"

namespace ulpgate::quant_kernels {

std::string reference_declines(const quant::Spec& spec, Format input) {
  if (spec.op == quant::Op::silu_mul) return "quant.silu-mul's exp is computed on the host";
  if (spec.format != Format::e4m3fn && spec.format != Format::e4m3fnuz)
    return "no device reference for " + std::string(format_name(spec.format));
  if (input != Format::bf16 && input != Format::fp16 && input != Format::fp32)
    return "no device reference for " + std::string(format_name(input)) + " inputs";
  if (!has_fast_rne(Conversion{spec.format, spec.profile->cast}))
    return "the profile's cast has no fast RNE path (the host's generic encode decides it)";
  return {};
}

RefGeometry geometry(const quant::Spec& spec) {
  return {spec.m, spec.k, spec.tile_rows(), spec.tile_cols(), spec.scale_shape().g};
}

std::vector<float> scales_from_amax(const quant::Spec& spec, std::span<const uint32_t> amax_bits, quant::Result& profile) {
  const auto tiles = int64_t(amax_bits.size());
  profile.scales.resize(size_t(tiles));
  std::vector<float> factors(static_cast<size_t>(tiles));
  parallel_for_each(tiles, int64_t(1) << 14, [&](int64_t i) {
    const auto t = size_t(i);
    const float amax = quant::amax_of_bits(amax_bits[t]);
    profile.scales[t] = quant::group_scale(spec, amax);
    factors[t] = quant::group_factor(spec, amax, profile.scales[t]).v;
  });
  if (spec.writes_scales()) profile.storage = quant::pack(spec.layout, spec.scale_shape(), profile.scales);
  return factors;
}

}  // namespace ulpgate::quant_kernels
