#include "harness/cli/reports.hpp"

#include <fstream>

#include "harness/build_info.hpp"
#include "harness/core/family.hpp"
#include "harness/report/bundle.hpp"
#include "harness/report/console_table.hpp"
#include "harness/report/csv_report.hpp"
#include "harness/report/html_report.hpp"
#include "harness/report/junit.hpp"

namespace ulpgate::cli {
namespace {

std::ofstream open_report(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw UsageError("cannot write report file '" + path + "'");
  return out;
}

// What a family's within-budget elements are.
const char* within_what(std::string_view family) {
  if (family == "norm") return "rsqrt/accumulation flips";
  if (family == "gemm") return "budget-only claims: inside the bound";
  return "tie flips";
}

}  // namespace

void add_report_options(CLI::App* cmd, ReportOptions& ro) {
  cmd->add_option("--junit", ro.junit, "write JUnit XML here");
  cmd->add_option("--csv", ro.csv, "write one CSV row per case here");
  cmd->add_option("--html", ro.html, "write a self-contained HTML report here (summary, ULP histograms, deviations with their error maps)");
}

void write_reports(const std::vector<CaseResult>& results, const ReportOptions& ro, const GateReport* gate) {
  std::printf("%s", console_table(results).c_str());
  if (!ro.junit.empty()) {
    auto out = open_report(ro.junit);
    write_junit(out, results);
  }
  if (!ro.csv.empty()) {
    auto out = open_report(ro.csv);
    write_csv_report(out, results);
  }
  if (!ro.html.empty()) {
    HtmlReport html;
    html.title = ro.title;
    html.facts = {{"suite", std::string(suite_version()) + " " + suite_commit()}};
    html.results = results;
    if (gate) html.gate = *gate;
    write_html(ro.html, html);
  }
}

namespace {

// run_repro's story of one case; the result for the caller to judge.
CaseResult replay(const std::string& case_id, const Selection& s, const std::string& dump_dir) {
  const std::string backend = resolve_backend(s);
  const std::string arch = s.archs.empty() ? default_archs(backend).front() : s.archs.front();
  const auto b = make_backend(backend, arch);
  std::vector<BundleTensor> tensors;
  const CaseResult r = run_case(case_id, *b, &tensors, s.max_memory);
  std::printf("case     %s\nbackend  %s\n", r.case_id.c_str(), r.backend.c_str());
  if (!r.note.empty()) std::printf("note     %s\n", r.note.c_str());
  std::printf("verdict  %s\nelements %llu: %llu exact, %llu within budget (%s), "
              "%llu over budget, %llu non-finite; %llu NaN; max %g ulp\n",
              std::string(verdict_name(r.verdict)).c_str(), (unsigned long long)r.elements,
              (unsigned long long)r.n_exact, (unsigned long long)r.n_within, within_what(r.family),
              (unsigned long long)r.n_over, (unsigned long long)r.n_nonfinite, (unsigned long long)r.n_nan, r.max_ulp);
  if (!r.message.empty()) std::printf("diagnosis %s\n", r.message.c_str());
  for (const std::string& line : r.first_bad) std::printf("  %s\n", line.c_str());
  if (!dump_dir.empty()) {
    write_bundle(dump_dir, Bundle{r.case_id, suite_version(), suite_commit(), arch, r.backend, r.verdict, r.message,
                                  r.first_bad, std::move(tensors)});
    std::printf("bundle   %s/case.json\n", dump_dir.c_str());
  }
  return r;
}

}  // namespace

int run_repro(const std::string& case_id, const Selection& s, const std::string& dump_dir) {
  return passes(replay(case_id, s, dump_dir).verdict) ? kPass : kFail;
}

int run_repro_from(const std::string& bundle_dir, Selection s, const std::string& dump_dir) {
  const Bundle bundle = read_bundle(bundle_dir);
  if (s.backend == "auto") s.backend = bundle.backend.substr(0, bundle.backend.find('@'));  // "host@host-w64"
  if (s.archs.empty()) s.archs = {bundle.arch};
  const CaseResult r = replay(bundle.case_id, s, dump_dir);
  const std::string was(verdict_name(bundle.verdict)), now(verdict_name(r.verdict));
  if (r.verdict == bundle.verdict)
    std::printf("reproduced: %s, as in the bundle\n", was.c_str());
  else
    std::printf("NOT reproduced: bundle says %s, this run %s\n", was.c_str(), now.c_str());
  return passes(r.verdict) ? kPass : kFail;
}

}  // namespace ulpgate::cli
