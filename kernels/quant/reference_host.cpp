#include "kernels/quant/reference_host.hpp"

#include "kernels/portable/host_pipeline.hpp"
#include "kernels/quant/reference_pipeline.hpp"

namespace ulpgate::quant_kernels {

ReferenceResult reference_host(const Arch& arch, const quant::Spec& spec, Format input, std::span<const std::byte> raw) {
  host_simt::PipelineDevice dev(arch);
  return reference_on(dev, spec, input, raw);
}

}  // namespace ulpgate::quant_kernels
