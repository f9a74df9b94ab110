// The device quantization reference on CUDA (reference_pipeline.hpp over gpu::PipelineDevice):
// inputs from host memory, both results back to it. Throws UsageError for a spec it declines
// (reference_declines) and QuantError for a CUDA failure.
#pragma once

#include <memory>
#include <span>

#include "kernels/quant/quant_bench.hpp"
#include "kernels/quant/reference_plan.hpp"

namespace ulpgate::quant_kernels {

ReferenceResult reference_gpu(const quant::Spec& spec, Format input, std::span<const std::byte> raw);
// The same from the input's rows, left on the device and fetched by rows (its `rows` and `input`
// throw QuantError for a CUDA failure).
std::unique_ptr<HeldReference> hold_reference_gpu(const quant::Spec& spec, Format input, const InputRows& raw);

// The reference's device work for `ulpgate bench`: both passes and the scales between them (the
// amax's trip to the host and back included) on an input filled on the device, as the kernels'
// rows are timed (quant_bench.hpp). Throws BenchError.
Timing time_reference_gpu(const quant::Spec& spec, Format input, int reps);

}  // namespace ulpgate::quant_kernels
