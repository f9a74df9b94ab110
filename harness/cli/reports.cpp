#include "harness/cli/reports.hpp"

#include <fstream>

#include "harness/quant/run_case.hpp"
#include "harness/report/bundle.hpp"
#include "harness/report/console_table.hpp"
#include "harness/report/csv_report.hpp"
#include "harness/report/junit.hpp"

namespace ulpgate::cli {
namespace {

std::ofstream open_report(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw UsageError("cannot write report file '" + path + "'");
  return out;
}

}  // namespace

void add_report_options(CLI::App* cmd, ReportOptions& ro) {
  cmd->add_option("--junit", ro.junit, "write JUnit XML here");
  cmd->add_option("--csv", ro.csv, "write one CSV row per case here");
}

void write_reports(const std::vector<CaseResult>& results, const ReportOptions& ro) {
  std::printf("%s", console_table(results).c_str());
  if (!ro.junit.empty()) {
    auto out = open_report(ro.junit);
    write_junit(out, results);
  }
  if (!ro.csv.empty()) {
    auto out = open_report(ro.csv);
    write_csv_report(out, results);
  }
}

int run_repro(const std::string& case_id, const Selection& s, const std::string& dump_dir) {
  const quant::Case c = quant::Case::parse(case_id);
  const std::string backend = resolve_backend(s.backend);
  const std::string arch = s.archs.empty() ? default_archs(backend).front() : s.archs.front();
  const auto b = make_backend(backend, arch);
  const quant::CaseRun run = quant::run_case(c, *b);
  const CaseResult& r = run.result;
  std::printf("case     %s\nbackend  %s\nverdict  %s\nelements %llu: %llu exact, %llu within budget (tie flips), "
              "%llu over budget, %llu non-finite; %llu NaN; max %g ulp\n",
              r.case_id.c_str(), r.backend.c_str(), std::string(verdict_name(r.verdict)).c_str(),
              (unsigned long long)r.elements, (unsigned long long)r.n_exact, (unsigned long long)r.n_within,
              (unsigned long long)r.n_over, (unsigned long long)r.n_nonfinite, (unsigned long long)r.n_nan, r.max_ulp);
  if (!r.message.empty()) std::printf("diagnosis %s\n", r.message.c_str());
  for (const std::string& line : r.first_bad) std::printf("  %s\n", line.c_str());
  if (!dump_dir.empty()) {
    const quant::Spec& sp = c.spec;
    const quant::ScaleShape ss = sp.scale_shape();
    const int64_t storage = int64_t(run.storage.size());
    Bundle bundle{r.case_id, ULPGATE_VERSION, ULPGATE_COMMIT, arch, r.backend, r.verdict, r.message, r.first_bad, {}};
    bundle.tensors = {
        bundle_tensor("x", "input", std::string(format_name(c.input)), {sp.m, sp.k},
                      std::span<const std::byte>(run.inputs.raw)),
        bundle_tensor("codes_expected", "expected", std::string(format_name(sp.format)), {sp.m, sp.k},
                      std::span<const uint8_t>(run.expected.profile.codes)),
        bundle_tensor("codes_ideal", "expected-ideal", std::string(format_name(sp.format)), {sp.m, sp.k},
                      std::span<const uint8_t>(run.expected.ideal)),
        bundle_tensor("codes_actual", "actual", std::string(format_name(sp.format)), {sp.m, sp.k},
                      std::span<const uint8_t>(run.codes)),
        bundle_tensor("scales_expected", "expected", "fp32", {ss.m, ss.g},
                      std::span<const float>(run.expected.profile.scales)),
        bundle_tensor("scale_storage_expected", "expected", "uint8", {storage},
                      std::span<const uint8_t>(run.expected.profile.storage)),
        bundle_tensor("scale_storage_actual", "actual", "uint8", {storage}, std::span<const uint8_t>(run.storage)),
    };
    write_bundle(dump_dir, bundle);
    std::printf("bundle   %s/case.json\n", dump_dir.c_str());
  }
  return passes(r.verdict) ? kPass : kFail;
}

}  // namespace ulpgate::cli
