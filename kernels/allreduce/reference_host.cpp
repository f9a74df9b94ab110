#include "kernels/allreduce/reference_host.hpp"

#include "kernels/portable/host_pipeline.hpp"

namespace ulpgate::allreduce_kernels {

ReferenceResult reference_host(const Arch& arch, const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in) {
  host_simt::PipelineDevice dev(arch);
  return reference_on(dev, spec, order, in);
}

}  // namespace ulpgate::allreduce_kernels
