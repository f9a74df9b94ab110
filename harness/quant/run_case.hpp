// Runs one quantization case on a backend: generate, reference, poison, run, compare, digest.
#pragma once

#include <string_view>

#include "harness/core/backend.hpp"
#include "harness/core/family.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/quant/compare.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate::quant {

struct CaseRun {
  Inputs inputs;
  Expected expected;  // empty where the references stayed on the device
  GuardedOutputs outputs;           // where the backend writes (guarded); empty as `expected` is
  std::span<uint8_t> codes, storage;  // in outputs: what the backend wrote
  CaseResult result;
};

// A case's outputs on the host, in guarded buffers, seen as held ones: where a backend leaves
// none on a device (Backend::quant_held), compare_held fetches these by rows as it would fetch
// a device's.
class HostOutputs : public quant_kernels::HeldOutputs {
 public:
  explicit HostOutputs(const Spec& s);
  // Where the backend writes.
  std::span<uint8_t> codes_out() { return codes_; }
  std::span<uint8_t> storage_out() { return storage_; }
  // Reads the guards, once the backend has written.
  void ran() { violations_ = outputs_.violations(); }

  void codes(int64_t row0, int64_t row1, std::span<uint8_t> out) override;
  std::span<const uint8_t> storage() const override { return storage_; }
  const std::vector<guard::Violation>& violations() const override { return violations_; }

 private:
  int64_t k_;
  GuardedOutputs outputs_;
  std::span<uint8_t> codes_, storage_;
  std::vector<guard::Violation> violations_;
};

// With a device reference its results stay on the device, as do the backend's outputs where it
// leaves them there, and the codes are judged a slab of about slab_elements at a time (0: the
// references fetched whole into `expected` and the outputs here, as a bundle needs them).
inline constexpr int64_t kSlabElements = int64_t(1) << 24;
CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements = kSlabElements);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
double host_bytes(std::string_view id);

}  // namespace ulpgate::quant
