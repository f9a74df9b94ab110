// Runs one all-reduce case on a backend: generate every rank's input, reference, place the views
// in guarded storage, poison the outputs, run the world twice, check what must always hold (the
// storage around each view, the inputs out of place, a repeated run identical), compare, digest.
#pragma once

#include <string_view>

#include "harness/allreduce/compare.hpp"
#include "harness/core/backend.hpp"
#include "harness/core/family.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate::allreduce {

struct CaseRun {
  Inputs inputs;
  Expected expected;
  GuardedOutputs storage;               // every rank's input and output storage (guarded)
  std::vector<RankBuffers> buffers;     // in storage
  Outputs outputs;                      // each rank's output view after the first run
  AllreduceClaim claim;
  CaseResult result;
};

CaseRun run_case(const Case& c, Backend& backend);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
// Case::parse(id).id(), or FusedCase's for allreduce.rms / allreduce.rms-quant ids.
std::string canonical_id(std::string_view id);
double host_bytes(std::string_view id);
// Why the backend does not run the case (plain or fused), empty where it does.
std::string declines_id(std::string_view id, const Backend& backend);
// OpFamily::ranks: the case's world size. Throws UsageError for a malformed id.
int ranks(std::string_view id);
// OpFamily::run_rank: under mpirun every process is one rank (core/processes.hpp); rank 0 gathers
// every rank's outputs and findings and judges the case as run_case does.
CaseResult run_rank_id(std::string_view id, Backend& backend, int rank, int ranks);

}  // namespace ulpgate::allreduce
