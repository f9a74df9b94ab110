// Report options shared by `run` and `gate`, and `repro`.
#pragma once

#include "harness/golden/gate.hpp"

#include <string>
#include <vector>

#include "harness/cli/command.hpp"
#include "harness/cli/sweep.hpp"

namespace ulpgate::cli {

struct ReportOptions {
  std::string junit, csv, html;
  std::string title = "ulpgate run";  // the HTML report's title
};

void add_report_options(CLI::App* cmd, ReportOptions& ro);
// Prints the console table and writes the requested report files (the HTML with the gate's
// classes when the run was gated).
void write_reports(const std::vector<CaseResult>& results, const ReportOptions& ro, const GateReport* gate = nullptr);
// Replays one case with full diagnostics; writes a bundle when dump_dir is set.
int run_repro(const std::string& case_id, const Selection& s, const std::string& dump_dir);
// Replays the case of the repro bundle in bundle_dir, on the bundle's backend and arch unless the
// selection names others, and says whether the verdict is the bundle's. Exit code as run_repro.
int run_repro_from(const std::string& bundle_dir, Selection s, const std::string& dump_dir);

void add_run_commands(CLI::App& app, int& rc);
// --max-memory and --jobs, for every command that sweeps cases.
void add_memory_option(CLI::App* cmd, Selection& s);
CLI::Option* add_jobs_option(CLI::App* cmd, Selection& s);

}  // namespace ulpgate::cli
