#include "harness/golden/golden_update.hpp"

#include <algorithm>
#include <ctime>
#include <vector>

namespace ulpgate {

namespace fs = std::filesystem;

std::string today_utc() {
  char buf[16];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

std::string update_golden_file(const fs::path& path, std::span<const CaseResult> results, const std::string& arch,
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
  next.provenance.date = today_utc();
  fs::create_directories(path.parent_path());
  write_golden(path, next, {.allow_overwrite = true});
  return golden_diff(old_rows, next.rows) + "wrote " + path.string() + " (" + std::to_string(next.rows.size()) + " rows)\n";
}

GateReport gate_against(std::span<const CaseResult> results, const std::map<std::string_view, fs::path>& files,
                        const RunScope& scope) {
  GateReport report;
  for (const auto& [family, path] : files) {
    std::vector<CaseResult> run;
    for (const CaseResult& r : results)
      if (r.family == family) run.push_back(r);
    const GateReport part = gate(run, read_golden(path).rows, scope);
    report.entries.insert(report.entries.end(), part.entries.begin(), part.entries.end());
    for (size_t i = 0; i < report.counts.size(); ++i) report.counts[i] += part.counts[i];
  }
  return report;
}

}  // namespace ulpgate
