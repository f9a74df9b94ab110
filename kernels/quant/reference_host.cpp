#include "kernels/quant/reference_host.hpp"

#include "kernels/portable/host_pipeline.hpp"
#include "kernels/quant/reference_pipeline.hpp"

namespace ulpgate::quant_kernels {

std::unique_ptr<HeldReference> hold_reference_host(const Arch& arch, const quant::Spec& spec, Format input,
                                                   const InputRows& raw) {
  require_reference(spec, input);
  return std::make_unique<HeldOn<host_simt::PipelineDevice>>(spec, input, raw, arch);
}

ReferenceResult reference_host(const Arch& arch, const quant::Spec& spec, Format input, std::span<const std::byte> raw) {
  return hold_reference_host(arch, spec, input, InputRows::of(raw, spec.m))->whole(spec.m, spec.k);
}

}  // namespace ulpgate::quant_kernels
