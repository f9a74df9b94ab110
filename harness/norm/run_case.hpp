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

// rms and rms-add are judged slab_elements at a time (at least a row; 0: whole), their references
// computed a slab at a time: run.expected and the inputs' x and residual values stay empty.
inline constexpr int64_t kSlabElements = int64_t(1) << 24;
CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements = kSlabElements);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
double host_bytes(std::string_view id);
double bundle_bytes(std::string_view id);

}  // namespace ulpgate::norm
