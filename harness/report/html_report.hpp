// `--html FILE`: one self-contained HTML page for people (a sign-off, a CI artefact): inline CSS
// and inline SVG only, no script, no external reference, so it opens anywhere offline, prints,
// and can be attached to a ticket as is. Sections, each with a stable id (suites/report/
// browser_check.sh looks for them in the rendered page):
//
//   summary      the caller's one-screen summary, then case counts per family x profile: one
//                column per verdict and, when gated, per gate class; a totals row (always there)
//   histograms   per op (the case id's first segment), its compared elements by ULP distance to
//                the ideal (CaseResult::ulp_hist summed), log scale
//   deviations   one <section class="case"> per case that fails its verdict or is not identical
//                to its golden row: counts, diagnosis, note, gate class and detail, first bad
//                elements, the repro command and each error map as a heat map (at most
//                HtmlReport::max_case_sections, then a line saying how many more)
//   golden-diff  when gated: every gate entry that is not identical or carries a detail
//   bench        `ulpgate bench --csv` rows: % of copy bandwidth against the copy roofline and
//                each row's target, times against their targets, and the table
//
// A section without data is left out, except summary. Every string from data is escaped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/core/case_result.hpp"
#include "harness/golden/gate.hpp"

namespace ulpgate {

// One row of `ulpgate bench`'s table (the CSV that bench --csv writes: golden/sm90/bench.csv is a
// real one). -1 (0 for bytes) where the CSV leaves the field empty.
struct BenchRow {
  std::string id;
  uint64_t bytes = 0;
  double median_us = 0, min_us = -1, gbps = -1, pct_copy = -1, target_pct = -1, target_ms = -1, x_kernel = -1;
  std::string result;  // "pass" | "FAIL" | "ref"
};

// Parses that CSV: provenance comment lines '# key=value' (key in [a-z_]) go to `provenance` in
// file order, other '#' lines are free text. Every problem is a UsageError "FILE:LINE: what was
// expected": a header other than bench's, a malformed, negative or non-finite number, a result
// other than pass, FAIL or ref.
struct BenchTable {
  std::vector<std::pair<std::string, std::string>> provenance;
  std::vector<BenchRow> rows;
};
BenchTable parse_bench_csv(std::string_view text, std::string_view file_name);

struct HtmlReport {
  std::string title;                                          // "ulpgate signoff gfx942"
  std::vector<std::pair<std::string, std::string>> facts;     // header key/value lines: arch, backend, source, commit, date, golden dir...
  std::vector<std::string> summary;                           // a one-screen summary, shown first in a <pre> (may be empty)
  std::vector<CaseResult> results;                            // may be empty (a bench-only page)
  std::optional<GateReport> gate;                             // when the run was gated
  std::function<std::string(const CaseResult&)> repro;        // the repro command of a case (empty function: "ulpgate repro '<id>'")
  BenchTable bench;                                           // empty rows: no bench section
  size_t max_case_sections = 50;                              // deviations drawn in full; the rest counted
};

std::string render_html(const HtmlReport& report);
void write_html(const std::filesystem::path& path, const HtmlReport& report);  // UsageError when the file cannot be written

}  // namespace ulpgate
