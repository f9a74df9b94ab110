#include "kernels/norm/reference_host.hpp"

#include "kernels/norm/reference_pipeline.hpp"
#include "kernels/portable/host_pipeline.hpp"

namespace ulpgate::norm_kernels {

ReferenceResult reference_host(const Arch& arch, const norm::Spec& spec, const RawInputs& in, double window,
                               RowPasses passes) {
  host_simt::PipelineDevice dev(arch);
  return reference_on(dev, spec, in, window, passes);
}

}  // namespace ulpgate::norm_kernels
