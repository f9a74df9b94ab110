// Runs one allreduce.rms / allreduce.rms-quant case on a backend: every rank's inputs, poisoned
// guarded outputs per rank, the world run twice (runs that differ are not deterministic), then
// the judgment against the reference (the composition, made a slab of rows at a time where it
// can be: fused_judged) and, where it fails, the stage-by-stage comparison.
#pragma once

#include <string_view>
#include <vector>

#include "harness/allreduce/fused_compare.hpp"
#include "harness/core/backend.hpp"
#include "harness/core/family.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate::allreduce {

struct FusedRun {
  FusedTensors inputs;
  GuardedOutputs outputs;                 // per rank: residual, y or codes and scales (guarded)
  std::vector<FusedRankBuffers> buffers;  // what the backend reads and writes
  std::vector<norm::Observed> observed;   // per rank, in outputs
  CaseResult result;
};

FusedRun run_fused(const FusedCase& c, Backend& backend);

std::vector<std::string> fused_catalog_ids(Tier tier);
CaseResult run_fused_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
// One rank per process (mpirun): run_case.hpp's run_rank_id for the fused ops.
CaseResult run_fused_rank_id(std::string_view id, Backend& backend, int rank, int ranks);
double fused_host_bytes(std::string_view id);

}  // namespace ulpgate::allreduce
