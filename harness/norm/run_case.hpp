// Runs one RMSNorm case on a backend: generate, reference, poison, run, compare, digest.
#pragma once

#include <string_view>

#include "harness/core/backend.hpp"
#include "harness/core/family.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/norm/compare.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate::norm {

struct CaseRun {
  Tensors inputs;
  Expected expected;
  GuardedOutputs outputs;               // where the backend writes (guarded)
  std::span<uint16_t> y, residual;      // in outputs: what the backend wrote (rms, rms-add)
  std::span<uint8_t> codes, storage;    // (rms-quant)
  CaseResult result;
};

// rms's and rms-add's outputs on the host, in guarded buffers, seen as held ones: where a
// backend leaves none on a device (Backend::norm_held), the slab judge fetches these by rows as
// it would fetch a device's.
class HostOutputs : public norm_kernels::HeldOutputs {
 public:
  explicit HostOutputs(const Spec& s);
  // `inputs` with these outputs, where the backend writes.
  Buffers buffers(const Buffers& inputs);
  // Reads the guards, once the backend has written.
  void ran() { violations_ = outputs_.violations(); }

  void y(int64_t row0, int64_t row1, std::span<uint16_t> out) override { rows(y_, row0, row1, out); }
  void residual(int64_t row0, int64_t row1, std::span<uint16_t> out) override { rows(residual_, row0, row1, out); }
  const std::vector<guard::Violation>& violations() const override { return violations_; }

 private:
  void rows(std::span<const uint16_t> from, int64_t row0, int64_t row1, std::span<uint16_t> out) const;
  int64_t h_;
  GuardedOutputs outputs_;
  std::span<uint16_t> y_, residual_;
  std::span<uint8_t> codes_, storage_;  // empty, guarded: a write there is caught
  std::vector<guard::Violation> violations_;
};

// rms and rms-add are judged slab_elements at a time (at least a row; 0: whole), their references
// computed a slab at a time and the outputs fetched a slab at a time from where the backend left
// them: run.expected, run.outputs and the inputs' x and residual values stay empty.
inline constexpr int64_t kSlabElements = int64_t(1) << 24;
CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements = kSlabElements);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
double host_bytes(std::string_view id);
double bundle_bytes(std::string_view id);

}  // namespace ulpgate::norm
