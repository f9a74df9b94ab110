// The host's part of the device quantization reference (reference_kernels.hpp): which specs it
// computes and their tiling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/quant/held_reference.hpp"
#include "kernels/quant/reference_kernels.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::quant_kernels {

// Why the device reference does not compute this spec (empty: it does): quant.silu-mul (its exp
// is the host's), a scale rounded by exp2(ceil(log2 s)) (libm's log2 is the host's), a cast
// without the fast RNE path, a format or input dtype it has no kernel for.
std::string reference_declines(const quant::Spec& spec, Format input);

RefGeometry geometry(const quant::Spec& spec);

// fn(std::integral_constant<Format, f>) for the input dtypes and the fp8 formats with a kernel
// (with_input returns fn's result).
template <class Fn>
decltype(auto) with_input(Format f, Fn&& fn) {
  if (f == Format::fp32) return fn(std::integral_constant<Format, Format::fp32>{});
  if (f == Format::fp16) return fn(std::integral_constant<Format, Format::fp16>{});
  return fn(std::integral_constant<Format, Format::bf16>{});
}
template <class Fn>
void with_fp8(Format f, Fn&& fn) {
  if (f == Format::e4m3fnuz) fn(std::integral_constant<Format, Format::e4m3fnuz>{});
  else fn(std::integral_constant<Format, Format::e4m3fn>{});
}

}  // namespace ulpgate::quant_kernels
