// The device RMSNorm reference on the host-SIMT emulator (reference_pipeline.hpp over
// host_simt::PipelineDevice): what the tests hold bit for bit to reference/norm.
#pragma once

#include "kernels/norm/reference_plan.hpp"
#include "kernels/portable/arch.hpp"

namespace ulpgate::norm_kernels {

ReferenceResult reference_host(const Arch& arch, const norm::Spec& spec, const RawInputs& in, double window = 0x1p-40,
                               RowPasses passes = RowPasses::one_where_decided);

}  // namespace ulpgate::norm_kernels
