// Runs one GEMM case on a backend: generate, ideal, poison, run, the claimed model's replay,
// compare, digest.
#pragma once

#include <memory>
#include <string_view>

#include "harness/core/backend.hpp"
#include "harness/core/family.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/gemm/compare.hpp"
#include "harness/gemm/identify.hpp"
#include "harness/report/bundle.hpp"
#include "reference/gemm/layout.hpp"

namespace ulpgate::gemm {

struct CaseRun {
  Operands operands;        // logical
  Stored stored;            // as the backend reads them
  Expected expected;
  GuardedOutputs outputs;   // where the backend writes D (guarded)
  std::span<uint8_t> d;     // in outputs: D's bytes
  GemmClaim claim;
  std::unique_ptr<Variant> claimed;                // the claim's model
  std::unique_ptr<Identification> identification;  // where the claim left the order open
  ErrorMaps maps;           // a failing case's error maps
  CaseResult result;
};

// A case whose kernel claims a bit-exact model is judged slab_elements of D at a time (whole rows,
// at least one; 0: whole), its references made a slab at a time; run.expected then holds none
// unless the case failed.
inline constexpr int64_t kSlabElements = int64_t(1) << 25;
CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements = kSlabElements);

// "claims fp32-fma (bit-exact); ran: ..." (CaseResult::note).
std::string claim_text(const GemmClaim& claim);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
double host_bytes(std::string_view id);

}  // namespace ulpgate::gemm
