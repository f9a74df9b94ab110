#include "kernels/quant/reference_plan.hpp"

#include <bit>


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
  const int64_t cols = spec.tile_cols();
  return {spec.m, spec.k, spec.tile_rows(), cols, spec.scale_shape().g,
          std::has_single_bit(uint64_t(cols)) ? std::countr_zero(uint64_t(cols)) : -1};
}

}  // namespace ulpgate::quant_kernels
