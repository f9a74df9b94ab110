#include "harness/backends/device_references.hpp"

#include "kernels/gemm/reference_host.hpp"
#include "kernels/quant/reference_host.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/quant/reference_gpu.hpp"
#endif

namespace ulpgate {
namespace {

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

 private:
  const Arch& arch_;
};

// The device quantization reference's results as the harness's Expected.
quant::Expected as_expected(quant_kernels::ReferenceResult r) { return {std::move(r.profile), std::move(r.ideal), {}}; }

class EmulatedQuantReference : public quant::DeviceReference {
 public:
  explicit EmulatedQuantReference(const Arch& arch) : arch_(arch) {}
  std::string name() const override { return "host-simt (" + std::string(arch_.name) + ")"; }
  std::string declines(const quant::Case& c) const override { return quant_kernels::reference_declines(c.spec, c.input); }
  quant::Expected expected(const quant::Case& c, const quant::Inputs& in) override {
    return as_expected(quant_kernels::reference_host(arch_, c.spec, c.input, in.raw));
  }

 private:
  const Arch& arch_;
};

#if defined(ULPGATE_HAVE_CUDA)
class CudaQuantReference : public quant::DeviceReference {
 public:
  std::string name() const override { return "cuda"; }
  std::string declines(const quant::Case& c) const override { return quant_kernels::reference_declines(c.spec, c.input); }
  quant::Expected expected(const quant::Case& c, const quant::Inputs& in) override {
    return as_expected(quant_kernels::reference_gpu(c.spec, c.input, in.raw));
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
};
#endif

}  // namespace

std::unique_ptr<gemm::DeviceReference> emulated_gemm_reference(const Arch& arch) {
  return std::make_unique<EmulatedGemmReference>(arch);
}

std::unique_ptr<quant::DeviceReference> emulated_quant_reference(const Arch& arch) {
  return std::make_unique<EmulatedQuantReference>(arch);
}

#if defined(ULPGATE_HAVE_CUDA)
std::unique_ptr<gemm::DeviceReference> cuda_gemm_reference() { return std::make_unique<CudaGemmReference>(); }
std::unique_ptr<quant::DeviceReference> cuda_quant_reference() { return std::make_unique<CudaQuantReference>(); }
#endif

}  // namespace ulpgate
