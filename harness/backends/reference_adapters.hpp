// The device references' adapters to the harness's DeviceReference interfaces, shared by the
// emulated ones (device_references.cpp) and CUDA's (cuda_references.cpp, which libulpgate.so links
// without the host-SIMT emulation).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "harness/backends/device_references.hpp"
#include "kernels/allreduce/reference_pipeline.hpp"
#include "kernels/norm/reference_plan.hpp"
#include "kernels/quant/reference_plan.hpp"

namespace ulpgate::reference_adapters {

// The case's inputs as the device RMSNorm reference takes them, and its results as Expected.
inline norm_kernels::RawInputs raw_inputs(const norm::Tensors& t) {
  const auto halves = [](const std::vector<std::byte>& b) {
    return std::span<const uint16_t>(reinterpret_cast<const uint16_t*>(b.data()), b.size() / 2);
  };
  return {halves(t.x), halves(t.residual), t.values.weight};
}
inline norm::Expected as_expected(norm_kernels::ReferenceResult r) { return {std::move(r.profile), std::move(r.ideal)}; }

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

}  // namespace ulpgate::reference_adapters
