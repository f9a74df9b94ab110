#include "harness/backends/device_references.hpp"

#include "kernels/allreduce/reference_host.hpp"
#include "kernels/gemm/reference_host.hpp"
#include "kernels/norm/reference_host.hpp"
#include "kernels/quant/reference_host.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/allreduce/reference_gpu.hpp"
#include "kernels/norm/reference_gpu.hpp"
#include "kernels/quant/quant_bench.hpp"
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

// The case's inputs as the device RMSNorm reference takes them, and its results as Expected.
norm_kernels::RawInputs raw_inputs(const norm::Tensors& t) {
  const auto halves = [](const std::vector<std::byte>& b) {
    return std::span<const uint16_t>(reinterpret_cast<const uint16_t*>(b.data()), b.size() / 2);
  };
  return {halves(t.x), halves(t.residual), t.values.weight};
}
norm::Expected as_expected(norm_kernels::ReferenceResult r) { return {std::move(r.profile), std::move(r.ideal)}; }

// Emulated or on CUDA: compute(spec, raw inputs) is the pipeline.
template <class Compute>
class NormReference : public norm::DeviceReference {
 public:
  NormReference(std::string name, Compute compute) : name_(std::move(name)), compute_(std::move(compute)) {}
  std::string name() const override { return name_; }
  std::string declines(const norm::Case& c) const override { return norm_kernels::reference_declines(c.spec); }
  norm::Expected expected(const norm::Case& c, const norm::Tensors& in) override {
    return as_expected(compute_(c.spec, raw_inputs(in)));
  }

 private:
  std::string name_;
  Compute compute_;
};

template <class Compute>
std::unique_ptr<norm::DeviceReference> norm_reference(std::string name, Compute compute) {
  return std::make_unique<NormReference<Compute>>(std::move(name), std::move(compute));
}

// Emulated or on CUDA: compute(spec, order, inputs) is the pipeline.
template <class Compute>
class AllreduceReference : public allreduce::DeviceReference {
 public:
  AllreduceReference(std::string name, Compute compute) : name_(std::move(name)), compute_(std::move(compute)) {}
  std::string name() const override { return name_; }
  allreduce::Expected expected(const allreduce::Case& c, const allreduce::Inputs& in) override {
    allreduce_kernels::ReferenceResult r = compute_(c.spec, allreduce::summed_order(c), in);
    return allreduce::expected_from(c, std::move(r.ideal), std::move(r.ordered));
  }

 private:
  std::string name_;
  Compute compute_;
};

template <class Compute>
std::unique_ptr<allreduce::DeviceReference> allreduce_reference(std::string name, Compute compute) {
  return std::make_unique<AllreduceReference<Compute>>(std::move(name), std::move(compute));
}

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

#if defined(ULPGATE_HAVE_CUDA)
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
#endif

}  // namespace ulpgate
