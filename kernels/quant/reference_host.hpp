// The device quantization reference on the host-SIMT emulator (reference_pipeline.hpp over
// host_simt::PipelineDevice): what the tests hold bit for bit to reference/quant.
#pragma once

#include <memory>
#include <span>

#include "kernels/portable/arch.hpp"
#include "kernels/quant/reference_plan.hpp"

namespace ulpgate::quant_kernels {

ReferenceResult reference_host(const Arch& arch, const quant::Spec& spec, Format input, std::span<const std::byte> raw);
// The same from the input's rows, left in the emulator's memory and fetched by rows.
std::unique_ptr<HeldReference> hold_reference_host(const Arch& arch, const quant::Spec& spec, Format input,
                                                   const InputRows& raw);

}  // namespace ulpgate::quant_kernels
