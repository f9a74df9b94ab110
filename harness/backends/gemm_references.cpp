#include "harness/backends/gemm_references.hpp"

#include "kernels/gemm/reference_host.hpp"

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

#if defined(ULPGATE_HAVE_CUDA)
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

#if defined(ULPGATE_HAVE_CUDA)
std::unique_ptr<gemm::DeviceReference> cuda_gemm_reference() { return std::make_unique<CudaGemmReference>(); }
#endif

}  // namespace ulpgate
