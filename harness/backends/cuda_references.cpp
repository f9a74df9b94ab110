// The references on the CUDA device (device_references.hpp), apart from the emulated ones so that
// libulpgate.so links these alone (no host-SIMT emulation, no Boost.Context).
#include "harness/backends/device_references.hpp"

#include "harness/backends/reference_adapters.hpp"
#include "kernels/allreduce/reference_gpu.hpp"
#include "kernels/gemm/reference_gpu.hpp"
#include "kernels/norm/reference_gpu.hpp"
#include "kernels/portable/gpu_status.hpp"
#include "kernels/quant/reference_gpu.hpp"

namespace ulpgate {
namespace {

using namespace reference_adapters;

class CudaQuantReference : public quant::DeviceReference {
 public:
  std::string name() const override { return "cuda"; }
  std::string declines(const quant::Case& c) const override { return quant_kernels::reference_declines(c.spec, c.input); }
  std::unique_ptr<quant_kernels::HeldReference> held(const quant::Case& c, const InputRows& raw) override {
    return quant_kernels::hold_reference_gpu(c.spec, c.input, raw);
  }
};

class CudaGemmReference : public gemm::DeviceReference {
 public:
  std::string name() const override { return "cuda"; }
  std::string declines(const gemm::Spec& spec, const gemm::AccumModel& model) const override {
    return gemm_kernels::replay_declines(spec, model);
  }
  gemm::Ideal ideal(const gemm::Spec& spec, const gemm::Operands& in) override {
    return gemm_kernels::ideal_gpu(spec, in).ideal;
  }
  gemm::Replay replay(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in) override {
    return gemm_kernels::bounded_replay_gpu(spec, model, in);
  }
  std::unique_ptr<gemm_kernels::HeldOperands> hold(const gemm::Spec& spec, const gemm::Operands& in) override {
    return gemm_kernels::hold_operands_gpu(spec, in);
  }
};

}  // namespace

std::unique_ptr<allreduce::DeviceReference> cuda_allreduce_reference() {
  return allreduce_reference("cuda", [](const allreduce::Spec& s, allreduce::Order o, const allreduce::Inputs& in) {
    return allreduce_kernels::reference_gpu(s, o, in);
  });
}
std::unique_ptr<gemm::DeviceReference> cuda_gemm_reference() { return std::make_unique<CudaGemmReference>(); }
std::unique_ptr<quant::DeviceReference> cuda_quant_reference() { return std::make_unique<CudaQuantReference>(); }
std::unique_ptr<norm::DeviceReference> cuda_norm_reference() {
  return norm_reference("cuda", [](const norm::Spec& s, const norm_kernels::RawInputs& in) { return norm_kernels::reference_gpu(s, in); });
}
plugin::DeviceReferences cuda_device_references() {
  if (const std::string why = quant_kernels::gpu_unavailable_reason(); !why.empty())
    throw plugin::PluginError("ULPGATE_DEVICE_REFERENCES=cuda: " + why);
  return {cuda_quant_reference(), cuda_norm_reference(), cuda_gemm_reference(), cuda_allreduce_reference()};
}

}  // namespace ulpgate
