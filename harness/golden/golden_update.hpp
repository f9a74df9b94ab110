// Writing a run's rows into golden/<arch>/<family>.csv, and gating a run against those files: what
// `ulpgate golden update` and `ulpgate gate` share with the embedding API (libulpgate.so).
#pragma once

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "harness/core/case_result.hpp"
#include "harness/golden/gate.hpp"

namespace ulpgate {

// Where golden rows come from: real hardware (device, driver, toolkit named) or an emulation.
struct HardwareInfo {
  bool hardware = false;
  std::string device, driver, toolkit;
};

// "YYYY-MM-DD" (UTC), the provenance date.
std::string today_utc();

// Rewrites one family's golden file with these rows; rows of other (case, backend) pairs stay.
// Returns what changed and a "wrote PATH (N rows)" line.
std::string update_golden_file(const std::filesystem::path& path, std::span<const CaseResult> results,
                               const std::string& arch, const HardwareInfo& hw);

// What regenerating the file from these results would change (rows, or a prediction's facts and
// assumptions), provenance aside; empty when the file is current. Writes nothing.
std::string stale_golden_file(const std::filesystem::path& path, std::span<const CaseResult> results,
                              const std::string& arch, const HardwareInfo& hw);

// Gates results against each family's file in `files` (family name -> path; every family the
// results have must be there), golden rows outside `scope` ignored.
GateReport gate_against(std::span<const CaseResult> results, const std::map<std::string_view, std::filesystem::path>& files,
                        const RunScope& scope);

}  // namespace ulpgate
