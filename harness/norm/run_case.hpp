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

// A case's inputs and outputs on the host (the outputs in guarded buffers), seen as held ones:
// where a backend leaves none on a device (Backend::norm_held), the slab judge fetches these by
// rows as it would fetch a device's.
class HostOutputs : public norm_kernels::HeldOutputs {
 public:
  HostOutputs(const Spec& s, Tensors inputs);
  // The inputs with these outputs, where the backend writes.
  Buffers buffers();
  // Reads the guards, once the backend has written.
  void ran() { violations_ = outputs_.violations(); }

  void y(int64_t row0, int64_t row1, std::span<uint16_t> out) override { rows(y_, row0, row1, out); }
  void residual(int64_t row0, int64_t row1, std::span<uint16_t> out) override { rows(residual_, row0, row1, out); }
  void codes(int64_t row0, int64_t row1, std::span<uint8_t> out) override { rows(codes_, row0, row1, out); }
  std::span<const uint8_t> storage() override { return storage_; }
  void inputs(int64_t row0, int64_t row1, std::span<std::byte> x, std::span<std::byte> residual) override;
  const std::vector<guard::Violation>& violations() const override { return violations_; }

 private:
  // Rows [row0, row1) of an [M, H] tensor of `element` bytes an element (an empty one: nothing).
  void rows(std::span<const std::byte> from, size_t element, int64_t row0, int64_t row1, std::span<std::byte> out) const;
  template <class T>
  void rows(std::span<const T> from, int64_t row0, int64_t row1, std::span<T> out) const {
    rows(std::as_bytes(from), sizeof(T), row0, row1, std::as_writable_bytes(out));
  }
  template <class T>
  void rows(std::span<T> from, int64_t row0, int64_t row1, std::span<T> out) const {
    rows(std::span<const T>(from), row0, row1, out);
  }
  int64_t h_;
  Tensors inputs_;
  GuardedOutputs outputs_;
  std::span<uint16_t> y_, residual_;  // y: rms, rms-add
  std::span<uint8_t> codes_, storage_;  // rms-quant
  std::vector<guard::Violation> violations_;
};

// rms, rms-add and rms-quant whose rows have scales of their own (or a static scale) are judged
// slab_elements at a time (at least a row; 0: whole), their references computed a slab at a time
// and the inputs and outputs fetched a slab at a time from where the backend left them:
// run.inputs, run.expected and run.outputs stay empty.
inline constexpr int64_t kSlabElements = int64_t(1) << 24;
CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements = kSlabElements);

// Whether a case's rows are judged apart (above), and that judgment of outputs `out` holds (with
// the inputs the kernel read): the references of a slab at a time (on the backend's device where
// it has a norm reference: `device` says which), the counts merged; a failing case diagnosed as
// compare() does. in: the weights (x and the residual come from out).
bool judged_in_slabs(const Spec& s);
// The counts alone (a storage whose padding is not the layout's: `layout`), and the first slab
// with a bad element ({m, m}: none), for a caller that diagnoses a failure its own way.
struct SlabCounts {
  CaseResult result;
  std::pair<int64_t, int64_t> first_bad;
};
SlabCounts count_in_slabs(const Case& c, Backend& backend, const RowInputs& in, norm_kernels::HeldOutputs& out,
                          int64_t slab_elements, std::string* device);
// The bytes of the fused quantizer's scale storage (0: no quantizer, or a static scale).
int64_t scale_storage_bytes(const Spec& s);
CaseResult judge_in_slabs(const Case& c, Backend& backend, const RowInputs& in, norm_kernels::HeldOutputs& out,
                          int64_t slab_elements, std::string* device);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
double host_bytes(std::string_view id);
double bundle_bytes(std::string_view id);

}  // namespace ulpgate::norm
