#include "harness/backends/device_references.hpp"

#include "harness/backends/reference_adapters.hpp"
#include "kernels/allreduce/reference_host.hpp"
#include "kernels/gemm/reference_host.hpp"
#include "kernels/norm/reference_host.hpp"
#include "kernels/quant/reference_host.hpp"

namespace ulpgate {
namespace {

using namespace reference_adapters;

class EmulatedGemmReference : public gemm::DeviceReference {
 public:
  explicit EmulatedGemmReference(const Arch& arch) : arch_(arch) {}
  std::string name() const override { return "host-simt (" + std::string(arch_.name) + ")"; }
  std::string declines(const gemm::Spec& spec, const gemm::AccumModel& model) const override {
    return gemm_kernels::replay_declines(spec, model);
  }
  gemm::Ideal ideal(const gemm::Spec& spec, const gemm::Operands& in) override {
    return gemm_kernels::ideal_host(arch_, spec, in).ideal;
  }
  gemm::Replay replay(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in) override {
    return gemm_kernels::bounded_replay_host(arch_, spec, model, in);
  }
  std::unique_ptr<gemm_kernels::HeldOperands> hold(const gemm::Spec& spec, const gemm::Operands& in) override {
    return gemm_kernels::hold_operands_host(arch_, spec, in);
  }

 private:
  const Arch& arch_;
};

class EmulatedQuantReference : public quant::DeviceReference {
 public:
  explicit EmulatedQuantReference(const Arch& arch) : arch_(arch) {}
  std::string name() const override { return "host-simt (" + std::string(arch_.name) + ")"; }
  std::string declines(const quant::Case& c) const override { return quant_kernels::reference_declines(c.spec, c.input); }
  std::unique_ptr<quant_kernels::HeldReference> held(const quant::Case& c, const InputRows& raw) override {
    return quant_kernels::hold_reference_host(arch_, c.spec, c.input, raw);
  }

 private:
  const Arch& arch_;
};

}  // namespace

std::unique_ptr<gemm::DeviceReference> emulated_gemm_reference(const Arch& arch) {
  return std::make_unique<EmulatedGemmReference>(arch);
}

std::unique_ptr<quant::DeviceReference> emulated_quant_reference(const Arch& arch) {
  return std::make_unique<EmulatedQuantReference>(arch);
}

std::unique_ptr<norm::DeviceReference> emulated_norm_reference(const Arch& arch) {
  return norm_reference("host-simt (" + std::string(arch.name) + ")", [&arch](const norm::Spec& s, const norm_kernels::RawInputs& in) {
    return norm_kernels::reference_host(arch, s, in);
  });
}

std::unique_ptr<allreduce::DeviceReference> emulated_allreduce_reference(const Arch& arch) {
  return allreduce_reference("host-simt (" + std::string(arch.name) + ")",
                             [&arch](const allreduce::Spec& s, allreduce::Order o, const allreduce::Inputs& in) {
                               return allreduce_kernels::reference_host(arch, s, o, in);
                             });
}

}  // namespace ulpgate
