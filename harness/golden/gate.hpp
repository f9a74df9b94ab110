// The golden gate (DESIGN.md): classify each case of a run against the golden rows of its arch.
//   identical   same digest as the golden
//   drift       different digest, verdict still passing: fails the gate unless the golden is
//               updated in the same change, so every bit change is reviewed
//   regression  the run's verdict fails (over-budget, non-finite, layout, error)
//   new         passing, but not in the golden: fails unless the run allows new cases
//   missing     in the golden, in the run's scope, but not run (e.g. a case that was renamed or
//               dropped from the catalog): fails, so a golden row never disappears unnoticed
//   prediction missed
//               the golden row is a prediction (golden/<arch> from the emulation, no hardware
//               yet) and the digest differs while the verdict still passes: a correct kernel
//               that does not do what the prediction assumed (another accumulator, rsqrt, ...),
//               told apart from a bug (regression). Fails until `golden update --hardware`.
#pragma once

#include <array>
#include <filesystem>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/case_result.hpp"
#include "harness/core/processes.hpp"
#include "harness/golden/golden_file.hpp"

namespace ulpgate {

enum class GateClass : unsigned char { identical, drift, regression, new_case, missing, prediction_missed };
inline constexpr size_t kGateClasses = 6;
// "identical", "drift", "regression", "new", "missing", "prediction missed"
std::string_view gate_class_name(GateClass c);

struct GateEntry {
  std::string case_id, backend;
  GateClass cls = GateClass::identical;
  std::string detail;  // what changed or failed; empty for identical
};

struct GateReport {
  std::vector<GateEntry> entries;  // sorted by (case_id, backend)
  std::array<size_t, kGateClasses> counts{};  // indexed by GateClass
  size_t count(GateClass c) const { return counts[size_t(c)]; }
};

// Whether the run selected (case_id, backend): its --filter / --case and --backend. Golden rows
// outside the scope are not reported missing. An empty function means everything is in scope.
using RunScope = std::function<bool(std::string_view case_id, std::string_view backend)>;

// predicted: the golden rows are predictions (is_prediction of their file's provenance).
GateReport gate(std::span<const CaseResult> run, std::span<const GoldenRow> golden,
                const RunScope& in_scope = {}, bool predicted = false);

// "3 identical, 1 drift, 0 regression, 2 new, 0 missing"
std::string gate_summary(const GateReport& report);

// What a gate prints: a line per entry that is not plainly identical ("drift      ID [backend]
// detail"), then "gate DIR: <summary>" (noting when new cases were allowed).
std::string gate_text(const GateReport& report, std::string_view golden_dir, bool allow_new = false);

// 1 (kFail) on any drift, regression, missing row or missed prediction, and on new cases unless
// allow_new; else 0.
int gate_exit_code(const GateReport& report, bool allow_new = false);

// Golden rows of cases a backend here declined (too few GPUs for the world size, a library
// without the op): outside what this machine can sign off, each with the reason (detail), and not
// `missing` (rows that should have run and did not). Taken out of the report and its counts.
std::vector<GateEntry> take_not_runnable(GateReport& report, std::span<const Declined> declined);

// Known, explained differences between a prediction and the hardware golden rows (a file
// case_id,reason: e.g. golden/sm90/emulation-differences.csv, where the H200's rsqrtf is not
// correctly rounded). A listed drift becomes identical with "expected: reason" as its detail; a
// listed case that no longer drifts is reported as drift ("stale entry"), so the list stays true.
// UsageError FILE:LINE on a malformed file.
void apply_known_differences(GateReport& report, const std::filesystem::path& file);

}  // namespace ulpgate
