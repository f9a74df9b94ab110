// The references on a device, for backends to offer (harness/gemm/device_reference.hpp,
// harness/quant/device_reference.hpp, harness/norm/device_reference.hpp,
// harness/allreduce/device_reference.hpp): on the CUDA device (the cuda backend; vendor: GEMM and
// the all-reduce), or on the host-SIMT emulator of an arch, which runs the same kernels (what the
// tests hold run_case's device path to).
#pragma once

#include <memory>

#include "harness/allreduce/device_reference.hpp"
#include "harness/gemm/device_reference.hpp"
#include "harness/norm/device_reference.hpp"
#include "harness/plugin/plugin_backend.hpp"
#include "harness/quant/device_reference.hpp"
#include "kernels/portable/arch.hpp"

namespace ulpgate {

std::unique_ptr<gemm::DeviceReference> emulated_gemm_reference(const Arch& arch);
std::unique_ptr<quant::DeviceReference> emulated_quant_reference(const Arch& arch);
std::unique_ptr<norm::DeviceReference> emulated_norm_reference(const Arch& arch);
std::unique_ptr<allreduce::DeviceReference> emulated_allreduce_reference(const Arch& arch);
#if defined(ULPGATE_HAVE_CUDA)
std::unique_ptr<gemm::DeviceReference> cuda_gemm_reference();
std::unique_ptr<quant::DeviceReference> cuda_quant_reference();
std::unique_ptr<norm::DeviceReference> cuda_norm_reference();
std::unique_ptr<allreduce::DeviceReference> cuda_allreduce_reference();
// Every family's, for plugins and libulpgate.so when ULPGATE_DEVICE_REFERENCES=cuda asks
// (plugin::set_device_references); PluginError where no CUDA device can be used.
plugin::DeviceReferences cuda_device_references();
#endif

}  // namespace ulpgate
