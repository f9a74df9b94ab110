// `ulpgate list | run | gate | golden update | repro`: selecting cases, running them on a
// backend, reporting, and gating against golden/<arch>/<family>.csv.
#include <ctime>
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
#include "harness/core/family.hpp"

namespace ulpgate::cli {
namespace {

namespace fs = std::filesystem;

void add_selection(CLI::App* cmd, Selection& s) {
  cmd->add_option("--filter", s.filter, "glob over case ids");
  cmd->add_option("--case", s.case_id, "one case id (replays it anywhere)");
  cmd->add_option("--backend", s.backend, "auto|host|cuda|hip|vendor|plugin:PATH");
  cmd->add_option("--arch", s.archs, "host-w32, host-w64, sm90, ... (repeatable)");
}

std::string today() {
  char buf[16];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

// as_backend: judge this run as if it came from another backend, so the host emulation at an
// arch's semantics can be gated against that arch's hardware golden rows (a prediction check).
int run_gate(const Selection& s, const std::string& golden_dir, const std::string& as_backend,
             const std::string& known_differences, const ReportOptions& ro) {
  SweepResult sw = sweep(s);
  if (!as_backend.empty())
    for (CaseResult& r : sw.results) r.backend = as_backend;
  write_reports(sw.results, ro);
  // Golden rows of cases this run did not select are out of scope, not "missing".
  std::set<std::string, std::less<>> ids, backends;
  for (std::string& id : select_cases(s)) ids.insert(std::move(id));
  for (const CaseResult& r : sw.results) backends.insert(r.backend);
  const RunScope scope = [&](std::string_view id, std::string_view backend) {
    return ids.contains(id) && backends.contains(backend);
  };
  GateReport report;
  for (const OpFamily& f : families()) {
    std::vector<CaseResult> run;
    for (const CaseResult& r : sw.results)
      if (r.family == f.name) run.push_back(r);
    const fs::path path = golden_path(golden_dir, f.name);
    if (run.empty() && !fs::exists(path)) continue;
    if (!fs::exists(path)) std::printf("gate: no %s: every %s case is new\n", path.c_str(), std::string(f.name).c_str());
    const GateReport part = gate(run, fs::exists(path) ? read_golden(path).rows : std::vector<GoldenRow>{}, scope);
    report.entries.insert(report.entries.end(), part.entries.begin(), part.entries.end());
    for (size_t i = 0; i < report.counts.size(); ++i) report.counts[i] += part.counts[i];
  }
  if (!known_differences.empty()) apply_known_differences(report, known_differences);
  for (const GateEntry& e : report.entries)
    if (e.cls != GateClass::identical || !e.detail.empty())
      std::printf("%-10s %s [%s] %s\n", std::string(gate_class_name(e.cls)).c_str(), e.case_id.c_str(),
                  e.backend.c_str(), e.detail.c_str());
  std::printf("gate %s: %s\n", golden_dir.c_str(), gate_summary(report).c_str());
  return gate_exit_code(report);
}

struct HardwareInfo {
  bool hardware = false;
  std::string device, driver, toolkit;
};

// Rewrites one family's golden file with this run's rows; rows the run did not produce stay.
void update_golden_file(const fs::path& path, std::span<const CaseResult> results, const std::string& arch,
                        const HardwareInfo& hw) {
  GoldenFile next;
  std::vector<GoldenRow> old_rows;
  if (fs::exists(path)) {
    const GoldenFile old = read_golden(path);
    old_rows = old.rows;
    next.provenance = old.provenance;
    for (const GoldenRow& row : old.rows)
      if (std::none_of(results.begin(), results.end(),
                       [&](const CaseResult& r) { return r.case_id == row.case_id && r.backend == row.backend; }))
        next.rows.push_back(row);
  }
  for (const CaseResult& r : results) next.rows.push_back(golden_row(r));
  next.provenance.arch = arch;
  next.provenance.source = hw.hardware ? GoldenSource::hardware : GoldenSource::emulation;
  next.provenance.device = !hw.device.empty() ? hw.device : hw.hardware ? "unnamed device" : "host-SIMT emulation (CPU)";
  next.provenance.driver = hw.driver;
  next.provenance.toolkit = !hw.toolkit.empty() ? hw.toolkit : std::string("host compiler ") + __VERSION__;
  next.provenance.suite_version = ULPGATE_VERSION;
  next.provenance.commit = ULPGATE_COMMIT;
  next.provenance.date = today();
  fs::create_directories(path.parent_path());
  write_golden(path, next, {.allow_overwrite = true});
  std::printf("%s", golden_diff(old_rows, next.rows).c_str());
  std::printf("wrote %s (%zu rows)\n", path.c_str(), next.rows.size());
}

int run_golden_update(Selection s, const std::string& arch, const std::string& root, const HardwareInfo& hw) {
  if (s.archs.empty()) s.archs = arch == "host" ? std::vector<std::string>{"host-w32", "host-w64"}
                                                 : std::vector<std::string>{arch};
  const SweepResult sw = sweep(s);
  for (const OpFamily& f : families()) {
    std::vector<CaseResult> rows;
    for (const CaseResult& r : sw.results)
      if (r.family == f.name) rows.push_back(r);
    if (!rows.empty()) update_golden_file(golden_path(fs::path(root) / arch, f.name), rows, arch, hw);
  }
  return kPass;
}

}  // namespace

void add_run_commands(CLI::App& app, int& rc) {
  static Selection sel;
  static ReportOptions ro;
  static std::string golden_dir, as_backend, known_differences, arch, root = "golden", repro_id, dump_dir, from_dir;
  static HardwareInfo hw;

  auto* list = app.add_subcommand("list", "list the catalog's case ids");
  list->add_option("--filter", sel.filter, "glob over case ids");
  list->callback([&] {
    for (const std::string& id : select_cases(sel)) std::printf("%s\n", id.c_str());
    rc = kPass;
  });

  auto* run = app.add_subcommand("run", "run cases on a backend and judge them");
  add_selection(run, sel);
  add_report_options(run, ro);
  run->callback([&] {
    const SweepResult sw = sweep(sel);
    write_reports(sw.results, ro);
    rc = sw.any_failed ? kFail : kPass;
  });

  auto* gate_cmd = app.add_subcommand("gate", "run and compare with golden/<arch>: exit 1 on regression or drift");
  add_selection(gate_cmd, sel);
  add_report_options(gate_cmd, ro);
  gate_cmd->add_option("--golden", golden_dir, "golden/<arch>")->required();
  gate_cmd->add_option("--as-backend", as_backend, "compare with the golden rows of this backend (e.g. cuda@sm90)");
  gate_cmd->add_option("--known-differences", known_differences,
                       "CSV case_id,reason: explained drifts of a prediction (e.g. golden/sm90/emulation-differences.csv)");
  gate_cmd->callback([&] { rc = run_gate(sel, golden_dir, as_backend, known_differences, ro); });

  auto* golden = app.add_subcommand("golden", "golden-file maintenance");
  golden->require_subcommand(1);
  auto* update = golden->add_subcommand("update", "rewrite observations (never budgets)");
  update->add_option("--arch", arch, "arch directory under golden/ (host, sm90, ...)")->required();
  update->add_option("--filter", sel.filter, "glob over case ids");
  update->add_option("--backend", sel.backend, "backend that produces the observations");
  update->add_option("--root", root, "golden root directory");
  update->add_flag("--hardware", hw.hardware, "observations come from real hardware (provenance)");
  update->add_option("--device", hw.device, "device name for the provenance header");
  update->add_option("--driver", hw.driver, "driver version for the provenance header");
  update->add_option("--toolkit", hw.toolkit, "toolkit for the provenance header");
  update->callback([&] { rc = run_golden_update(sel, arch, root, hw); });

  auto* repro = app.add_subcommand("repro", "replay one case with full diagnostics");
  auto* replayed = repro->add_option_group("case", "what to replay")->require_option(1);
  replayed->add_option("case", repro_id, "case id");
  replayed->add_option("--from", from_dir, "a repro bundle: replay its case (on its backend and arch by default)");
  repro->add_option("--backend", sel.backend, "backend");
  repro->add_option("--arch", sel.archs, "arch");
  repro->add_option("--dump", dump_dir, "write a repro bundle here");
  repro->callback([&] { rc = from_dir.empty() ? run_repro(repro_id, sel, dump_dir) : run_repro_from(from_dir, sel, dump_dir); });
}

}  // namespace ulpgate::cli
