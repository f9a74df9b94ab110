#include "harness/golden/golden_update.hpp"

#include <algorithm>
#include <ctime>
#include <vector>

#include "harness/build_info.hpp"
#include "harness/golden/prediction.hpp"

namespace ulpgate {

namespace fs = std::filesystem;

std::string today_utc() {
  char buf[16];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

namespace {

// The file as it was (empty when new) and as these results make it. Observations replacing a
// prediction replace all of it: a predicted row the hardware did not run is dropped (and shown as
// removed), never relabelled as observed. A prediction's notes are its arch's facts; hardware
// observations have none.
std::pair<GoldenFile, GoldenFile> old_and_next(const fs::path& path, std::span<const CaseResult> results,
                                               const std::string& arch, const HardwareInfo& hw) {
  GoldenFile old, next;
  if (fs::exists(path)) old = read_golden(path);
  const bool replaces_prediction = hw.hardware && is_prediction(old.provenance);
  next.provenance = old.provenance;
  next.notes = old.notes;
  for (const GoldenRow& row : old.rows)
    if (!replaces_prediction &&
        std::none_of(results.begin(), results.end(),
                     [&](const CaseResult& r) { return r.case_id == row.case_id && r.backend == row.backend; }))
      next.rows.push_back(row);
  for (const CaseResult& r : results) next.rows.push_back(golden_row(r));
  if (hw.hardware) next.notes.clear();
  else if (predicts_hardware(arch) && !results.empty()) next.notes = prediction_notes(arch, results.front().family);
  next.provenance.arch = arch;
  next.provenance.source = hw.hardware ? GoldenSource::hardware : GoldenSource::emulation;
  next.provenance.device = !hw.device.empty() ? hw.device : hw.hardware ? "unnamed device" : "host-SIMT emulation (CPU)";
  next.provenance.driver = hw.driver;
  next.provenance.toolkit = !hw.toolkit.empty() ? hw.toolkit : std::string("host compiler ") + __VERSION__;
  next.provenance.suite_version = suite_version();
  next.provenance.commit = suite_commit();
  next.provenance.date = today_utc();
  return {std::move(old), std::move(next)};
}

}  // namespace

std::string update_golden_file(const fs::path& path, std::span<const CaseResult> results, const std::string& arch,
                               const HardwareInfo& hw) {
  const auto [old, next] = old_and_next(path, results, arch, hw);
  fs::create_directories(path.parent_path());
  write_golden(path, next, {.allow_overwrite = true});
  return golden_diff(old.rows, next.rows) + "wrote " + path.string() + " (" + std::to_string(next.rows.size()) + " rows)\n";
}

std::string stale_golden_file(const fs::path& path, std::span<const CaseResult> results, const std::string& arch,
                              const HardwareInfo& hw) {
  if (!fs::exists(path)) return path.string() + ": missing\n";
  const auto [old, next] = old_and_next(path, results, arch, hw);
  std::string s;
  if (old.notes != next.notes) s += path.string() + ": the header's facts and assumptions changed\n";
  std::vector<GoldenRow> old_rows = old.rows, next_rows = next.rows;
  if (!std::is_permutation(old_rows.begin(), old_rows.end(), next_rows.begin(), next_rows.end()))
    s += path.string() + ":\n" + golden_diff(old_rows, next_rows);
  return s;
}

GateReport gate_against(std::span<const CaseResult> results, const std::map<std::string_view, fs::path>& files,
                        const RunScope& scope) {
  GateReport report;
  for (const auto& [family, path] : files) {
    std::vector<CaseResult> run;
    for (const CaseResult& r : results)
      if (r.family == family) run.push_back(r);
    const GoldenFile golden = read_golden(path);
    const GateReport part = gate(run, golden.rows, scope, is_prediction(golden.provenance));
    report.entries.insert(report.entries.end(), part.entries.begin(), part.entries.end());
    for (size_t i = 0; i < report.counts.size(); ++i) report.counts[i] += part.counts[i];
  }
  return report;
}

}  // namespace ulpgate
