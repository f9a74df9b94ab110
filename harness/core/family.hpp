// An op family (quant, norm, ...) as the CLI sees it: its catalog of case ids and how one case
// runs on a backend. The CLI never looks inside a case; the op segment of an id ("quant.group",
// "norm.rms-add") names its family, and golden/<arch>/<family>.csv holds its rows.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/backend.hpp"
#include "harness/core/case_result.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate {

// How much of a catalog runs: `ci` what the host emulation runs in CI time, `full` that plus the
// shapes of real models that only a GPU runs quickly (GEMMs at M = 4096, quantization and norms at
// 32768 x 7168 and beyond 2^31 elements). full includes ci.
enum class Tier : uint8_t { ci, full };
std::string_view tier_name(Tier t);
Tier parse_tier(std::string_view name);  // throws UsageError naming the choices

struct OpFamily {
  std::string_view name;  // "quant": ids start with "quant." ("allreduce", one op: with "allreduce/")
  std::string_view ops;   // its op segments as messages name them: "quant.*", "allreduce"
  std::vector<std::string> (*catalog)(Tier tier);
  // Runs one case: generate, reference, poison, run, compare, digest. Throws UsageError for a
  // malformed id. With `tensors`, also returns inputs, expected and actual outputs for a bundle.
  CaseResult (*run)(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
  // The host memory a case needs at most, in bytes, from its id alone (nothing is allocated).
  // Throws UsageError for a malformed id.
  double (*host_bytes)(std::string_view id);
  // Case::parse(id).id(): the id in canonical form. Throws UsageError for a malformed id; parses
  // only, so a huge shape costs nothing (the fuzzers rely on it).
  std::string (*canonical_id)(std::string_view id);
  // A family whose cases can span processes (all-reduce under mpirun): ranks(id) is a case's rank
  // count; a case with as many ranks as there are processes runs on all of them, each calling
  // run_rank as rank `rank` of `ranks`, and rank 0 gets the judged result (other cases run whole
  // in one process). Null: every case runs whole in one process.
  int (*ranks)(std::string_view id) = nullptr;
  CaseResult (*run_rank)(std::string_view id, Backend& backend, int rank, int ranks) = nullptr;
  // Why the backend does not run a case (empty: it does), from its id alone, asked before the
  // host-memory check so that a case no backend here runs (a world of 8 on one GPU) is declined,
  // not refused. Null: run decides.
  std::string (*declines)(std::string_view id, const Backend& backend) = nullptr;
  // The host memory a case needs when its bundle is asked for (repro), where that is more than
  // host_bytes: a family that judges a case a slab at a time holds its references whole only for a
  // bundle. Null: host_bytes.
  double (*bundle_bytes)(std::string_view id) = nullptr;
};

template <class Case>
std::string canonical_id(std::string_view id) {
  return Case::parse(id).id();
}

std::span<const OpFamily> families();

// What every family's run shares. judged() runs the backend, then checks the outputs' guard
// regions, then compares: a BackendError becomes the verdict `error` with its message; a write
// outside an output (the host guards, or guard::OutOfBounds from a device backend's own guards)
// becomes `out-of-bounds` naming the tensor, the side and the offset, with what the comparison
// found inside the outputs kept in the counts. stamp() records the digest of the output bytes,
// the backend and the wall time since t0.
CaseResult judged(std::string case_id, std::string_view family, std::string_view profile,
                  const GuardedOutputs& outputs, const std::function<void()>& run_backend,
                  const std::function<CaseResult()>& compare);
void stamp(CaseResult& r, std::span<const std::byte> outputs, const Backend& backend,
           std::chrono::steady_clock::time_point t0);
void stamp(CaseResult& r, const GuardedOutputs& outputs, const Backend& backend,
           std::chrono::steady_clock::time_point t0);
// The same with the digest already made (outputs left on a device, digested as they were fetched).
void stamp(CaseResult& r, uint64_t digest, const Backend& backend, std::chrono::steady_clock::time_point t0);
// Joins a finding (why; none when empty) that overrides a passing or milder verdict with v.
void worsen(CaseResult& r, Verdict v, const std::string& why);

// A family's OpFamily::run: parse the id, refuse a case the backend declines (NotSupported),
// run the case (run(c, backend) returns a run with its `result`), and hand over the bundle's
// tensors (tensors(c, run)) when asked.
template <class Case, class Run, class Tensors>
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* out, Run run, Tensors tensors) {
  const Case c = Case::parse(id);
  require_supported(backend, c.spec);
  auto done = run(c, backend);
  if (out) *out = tensors(c, done);
  return std::move(done.result);
}

template <class Cases>
std::vector<std::string> case_ids(const Cases& cases) {
  std::vector<std::string> ids;
  for (const auto& c : cases) ids.push_back(c.id());
  return ids;
}
// The family whose ops the id's first segment names; UsageError listing the families otherwise.
const OpFamily& family_of(std::string_view case_id);

// Half of this machine's physical memory: the default limit on one case's host memory.
uint64_t default_memory_limit();

// Runs one case of any family. A case whose host_bytes (with `tensors`: bundle_bytes) exceed
// max_memory (0: the default) is refused before anything is allocated: UsageError naming the bytes
// it needs (exit 2).
CaseResult run_case(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors,
                    uint64_t max_memory = 0);

}  // namespace ulpgate
