// The device all-reduce reference on the host-SIMT emulator (reference_pipeline.hpp over
// host_simt::PipelineDevice): what the tests hold bit for bit to reference/allreduce.
#pragma once

#include "kernels/allreduce/reference_pipeline.hpp"
#include "kernels/portable/arch.hpp"

namespace ulpgate::allreduce_kernels {

ReferenceResult reference_host(const Arch& arch, const allreduce::Spec& spec, allreduce::Order order, const allreduce::Inputs& in);

}  // namespace ulpgate::allreduce_kernels
