// `ulpgate signoff --arch ARCH`: hardware bring-up in one command (issue 17). Runs every family on
// the best backend present for the arch (its GPU and vendor backends where this machine has that
// GPU, else the host emulation at the arch's semantics, judged as the GPU backend), gates the
// results against golden/ARCH (observed or predicted), and writes the sign-off bundle: report.html,
// junit.xml, results.csv and summary.txt, the summary also printed. Every deviation is grouped by
// its cause with its repro command. Exit 0 only when every case is identical to its golden row.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "harness/build_info.hpp"
#include "harness/cli/command.hpp"
#include "harness/cli/isolated.hpp"
#include "harness/cli/reports.hpp"
#include "harness/cli/sweep.hpp"
#include "harness/core/family.hpp"
#include "harness/golden/golden_update.hpp"
#include "harness/golden/prediction.hpp"
#include "harness/report/console_table.hpp"
#include "harness/report/csv_report.hpp"
#include "harness/report/html_report.hpp"
#include "harness/report/junit.hpp"
#include "kernels/portable/arch.hpp"

namespace ulpgate::cli {
namespace {

namespace fs = std::filesystem;

struct SignoffOptions {
  std::string arch, out, html, golden_root = "golden";
  std::vector<std::string> backends;  // empty: the best present
  bool require_complete = false;      // golden rows this machine cannot run fail the sign-off
  int jobs = 1;                       // cases at once (the selection's --jobs)
};

// What the sign-off covers and what it does not: the rows it ran, and those this machine cannot
// run by reason.
std::vector<std::string> scope_lines(const GateReport& report, const std::vector<GateEntry>& not_runnable,
                                     bool require_complete) {
  const size_t ran = report.entries.size(), all = ran + not_runnable.size();
  if (not_runnable.empty()) return {"scope:    complete: all " + std::to_string(all) + " golden rows in scope ran here"};
  std::map<std::string, size_t> by_reason;
  for (const GateEntry& e : not_runnable) ++by_reason[e.detail];
  std::vector<std::string> s = {"scope:    " + std::to_string(ran) + " of " + std::to_string(all) +
                                " golden rows ran here; not covered (not runnable here, not missing): " +
                                std::to_string(not_runnable.size()) +
                                (require_complete ? " (--require-complete: the sign-off fails)" : "")};
  for (const auto& [why, n] : by_reason) s.push_back("          " + std::to_string(n) + " not runnable here: " + why);
  return s;
}

// A backend runs the arch on this machine when it can be made for it (a CUDA backend needs the
// device and refuses other archs).
// Whether the backend can be made here: asked in a child process when cases run in workers (a CUDA
// context made here would not survive their fork).
bool runs_here(const std::string& backend, const std::string& arch, bool forks) {
  const auto made = [&] {
    try {
      return make_backend(backend, arch) != nullptr;
    } catch (const std::exception&) {
      return false;
    }
  };
  return forks ? yes_in_child(made, 600) : made();
}

std::vector<std::string> best_backends(const std::string& arch, bool forks) {
  const Arch& a = arch_by_name(arch);
  if (a.hardware && runs_here(std::string(a.backend), arch, forks)) {
    std::vector<std::string> out{std::string(a.backend)};
    if (runs_here("vendor", arch, forks)) out.push_back("vendor");
    return out;
  }
  return {"host"};
}

// The backends a sign-off runs, and how their rows are named: the emulation's as the hardware's
// backends when golden/ARCH is a prediction or the emulation stands in for the arch's GPU.
struct Plan {
  std::vector<std::string> backends;
  bool emulated = false;
};

Plan plan_for(const std::string& arch, const std::vector<std::string>& asked, bool predicted, bool forks) {
  if (!asked.empty())
    return {asked, std::ranges::all_of(asked, [](const std::string& b) { return b == "host" || b == "model"; })};
  const std::vector<std::string> best = best_backends(arch, forks);
  if (best != std::vector<std::string>{"host"}) return {best, false};
  return {predicted ? prediction_backends(arch) : best, true};
}

std::string repro_for(const SweepResult& run, const std::string& case_id, const std::string& backend) {
  const auto it = run.ran_as.find(backend);
  const std::string ran = it == run.ran_as.end() ? backend : it->second;  // "host@gfx942"
  const size_t at = ran.find('@');
  return repro_command(case_id) + " --backend " + ran.substr(0, at) +
         (at == std::string::npos ? "" : " --arch " + ran.substr(at + 1));
}

const CaseResult* result_of(const SweepResult& run, const GateEntry& e) {
  for (const CaseResult& r : run.results)
    if (r.case_id == e.case_id && r.backend == e.backend) return &r;
  return nullptr;
}

// Per family and profile: how many cases are signed off (identical), missed a prediction, regressed,
// drifted, are new or missing.
std::vector<std::string> count_table(const GateReport& report) {
  std::map<std::string, std::array<size_t, kGateClasses>> by;
  for (const GateEntry& e : report.entries) {
    const std::string& id = e.case_id;
    const size_t p = id.find('/') + 1;
    ++by[std::string(family_of(id).name) + " " + id.substr(p, id.find('/', p) - p)][size_t(e.cls)];
  }
  std::vector<std::string> lines;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-28s %9s %10s %10s %6s %5s %7s", "family profile", "signed", "pred.miss", "regression",
                "drift", "new", "missing");
  lines.push_back(buf);
  using enum GateClass;
  for (const auto& [key, c] : by) {
    std::snprintf(buf, sizeof buf, "%-28s %9zu %10zu %10zu %6zu %5zu %7zu", key.c_str(), c[size_t(identical)],
                  c[size_t(prediction_missed)], c[size_t(regression)], c[size_t(drift)], c[size_t(new_case)],
                  c[size_t(missing)]);
    lines.push_back(buf);
  }
  return lines;
}

// Every deviation under its cause, each with its repro command; `per_cause` lines at most per cause
// (the rest counted), all of them with 0.
std::vector<std::string> deviations_by_cause(const SweepResult& run, const GateReport& report, const std::string& arch,
                                             size_t per_cause) {
  std::map<std::string, std::vector<std::string>> by_cause;
  for (const GateEntry& e : report.entries) {
    if (e.cls == GateClass::identical) continue;
    const CaseResult* r = result_of(run, e);
    const std::string cause =
        deviation_cause(arch, family_of(e.case_id).name, e, r ? verdict_name(r->verdict) : std::string_view("not run"));
    std::string line = "  " + e.case_id + " [" + e.backend + "] " + e.detail;
    if (r) line += "\n    -> " + repro_for(run, e.case_id, e.backend);
    by_cause[cause].push_back(std::move(line));
  }
  std::vector<std::string> out;
  for (const auto& [cause, lines] : by_cause) {
    out.push_back(cause + ": " + std::to_string(lines.size()) + (lines.size() == 1 ? " case" : " cases"));
    const size_t shown = per_cause ? std::min(per_cause, lines.size()) : lines.size();
    out.insert(out.end(), lines.begin(), lines.begin() + ptrdiff_t(shown));
    if (shown < lines.size()) out.push_back("  ... " + std::to_string(lines.size() - shown) + " more in summary.txt");
  }
  return out;
}

// "time:     412 s (cases: gemm 301 s, quant 60 s, ...)": the sign-off's wall time and each
// family's case time (summed over cases; with parallel cases more than the wall time).
// The wall time, and each family's cases' time added up (more than the wall with --jobs).
std::string time_line(const SweepResult& run, double seconds, int jobs) {
  std::map<std::string, double> by_family;
  for (const CaseResult& r : run.results) by_family[r.family] += r.wall_seconds;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f s", seconds);
  std::string line = std::string("time:     ") + buf + " (cases" + (jobs > 1 ? ", " + std::to_string(jobs) + " at once" : "") + ":";
  for (const auto& [family, t] : by_family) {
    std::snprintf(buf, sizeof buf, " %.0f s", t);
    line += " " + family + buf + ",";
  }
  line.back() = ')';
  return by_family.empty() ? line.substr(0, line.find(" (")) : line;
}

std::vector<std::string> summary(const SweepResult& run, const GateReport& report,
                                 const std::vector<GateEntry>& not_runnable, const SignoffOptions& o,
                                 const std::vector<std::string>& backends, const Provenance& golden, bool signed_off,
                                 size_t per_cause, double seconds) {
  std::string ran;
  for (const std::string& b : backends) ran += (ran.empty() ? "" : ", ") + b;
  const size_t skipped = run.declined.size();
  const std::map<std::string, size_t> reasons = count_by_reason(run.declined);
  const std::string scoped = not_runnable.empty() ? "" : signed_off ? ", scoped" : "";
  std::vector<std::string> s = {
      "ulpgate signoff " + o.arch + ": " + (signed_off ? "SIGNED OFF" : "NOT signed off") + scoped + " (" +
          std::to_string(report.entries.size()) + " cases gated; " + std::to_string(skipped) +
          " (case, backend) pairs declined here)",
      "backends: " + ran + (backends.front() == "host" ? " (emulation at " + o.arch + ")" : ""),
      "golden:   " + (fs::path(o.golden_root) / golden_arch(o.arch)).string() + " (" +
          (is_prediction(golden) ? "predicted" : std::string(golden_source_name(golden.source))) + ", " +
          golden.device + ", " + golden.date + ")",
      "gate:     " + gate_summary(report), time_line(run, seconds, o.jobs)};
  for (std::string& line : scope_lines(report, not_runnable, o.require_complete)) s.push_back(std::move(line));
  s.push_back("");
  for (std::string& line : count_table(report)) s.push_back(std::move(line));
  const std::vector<std::string> dev = deviations_by_cause(run, report, o.arch, per_cause);
  if (!dev.empty()) s.push_back("");
  s.insert(s.end(), dev.begin(), dev.end());
  if (per_cause && !reasons.empty())
    s.push_back("declined: " + std::to_string(skipped) + " (case, backend) pairs, " + std::to_string(reasons.size()) +
                " reasons (GPUs too few for a world size, a library without the op...): see summary.txt");
  else
    for (const auto& [why, n] : reasons) s.push_back("skipped " + std::to_string(n) + ": " + why);
  if (!per_cause)
    for (const GateEntry& e : not_runnable) s.push_back("not runnable here: " + e.case_id + " [" + e.backend + "] " + e.detail);
  return s;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw UsageError("signoff: cannot write " + path.string());
}

int run_signoff(const Selection& base, const SignoffOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  arch_by_name(o.arch);  // a UsageError naming the archs, before anything runs
  const fs::path golden_dir = fs::path(o.golden_root) / golden_arch(o.arch);
  const auto files = golden_files(base, golden_dir.string());
  const Provenance golden = read_golden(files.begin()->second).provenance;
  const Plan plan = plan_for(o.arch, o.backends, is_prediction(golden), base.jobs > 1);
  Selection at_arch = base;
  at_arch.archs = {o.arch};
  const SweepResult run = sweep_backends(at_arch, plan.backends, [&](const std::string& b) {
    return plan.emulated ? predicted_backend(b, o.arch) : "";
  });
  if (!run.root) return kPass;  // rank 0 reports every process's results
  GateReport report = gate_against(run.results, files, run_scope(base, run.results));
  const fs::path known = golden_dir / "emulation-differences.csv";
  if (plan.emulated && fs::exists(known)) apply_known_differences(report, known);
  const std::vector<GateEntry> not_runnable = take_not_runnable(report, run.declined);
  const bool signed_off = gate_exit_code(report) == kPass && !(o.require_complete && !not_runnable.empty());
  const std::vector<std::string>& backends = plan.backends;

  const fs::path out = o.out.empty() ? fs::path("signoff-" + o.arch) : fs::path(o.out);
  fs::create_directories(out);
  std::ofstream junit(out / "junit.xml"), csv(out / "results.csv");
  write_junit(junit, run.results, "ulpgate signoff " + o.arch);
  write_csv_report(csv, run.results);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_text(out / "summary.txt", joined(summary(run, report, not_runnable, o, backends, golden, signed_off, 0, seconds)));
  const std::vector<std::string> screen = summary(run, report, not_runnable, o, backends, golden, signed_off, 3, seconds);
  HtmlReport html;
  html.title = "ulpgate signoff " + o.arch;
  html.facts = {{"arch", o.arch},
                {"golden", golden_dir.string() + (is_prediction(golden) ? " (predicted)" : "")},
                {"suite", std::string(suite_version()) + " " + suite_commit()},
                {"date", today_utc()}};
  html.summary = screen;
  html.results = run.results;
  html.gate = report;
  html.repro = [&](const CaseResult& r) { return repro_for(run, r.case_id, r.backend); };
  write_html(out / "report.html", html);
  if (!o.html.empty()) write_html(o.html, html);
  std::printf("%s", joined(screen).c_str());
  std::printf("bundle: %s/{report.html,junit.xml,results.csv,summary.txt}\n", out.string().c_str());
  return signed_off ? kPass : kFail;
}

// Cases at once by default: the host work of a large case (inputs, references, judging) keeps
// about four cores busy, so one case per four cores, at most four (one on a small machine, and
// under mpirun, whose ranks share the cases instead).
int default_jobs() {
  if (processes().size > 1) return 1;
  return int(std::clamp(std::thread::hardware_concurrency() / 4, 1u, 4u));
}

}  // namespace

