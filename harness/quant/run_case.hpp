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
  GuardedOutputs outputs;           // where the backend writes (guarded)
  std::span<uint8_t> codes, storage;  // in outputs: what the backend wrote
  CaseResult result;
};

// With a device reference its results stay on the device and the codes are judged a slab of
// about slab_elements at a time (0: fetched whole into `expected`, as a bundle needs them).
inline constexpr int64_t kSlabElements = int64_t(1) << 24;
CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements = kSlabElements);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
double host_bytes(std::string_view id);

}  // namespace ulpgate::quant
