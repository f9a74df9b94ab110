#include "kernels/quant/reference_plan.hpp"

namespace ulpgate::quant_kernels {

std::string reference_declines(const quant::Spec& spec, Format input) {
  if (spec.op == quant::Op::silu_mul) return "quant.silu-mul's exp is computed on the host";
  if (spec.format != Format::e4m3fn && spec.format != Format::e4m3fnuz)
    return "no device reference for " + std::string(format_name(spec.format));
  if (input != Format::bf16 && input != Format::fp16 && input != Format::fp32)
    return "no device reference for " + std::string(format_name(input)) + " inputs";
  if (spec.pow2_scales() && spec.profile->pow2 == quant::Pow2Rule::exp2_ceil_log2)
    return "the profile's exp2(ceil(log2 s)) takes the host's log2";
  if (!has_fast_rne(Conversion{spec.format, spec.profile->cast}))
    return "the profile's cast has no fast RNE path (the host's generic encode decides it)";
  return {};
}

RefGeometry geometry(const quant::Spec& spec) {
  return RefGeometry::of(spec.m, spec.k, spec.tile_rows(), spec.tile_cols(), spec.scale_shape().g);
}

}  // namespace ulpgate::quant_kernels