void add_signoff_commands(CLI::App& app, int& rc) {
  static Selection sel;
  static SignoffOptions o;
  auto* cmd = app.add_subcommand(
      "signoff",
      "bring-up: run every family on the best backend present (or the emulation), gate against golden/ARCH and "
      "write the sign-off bundle (HTML report, JUnit, CSV, summary). Exit 0 only when everything is signed off");
  cmd->add_option("--arch", o.arch, "the architecture to sign off (sm90, sm100, gfx942, gfx950, host-w32, ...)")->required();
  cmd->add_option("--backend", o.backends, "instead of the best present: these backends (repeatable)");
  cmd->add_option("--out", o.out, "bundle directory (default: signoff-ARCH)");
  cmd->add_option("--html", o.html, "also write the HTML report here");
  cmd->add_option("--golden-root", o.golden_root, "the directory holding golden/<arch> (default: golden)");
  cmd->add_option("--filter", sel.filter, "glob over case ids (default: every case)");
  cmd->add_flag("--require-complete", o.require_complete,
                "fail unless every golden row in scope ran here (CI): without it, rows this machine cannot run "
                "(too few GPUs, no vendor library) are reported as not runnable here and the sign-off is scoped");
  cmd->add_option("--tier", sel.tier, "catalog tier: ci | full (default: ci)")->check(CLI::IsMember({"ci", "full"}));
  add_memory_option(cmd, sel);
  CLI::Option* jobs = add_jobs_option(cmd, sel);
  jobs->description("cases at once, in worker processes (default: one per 4 cores, at most 4; 1 under mpirun)");
  cmd->callback([&, jobs] {
    if (!jobs->count()) sel.jobs = default_jobs();
    o.jobs = sel.jobs;
    rc = run_signoff(sel, o);
  });
}

}  // namespace ulpgate::cli
