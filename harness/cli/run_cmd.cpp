// `ulpgate list | run | gate | golden update | repro`: selecting cases, running them on a
// backend, reporting, and gating against golden/<arch>/<family>.csv.
#include <fnmatch.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "harness/cli/command.hpp"
#include "harness/cli/reports.hpp"
#include "harness/cli/sweep.hpp"
#include "harness/golden/gate.hpp"
#include "harness/golden/golden_file.hpp"
#include "harness/golden/golden_update.hpp"
#include "harness/golden/prediction.hpp"
#include "harness/core/family.hpp"

namespace ulpgate::cli {
namespace {

namespace fs = std::filesystem;


// For kernels that may crash or hang (an external plugin's): a case that takes its process down
// gets the verdict error and the sweep goes on.
void add_isolation_options(CLI::App* cmd, Selection& s) {
  auto* isolate = cmd->add_flag("--isolate", s.isolate,
                                "run each case in a child process of its own: a case whose process crashes, "
                                "exits or hangs gets the verdict error naming the signal, status or timeout");
  cmd->add_option("--timeout", s.timeout, "seconds one case may take with --isolate before it is killed (default: 600)")
      ->check(CLI::PositiveNumber)
      ->needs(isolate);
}

void add_tier_option(CLI::App* cmd, Selection& s) {
  cmd->add_option("--tier", s.tier, "catalog tier: ci | full (default: ci; full adds production shapes for GPU backends: GEMMs to M = 16384, quantization and norms at 32768 x 7168, 16384 x 16384 and beyond 2^31 elements)")
      ->check(CLI::IsMember({"ci", "full"}));
}

void add_selection(CLI::App* cmd, Selection& s) {
  add_tier_option(cmd, s);
  cmd->add_option("--filter", s.filter, "glob over case ids");
  cmd->add_option("--case", s.case_id, "one case id (replays it anywhere)");
  cmd->add_option("--backend", s.backend, "auto|host|cuda|hip|vendor|plugin:PATH");
  cmd->add_option("--arch", s.archs, "host-w32, host-w64, sm90, ... (repeatable)");
  add_memory_option(cmd, s);
  add_jobs_option(cmd, s);
  add_isolation_options(cmd, s);
}

struct GateOptions {
  std::string golden_dir;
  std::string as_backend;         // judge the run as if it came from this backend (e.g. cuda@sm90)
  std::string known_differences;  // CSV case_id,reason of explained prediction drifts
  bool allow_new = false;         // cases without a golden row pass instead of failing
};

int run_gate(const Selection& s, const GateOptions& g, const ReportOptions& ro) {
  const auto files = golden_files(s, g.golden_dir);
  SweepResult sw = sweep(s);
  if (!sw.root) return kPass;  // rank 0 gates every process's results
  if (!g.as_backend.empty())
    for (CaseResult& r : sw.results) r.backend = g.as_backend;
  const RunScope scope = run_scope(s, sw.results);
  GateReport report = gate_against(sw.results, files, scope);
  if (!g.known_differences.empty()) apply_known_differences(report, g.known_differences);
  ReportOptions titled = ro;
  titled.title = "ulpgate gate " + g.golden_dir;
  write_reports(sw.results, titled, &report);
  std::printf("%s", gate_text(report, g.golden_dir, g.allow_new).c_str());
  return gate_exit_code(report, g.allow_new);
}

// Observations of a GPU backend are hardware's and say so (--hardware); the host emulation's never
// are. So a prediction (golden/<hardware arch> from the host) is replaced by observations only
// when asked.
void check_source(const std::string& backend, const std::string& arch, const HardwareInfo& hw) {
  if (hw.hardware && backend == "host")
    throw UsageError("golden update --hardware: the host backend is an emulation, not hardware");
  if (!hw.hardware && backend != "host" && predicts_hardware(arch))
    throw UsageError("golden update: the " + backend + " backend's rows for " + arch +
                     " are hardware observations: say --hardware (with --device, --driver, --toolkit) to replace "
                     "golden/" + arch + " with them");
}

int run_golden_update(Selection s, const std::string& arch, const std::string& root, const HardwareInfo& hw, bool check,
                      const ReportOptions& ro) {
  if (s.archs.empty()) s.archs = arch == "host" ? std::vector<std::string>{"host-w32", "host-w64"}
                                                 : std::vector<std::string>{arch};
  const std::string backend = resolve_backend(s);
  check_source(backend.substr(0, backend.find(':')), arch, hw);
  // A prediction: every emulation backend of the arch, rows named for what the hardware runs.
  const bool predicting = backend == "host" && predicts_hardware(arch);
  const SweepResult sw = predicting ? sweep_backends(s, prediction_backends(arch),
                                                     [&](const std::string& b) { return predicted_backend(b, arch); })
                                    : sweep(s);
  if (!sw.root) return kPass;  // rank 0 writes every process's rows
  if (!ro.csv.empty() || !ro.junit.empty() || !ro.html.empty())
    write_reports(sw.results, ro, nullptr);  // the observations with their verdicts and times
  std::string stale;
  for (const OpFamily& f : families()) {
    std::vector<CaseResult> rows;
    for (const CaseResult& r : sw.results)
      if (r.family == f.name) rows.push_back(r);
    if (rows.empty()) continue;
    const fs::path path = golden_path(fs::path(root) / arch, f.name);
    if (check) stale += stale_golden_file(path, rows, arch, hw);
    else std::printf("%s", update_golden_file(path, rows, arch, hw).c_str());
  }
  if (!check) return kPass;
  std::printf("%s", stale.empty() ? ("golden/" + arch + " is current\n").c_str()
                                  : (stale + "golden/" + arch + " is stale: regenerate it with `ulpgate golden update --arch " +
                                     arch + "` and review the diff\n").c_str());
  return stale.empty() ? kPass : kFail;
}

}  // namespace

// A case needing more host memory than --max-memory is refused before allocation (exit 2).
void add_memory_option(CLI::App* cmd, Selection& s) {
  cmd->add_option("--max-memory", s.max_memory,
                  "host memory one case may use, and the cases running at once with --jobs, e.g. 64GB (default: half of RAM)")
      ->transform(CLI::AsSizeValue(false));
}

CLI::Option* add_jobs_option(CLI::App* cmd, Selection& s) {
  return cmd->add_option("--jobs", s.jobs,
                  "cases at once, in worker processes that run one case at a time (default: 1, in this process); "
                  "a case whose worker crashes gets the verdict error")
      ->check(CLI::Range(1, 256));
}

void add_run_commands(CLI::App& app, int& rc) {
  static Selection sel;
  static ReportOptions ro;
  static GateOptions go;
  static std::string arch, root = "golden", repro_id, dump_dir, from_dir;
  static HardwareInfo hw;
  static bool check = false;

  static bool with_bytes = false;
  auto* list = app.add_subcommand("list", "list the catalog's case ids");
  list->add_option("--filter", sel.filter, "glob over case ids");
  add_tier_option(list, sel);
  list->add_flag("--host-bytes", with_bytes,
                 "each id after the host memory its case may need (GB, the estimate --jobs and --max-memory go by)");
  list->callback([&] {
    for (const std::string& id : select_cases(sel))
      if (with_bytes) std::printf("%8.2f %s\n", family_of(id).host_bytes(id) / 1e9, id.c_str());
      else std::printf("%s\n", id.c_str());
    rc = kPass;
  });

  auto* run = app.add_subcommand("run", "run cases on a backend and judge them");
  add_selection(run, sel);
  add_report_options(run, ro);
  run->callback([&] {
    const SweepResult sw = sweep(sel);
    if (sw.root) write_reports(sw.results, ro);
    rc = sw.any_failed ? kFail : kPass;
  });

  auto* gate_cmd = app.add_subcommand(
      "gate",
      "run and compare with golden/<arch>/<family>.csv. Exit 1 on regression, drift (bits changed within "
      "budget), missing (a golden row in the run's scope that did not run) or new (a case without a golden row, "
      "unless --allow-new); exit 2 when the golden directory or a family's file does not exist");
  add_selection(gate_cmd, sel);
  add_report_options(gate_cmd, ro);
  gate_cmd->add_option("--golden", go.golden_dir, "golden/<arch>: must exist, with a file per family run")->required();
  gate_cmd->add_flag("--allow-new", go.allow_new, "cases without a golden row pass (reported as new)");
  gate_cmd->add_option("--as-backend", go.as_backend, "compare with the golden rows of this backend (e.g. cuda@sm90)");
  gate_cmd->add_option("--known-differences", go.known_differences,
                       "CSV case_id,reason: explained drifts of a prediction (e.g. golden/sm90/emulation-differences.csv)");
  gate_cmd->callback([&] { rc = run_gate(sel, go, ro); });

  auto* golden = app.add_subcommand("golden", "golden-file maintenance");
  golden->require_subcommand(1);
  auto* update = golden->add_subcommand("update", "rewrite observations (never budgets)");
  update->add_option("--arch", arch, "arch directory under golden/ (host, sm90, ...)")->required();
  update->add_option("--filter", sel.filter, "glob over case ids");
  add_tier_option(update, sel);
  update->add_option("--backend", sel.backend, "backend that produces the observations");
  update->add_option("--root", root, "golden root directory");
  add_memory_option(update, sel);
  add_jobs_option(update, sel);
  add_isolation_options(update, sel);
  update->add_flag("--hardware", hw.hardware,
                   "observations come from real hardware (provenance); required to replace a prediction");
  update->add_option("--device", hw.device, "device name for the provenance header");
  update->add_option("--driver", hw.driver, "driver version for the provenance header");
  update->add_option("--toolkit", hw.toolkit, "toolkit for the provenance header");
  update->add_flag("--check", check,
                   "write nothing: exit 1 when regenerating would change the rows or a prediction's assumptions");
  add_report_options(update, ro);
  update->callback([&] { rc = run_golden_update(sel, arch, root, hw, check, ro); });

  auto* repro = app.add_subcommand("repro", "replay one case with full diagnostics");
  auto* replayed = repro->add_option_group("case", "what to replay")->require_option(1);
  replayed->add_option("case", repro_id, "case id");
  replayed->add_option("--from", from_dir, "a repro bundle: replay its case (on its backend and arch by default)");
  repro->add_option("--backend", sel.backend, "backend");
  repro->add_option("--arch", sel.archs, "arch");
  repro->add_option("--dump", dump_dir, "write a repro bundle here");
  add_memory_option(repro, sel);
  repro->callback([&] { rc = from_dir.empty() ? run_repro(repro_id, sel, dump_dir) : run_repro_from(from_dir, sel, dump_dir); });
}

}  // namespace ulpgate::cli
