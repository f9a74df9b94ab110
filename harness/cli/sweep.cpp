#include "harness/cli/sweep.hpp"

#include <fnmatch.h>

#include <cstdio>
#include <set>

#include "harness/cli/isolated.hpp"
#include "harness/golden/golden_file.hpp"
#include "harness/core/family.hpp"
#include "harness/core/processes.hpp"
#include "harness/report/console_table.hpp"
#include "harness/report/progress.hpp"

namespace ulpgate::cli {

Tier selected_tier(const Selection& s) {
  return s.tier.empty() ? Tier::ci : parse_tier(s.tier);
}

std::vector<std::string> select_cases(const Selection& s) {
  if (!s.case_id.empty()) {
    family_of(s.case_id);
    return {s.case_id};
  }
  const Tier tier = selected_tier(s);
  std::vector<std::string> out;
  for (const OpFamily& f : families())
    for (std::string& id : f.catalog(tier))
      if (fnmatch(s.filter.c_str(), id.c_str(), 0) == 0) out.push_back(std::move(id));
  return out;
}

namespace {

bool forks(const Selection& s) { return s.isolate || s.jobs > 1; }

bool cuda_runs() {
  try {
    make_backend("cuda", "sm90");
    return true;
  } catch (const std::exception&) {
    return false;  // no CUDA backend built, or no device
  }
}

}  // namespace

std::string resolve_backend(const Selection& s) {
  if (s.backend != "auto") return s.backend;
  // Forking for cases, this process must not start the device: a CUDA context does not survive a fork.
  const bool cuda = forks(s) ? yes_in_child(cuda_runs, s.timeout) : cuda_runs();
  return cuda ? "cuda" : "host";
}

std::vector<std::string> default_archs(const std::string& backend) {
  if (backend == "host") return {"host-w32", "host-w64"};
  if (backend == "cuda" || backend == "vendor") return {"sm90"};
  return {"host-w32"};
}

std::string golden_arch(const std::string& arch) { return arch.starts_with("host") ? "host" : arch; }

namespace {

// Every (arch, case) job in worker processes, s.jobs at once (not under mpirun: a case whose
// ranks are the processes needs this process's backend).
Share share_in_workers(const Selection& s, const std::string& backend, const std::vector<std::string>& archs,
                     const std::vector<std::string>& cases) {
  if (processes().size > 1) throw UsageError("--jobs runs cases in worker processes: not under mpirun, whose ranks share the cases");
  std::vector<ArchCase> jobs;
  for (const std::string& arch : archs)
    for (const std::string& id : cases) jobs.emplace_back(arch, id);
  ProgressLine progress(jobs.size(), stderr);
  Share all = run_in_workers(jobs, backend, s, [&](size_t ended) { progress.update(ended, "cases in " + std::to_string(s.jobs) + " processes"); });
  progress.finish();
  return all;
}

// This process's share of the (arch, case) jobs (all of them without mpirun).
Share run_share(const Selection& s, const std::string& backend, const std::vector<std::string>& archs,
                const std::vector<std::string>& cases) {
  const Processes& p = processes();
  Share mine;
  ProgressLine progress(cases.size() * archs.size() / size_t(p.size), stderr);
  size_t job = 0;
  for (const std::string& arch : archs) {
    // With --isolate each case's process makes its own backend (a CUDA context does not survive a
    // fork); this one makes one only if a case whose ranks are the processes comes, which cannot
    // leave it (its ranks talk over MPI).
    std::unique_ptr<Backend> b = s.isolate ? nullptr : make_backend(backend, arch);
    const auto here = [&]() -> Backend& {
      if (!b) b = make_backend(backend, arch);
      return *b;
    };
    for (const std::string& id : cases) {
      const size_t j = job++;
      // A case whose ranks are the processes runs on all of them; rank 0 keeps its result.
      const OpFamily& f = family_of(id);
      const auto together = p.size > 1 && f.run_rank && f.ranks(id) == p.size ? f.run_rank : nullptr;
      if (!together && !p.mine(j)) continue;
      progress.update(mine.results.size(), id);
      try {
        CaseResult r = together    ? together(id, here(), p.rank, p.size)
                       : s.isolate ? run_isolated(id, backend, arch, s)
                                   : run_case(id, here(), nullptr, s.max_memory);
        if (!together || p.root()) mine.results.emplace_back(j, std::move(r));
      } catch (const NotSupported& e) {
        if (!together || p.root()) mine.declined.push_back({id, backend + "@" + arch, e.what()});
      }
    }
  }
  progress.finish();
  return mine;
}

// One backend's share of a sweep; whether anything ran at all is the caller's question.
SweepResult sweep_one(const Selection& s) {
  const std::string backend = resolve_backend(s);
  const std::vector<std::string> archs = s.archs.empty() ? default_archs(backend) : s.archs;
  const std::vector<std::string> cases = select_cases(s);
  // A filter that matches nothing (a typo in a CI job) must not pass as "nothing failed".
  if (cases.empty())
    throw UsageError("--filter '" + s.filter + "' selects no case of the " + std::string(tier_name(selected_tier(s))) +
                     " catalog (`ulpgate list --filter` shows what a filter selects)");
  const Share all = s.jobs > 1 ? share_in_workers(s, backend, archs, cases) : gather(run_share(s, backend, archs, cases));
  SweepResult out;
  out.root = processes().root();
  out.declined = all.declined;
  for (const auto& [job, r] : all.results) {
    if (!passes(r.verdict)) {
      out.any_failed = true;
      std::printf("%s --backend %s --arch %s\n", failure_line(r).c_str(), backend.c_str(), archs[job / cases.size()].c_str());
    }
    out.results.push_back(r);
  }
  for (const auto& [why, n] : count_by_reason(out.declined)) std::printf("skipped %zu: %s\n", n, why.c_str());
  return out;
}

// A selection that none of the backends runs is bad usage, like a filter that selects nothing.
SweepResult ran_something(SweepResult r, std::string_view backends) {
  if (r.root && r.results.empty() && !r.declined.empty())
    throw UsageError("no selected case runs on the " + std::string(backends) + " backend (--filter selects what it runs)");
  return r;
}

}  // namespace

SweepResult sweep(const Selection& s) {
  Selection resolved = s;  // `auto` probes the device (with --isolate in a child): once per sweep
  resolved.backend = resolve_backend(s);
  return ran_something(sweep_one(resolved), resolved.backend);
}

namespace fs = std::filesystem;

SweepResult sweep_backends(Selection s, const std::vector<std::string>& backends,
                           const std::function<std::string(const std::string& kind)>& rename) {
  SweepResult all;
  for (const std::string& b : backends) {
    s.backend = b;
    SweepResult one = sweep_one(s);
    all.root = all.root && one.root;
    all.any_failed = all.any_failed || one.any_failed;
    const std::string as = rename ? rename(b) : "";
    for (Declined& d : one.declined) {
      if (!as.empty()) d.backend = as;
      all.declined.push_back(std::move(d));
    }
    for (CaseResult& r : one.results) {
      if (!as.empty()) all.ran_as[as] = std::exchange(r.backend, as);
      all.results.push_back(std::move(r));
    }
  }
  std::string names;
  for (const std::string& b : backends) names += (names.empty() ? "" : " or ") + b;
  return ran_something(std::move(all), names);
}

// The golden files a selection is gated against, one per family it has cases of. A missing
// directory or file is bad input (exit 2), never "everything is new": a typo in a CI path must
// not turn the gate off. Checked before anything runs.
std::map<std::string_view, fs::path> golden_files(const Selection& s, const std::string& golden_dir) {
  if (!fs::is_directory(golden_dir))
    throw UsageError("gate: golden directory '" + golden_dir + "' does not exist (golden/<arch>, e.g. golden/host)");
  std::map<std::string_view, fs::path> files;
  for (const std::string& id : select_cases(s)) {
    const OpFamily& f = family_of(id);
    if (files.contains(f.name)) continue;
    const fs::path path = golden_path(golden_dir, f.name);
    if (!fs::exists(path))
      throw UsageError("gate: no golden file " + path.string() + " for the " + std::string(f.name) +
                       " cases of this run (create it with `ulpgate golden update`, or gate with --filter)");
    files[f.name] = path;
  }
  return files;
}

// Cases of the full catalog that the selection's tier leaves out (none for the full tier).
namespace {

std::set<std::string, std::less<>> other_tier_cases(const Selection& s) {
  const Tier tier = selected_tier(s);
  std::set<std::string, std::less<>> out;
  if (tier == Tier::full) return out;
  for (const OpFamily& f : families()) {
    const std::vector<std::string> mine = f.catalog(tier);
    const std::set<std::string_view> in_tier(mine.begin(), mine.end());
    for (std::string& id : f.catalog(Tier::full))
      if (!in_tier.contains(id)) out.insert(std::move(id));
  }
  return out;
}

}  // namespace

// Golden rows in the run's scope: ids the selection's glob (or --case) matches, whether or not
// the catalog still has them, of the backends that ran; a case only another tier runs is out of
// scope (a ci run leaves the full tier's rows alone), one that no tier has is not. A row in scope
// that did not run is missing.
RunScope run_scope(const Selection& s, const std::vector<CaseResult>& results) {
  std::set<std::string, std::less<>> backends;
  for (const CaseResult& r : results) backends.insert(r.backend);
  return [s, backends, other_tier = other_tier_cases(s)](std::string_view id, std::string_view backend) {
    const bool selected = s.case_id.empty() ? fnmatch(s.filter.c_str(), std::string(id).c_str(), 0) == 0
                                            : id == s.case_id;
    return selected && backends.contains(backend) && !other_tier.contains(id);
  };
}

}  // namespace ulpgate::cli
