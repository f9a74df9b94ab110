// Selecting and running cases: the part that `run`, `gate`, `golden update` and `repro` share.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/core/backend.hpp"
#include "harness/core/case_result.hpp"
#include "harness/core/family.hpp"
#include "harness/core/processes.hpp"
#include "harness/golden/gate.hpp"

namespace ulpgate::cli {

struct Selection {
  std::string filter = "*";        // glob over case ids
  std::string case_id;             // one case, which need not be in the catalog
  std::string backend = "auto";
  std::vector<std::string> archs;  // empty: the backend's default archs
  uint64_t max_memory = 0;         // host bytes one case may need (0: half the machine's memory)
  std::string tier;                // ci | full; empty: ci
  bool isolate = false;            // each case in a child process of its own (isolated.hpp)
  double timeout = 600;            // seconds one isolated case may take before it is killed
  int jobs = 1;                    // cases at once (> 1: in worker processes, isolated.hpp)
};

// The selection's catalog tier: ci unless asked. full is not the GPU default: the GEMM reference
// of a case runs on the host, hours for the M = 4096 shapes.
Tier selected_tier(const Selection& s);

// The case ids a selection names, in catalog order (families in turn), of its tier. A --case id
// is checked: UsageError when it does not parse.
std::vector<std::string> select_cases(const Selection& s);
// The selection's backend; "auto" resolves to cuda when a GPU is present, else host.
std::string resolve_backend(const Selection& s);
std::vector<std::string> default_archs(const std::string& backend);
// The golden directory name of an arch: host-w32 and host-w64 share golden/host.
std::string golden_arch(const std::string& arch);

struct SweepResult {
  bool root = true;  // false: another MPI process's share, already handed to rank 0 (processes.hpp)
  std::vector<CaseResult> results;
  bool any_failed = false;
  std::vector<Declined> declined;  // cases a backend declines, with the reason
  std::map<std::string, std::string> ran_as;  // a renamed backend -> the one that ran (hip@gfx942 -> host@gfx942)
};
// Runs every case on every arch of the backend; prints a progress line on a terminal, one line
// per failure ending with its repro command, and the skipped cases by reason. Cases the backend
// declines are skipped; a selection it declines entirely is a UsageError (a gate that judged
// nothing must not pass). Under mpirun each process runs its share and rank 0 gets every result
// (the others get root = false and nothing to report). With s.isolate each case runs in a child
// process: a case whose process crashes or hangs gets the verdict `error` and the sweep goes on.
SweepResult sweep(const Selection& s);

// Sweeps each backend in turn into one result. `rename(kind)` names the rows of a backend kind
// ("host") for the gate ("hip@gfx942": a prediction of the hardware's backend); "" keeps the name.
SweepResult sweep_backends(Selection s, const std::vector<std::string>& backends,
                           const std::function<std::string(const std::string& kind)>& rename = {});

// The golden files a selection is gated against, one per family it has cases of (family ->
// golden_dir/<family>.csv). A missing directory or file is UsageError, never "everything is new".
std::map<std::string_view, std::filesystem::path> golden_files(const Selection& s, const std::string& golden_dir);

// The golden rows a run of the selection answers for: ids its glob (or --case) names, of the
// backends that ran, not only in another tier; such a row that did not run is missing.
RunScope run_scope(const Selection& s, const std::vector<CaseResult>& results);

}  // namespace ulpgate::cli
