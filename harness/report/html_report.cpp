#include "harness/report/html_report.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "harness/golden/csv_table.hpp"
#include "harness/report/console_table.hpp"  // repro_command
#include "harness/report/junit.hpp"          // xml_escape
#include "harness/report/svg.hpp"

namespace ulpgate {

namespace {

// ---- bench CSV --------------------------------------------------------------------------------

constexpr std::array<const char*, 10> kBenchColumns = {"case_id",  "bytes",      "median_us", "min_us",
                                                       "gbps",     "pct_copy",   "target_pct", "target_ms",
                                                       "x_kernel", "result"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "# key=value" with key in [a-z_]+ (as in golden files); nullopt for a free-text comment.
std::optional<std::pair<std::string_view, std::string_view>> provenance_line(std::string_view line) {
  const std::string_view body = trim(line.substr(1));
  const size_t eq = body.find('=');
  if (eq == 0 || eq == std::string_view::npos) return std::nullopt;
  const std::string_view key = trim(body.substr(0, eq));
  if (key.size() != eq || !std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }))
    return std::nullopt;
  return std::pair{key, trim(body.substr(eq + 1))};
}

std::vector<std::pair<std::string, std::string>> bench_provenance(std::string_view text, std::string_view file) {
  std::vector<std::pair<std::string, std::string>> provenance;
  std::map<std::string, unsigned, std::less<>> first_line;
  unsigned line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line.front() != '#') continue;
    const auto kv = provenance_line(line);
    if (!kv) continue;
    const auto [it, fresh] = first_line.emplace(std::string(kv->first), line_no);
    if (!fresh)
      csv::fail_at(file, line_no, "provenance key '" + it->first + "' repeated (first at line " +
                                      std::to_string(it->second) + ")");
    provenance.emplace_back(kv->first, kv->second);
  }
  return provenance;
}

// An optional column: empty is -1, anything else a finite number >= 0.
double optional_number(std::string_view field, std::string_view column, std::string_view file, unsigned line) {
  if (field.empty()) return -1;
  const double v = csv::parse_number(field, column, file, line);
  if (!std::isfinite(v) || v < 0)
    csv::fail_at(file, line, "expected a finite number >= 0 in column '" + std::string(column) + "', got '" +
                                 std::string(field) + "'");
  return v;
}

BenchRow bench_row(const std::array<std::string, 10>& f, std::string_view file, unsigned line) {
  BenchRow r;
  r.id = f[0];
  if (r.id.empty()) csv::fail_at(file, line, "expected a case id in column 'case_id', got an empty field");
  r.bytes = f[1].empty() ? 0 : csv::parse_count(f[1], "bytes", file, line);
  if (f[2].empty()) csv::fail_at(file, line, "expected a number in column 'median_us', got an empty field");
  r.median_us = optional_number(f[2], "median_us", file, line);
  double* optional[] = {&r.min_us, &r.gbps, &r.pct_copy, &r.target_pct, &r.target_ms, &r.x_kernel};
  for (size_t i = 0; i < std::size(optional); ++i) *optional[i] = optional_number(f[3 + i], kBenchColumns[3 + i], file, line);
  if (f[9] != "pass" && f[9] != "FAIL" && f[9] != "ref")
    csv::fail_at(file, line, "expected pass, FAIL or ref in column 'result', got '" + f[9] + "'");
  r.result = f[9];
  return r;
}

// ---- words, badges, numbers -------------------------------------------------------------------

std::string esc(std::string_view s) { return xml_escape(s); }

// Badge colours: good (green) = as expected, warn (amber) = allowed or to review, bad (red) =
// fails, info (blue) = new.
std::string_view verdict_tone(Verdict v) {
  return v == Verdict::exact ? "good" : v == Verdict::within_budget ? "warn" : "bad";
}

std::string_view gate_tone(GateClass c) {
  switch (c) {
    case GateClass::identical: return "good";
    case GateClass::drift:
    case GateClass::prediction_missed: return "warn";
    case GateClass::new_case: return "info";
    default: return "bad";
  }
}

std::string badge(std::string_view text, std::string_view tone) {
  return "<span class=\"badge " + std::string(tone) + "\">" + esc(text) + "</span>";
}

std::string verdict_badge(Verdict v) { return badge(verdict_name(v), verdict_tone(v)); }
std::string gate_badge(GateClass c) { return badge(gate_class_name(c), gate_tone(c)); }

// 4194304 -> "4,194,304": counts of elements are read, not parsed.
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n), s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

// The op of a case id: its first path segment ("quant.group", "allreduce").
std::string_view op_of(std::string_view id) { return id.substr(0, id.find('/')); }

// Family and profile of a gate entry with no result (a missing case): from its id, as the
// catalogs write them (op "quant.group" -> family "quant"; profile = second segment).
std::string family_of_id(std::string_view id) {
  const std::string_view op = op_of(id);
  return std::string(op.substr(0, op.find('.')));
}

std::string profile_of_id(std::string_view id) {
  const size_t slash = id.find('/');
  if (slash == std::string_view::npos) return "";
  const std::string_view rest = id.substr(slash + 1);
  return std::string(rest.substr(0, rest.find('/')));
}

using CaseKey = std::pair<std::string, std::string>;  // (case_id, backend)

std::map<CaseKey, const GateEntry*> gate_index(const HtmlReport& report) {
  std::map<CaseKey, const GateEntry*> index;
  if (report.gate)
    for (const GateEntry& e : report.gate->entries) index.emplace(CaseKey{e.case_id, e.backend}, &e);
  return index;
}

const GateEntry* gate_entry_of(const std::map<CaseKey, const GateEntry*>& index, const CaseResult& r) {
  const auto it = index.find({r.case_id, r.backend});
  return it == index.end() ? nullptr : it->second;
}

std::string table_cell(std::string_view html, std::string_view cls = "") {
  return cls.empty() ? "<td>" + std::string(html) + "</td>" : "<td class=\"" + std::string(cls) + "\">" + std::string(html) + "</td>";
}

// A count cell: grey when 0, red when it counts failures.
std::string count_cell(uint64_t n, bool failure_column) {
  return table_cell(grouped(n), n == 0 ? "num zero" : failure_column ? "num hot" : "num");
}

std::string section(std::string_view id, std::string_view heading, const std::string& body) {
  return "<section id=\"" + std::string(id) + "\">\n<h2>" + esc(heading) + "</h2>\n" + body + "</section>\n";
}

// ---- summary ----------------------------------------------------------------------------------

struct Counts {
  uint64_t cases = 0;
  std::array<uint64_t, kAllVerdicts.size()> verdicts{};
  std::array<uint64_t, kGateClasses> gate{};
};

bool gate_class_fails(GateClass c) { return c == GateClass::regression || c == GateClass::missing; }

std::string counts_row(std::string_view family, std::string_view profile, const Counts& c, bool gated,
                       std::string_view row_class = "") {
  std::string row = row_class.empty() ? "<tr>" : "<tr class=\"" + std::string(row_class) + "\">";
  row += table_cell(esc(family)) + table_cell(esc(profile)) + count_cell(c.cases, false);
  for (Verdict v : kAllVerdicts) row += count_cell(c.verdicts[size_t(v)], !passes(v));
  if (gated)
    for (size_t g = 0; g < kGateClasses; ++g) row += count_cell(c.gate[g], gate_class_fails(GateClass(g)));
  return row + "</tr>\n";
}

std::string counts_table(const HtmlReport& report) {
  std::map<std::pair<std::string, std::string>, Counts> groups;
  Counts total;
  std::map<CaseKey, const CaseResult*> by_case;
  for (const CaseResult& r : report.results) {
    for (Counts* c : {&groups[{r.family, r.profile}], &total}) {
      ++c->cases;
      ++c->verdicts[size_t(r.verdict)];
    }
    by_case.emplace(CaseKey{r.case_id, r.backend}, &r);
  }
  const bool gated = report.gate.has_value();
  if (gated)
    for (const GateEntry& e : report.gate->entries) {
      const auto it = by_case.find({e.case_id, e.backend});
      const auto key = it != by_case.end() ? std::pair{it->second->family, it->second->profile}
                                           : std::pair{family_of_id(e.case_id), profile_of_id(e.case_id)};
      ++groups[key].gate[size_t(e.cls)];
      ++total.gate[size_t(e.cls)];
    }
  if (groups.empty()) return "<p>No case ran.</p>\n";

  std::string head = "<tr><th rowspan=\"2\">family</th><th rowspan=\"2\">profile</th><th rowspan=\"2\">cases</th>"
                     "<th colspan=\"" + std::to_string(kAllVerdicts.size()) + "\">verdict</th>";
  if (gated) head += "<th colspan=\"" + std::to_string(kGateClasses) + "\">golden gate</th>";
  head += "</tr>\n<tr>";
  for (Verdict v : kAllVerdicts) head += "<th>" + verdict_badge(v) + "</th>";
  if (gated)
    for (size_t g = 0; g < kGateClasses; ++g) head += "<th>" + gate_badge(GateClass(g)) + "</th>";
  head += "</tr>\n";
  std::string rows;
  for (const auto& [key, c] : groups) rows += counts_row(key.first, key.second, c, gated);
  rows += counts_row("total", "", total, gated, "total");
  return "<div class=\"wide\"><table class=\"counts\">\n<thead>" + head + "</thead>\n<tbody>\n" + rows +
         "</tbody>\n</table></div>\n";
}

// A bench-only page: the rows against their targets, not an empty case table.
std::string bench_summary(const BenchTable& bench) {
  size_t pass = 0, fail = 0;
  for (const BenchRow& r : bench.rows) (r.result == "pass" ? pass : r.result == "FAIL" ? fail : pass) += r.result != "ref";
  return "<p>" + std::to_string(pass + fail) + " bench rows with a target: " + std::to_string(pass) + " meet it, " +
         std::to_string(fail) + " miss it" + (fail ? " (marked FAIL below)" : "") + ".</p>\n";
}

std::string summary_section(const HtmlReport& report) {
  std::string body;
  if (!report.summary.empty()) {
    std::string text;
    for (const std::string& line : report.summary) text += line + "\n";
    body += "<pre class=\"summary\">" + esc(text) + "</pre>\n";
  }
  if (report.gate) body += "<p><span class=\"label\">Golden gate:</span> " + esc(gate_summary(*report.gate)) + "</p>\n";
  const bool bench_only = report.results.empty() && !report.bench.rows.empty();
  return section("summary", "Summary", body + (bench_only ? bench_summary(report.bench) : counts_table(report)));
}

// ---- histograms -------------------------------------------------------------------------------

// "0", "1", "≤2", ..., "≤512", ">512", "non-finite", as ulp_bin() bins distances.
std::string ulp_bin_label(int bin) {
  if (bin <= 1) return std::to_string(bin);
  if (bin == kUlpBins - 1) return "non-finite";
  if (bin == kUlpBins - 2) return ">" + std::to_string(1 << (bin - 2));
  return "\u2264" + std::to_string(1 << (bin - 1));
}

std::string ulp_bin_tooltip(int bin, uint64_t count) {
  std::string range = bin <= 1                ? std::to_string(bin) + " ULP"
                      : bin == kUlpBins - 1   ? "a NaN or Inf where the reference is finite"
                      : bin == kUlpBins - 2   ? "more than " + std::to_string(1 << (bin - 2)) + " ULP"
                                              : "(" + std::to_string(1 << (bin - 2)) + ", " + std::to_string(1 << (bin - 1)) + "] ULP";
  return range + ": " + grouped(count) + (count == 1 ? " element" : " elements");
}

struct OpHistogram {
  UlpHistogram bins{};
  size_t cases = 0;
  uint64_t elements() const {
    uint64_t n = 0;
    for (uint64_t b : bins) n += b;
    return n;
  }
};

// What each family's max_ulp measures its elements against (case_result.hpp).
std::string_view distance_to(std::string_view op) {
  if (op.starts_with("quant.")) return "the profile's codes";
  if (op.starts_with("norm.")) return "the correctly rounded ideal";
  return "the claimed order's result";
}

std::string histogram_chart(std::string_view op, const OpHistogram& h) {
  SvgBarChart chart;
  chart.title = std::string(op) + ": " + grouped(h.elements()) + " elements of " + std::to_string(h.cases) +
                (h.cases == 1 ? " case" : " cases");
  chart.x_label = "ULP of the output format from " + std::string(distance_to(op));
  chart.y_label = "elements";
  chart.log_y = true;
  for (int b = 0; b < kUlpBins; ++b)
    chart.bars.push_back({ulp_bin_label(b), double(h.bins[size_t(b)]), ulp_bin_tooltip(b, h.bins[size_t(b)])});
  return "<figure>" + svg_bar_chart(chart) + "</figure>\n";
}

std::string histograms_section(const HtmlReport& report) {
  std::map<std::string, OpHistogram, std::less<>> ops;
  for (const CaseResult& r : report.results) {
    OpHistogram& h = ops[std::string(op_of(r.case_id))];
    ++h.cases;
    for (size_t b = 0; b < h.bins.size(); ++b) h.bins[b] += r.ulp_hist[b];
  }
  std::string charts;
  for (const auto& [op, h] : ops)
    if (h.elements() > 0) charts += histogram_chart(op, h);
  if (charts.empty()) return "";
  return section("histograms", "ULP distances, per op",
                 "<p>Every compared element of every case of the op, by its distance in ULPs to what the case "
                 "judges it against: the profile's codes (quantization), the correctly rounded ideal (RMSNorm), the "
                 "result of the claimed accumulation order (GEMM, all-reduce). Log scale, so a single element in a "
                 "bin still shows. Hover a bar for its range and count.</p>\n"
                 "<div class=\"charts\">\n" + charts + "</div>\n");
}

// ---- deviations -------------------------------------------------------------------------------

bool deviates(const CaseResult& r, const GateEntry* g) {
  return !passes(r.verdict) || (g != nullptr && g->cls != GateClass::identical);
}

std::string labelled(std::string_view label, const std::string& html) {
  return "<p><span class=\"label\">" + esc(label) + ":</span> " + html + "</p>\n";
}

std::string case_counts(const CaseResult& r) {
  const std::array<std::pair<const char*, std::string>, 7> cells = {{
      {"elements", grouped(r.elements)},
      {"exact", grouped(r.n_exact)},
      {"within budget", grouped(r.n_within)},
      {"over budget", grouped(r.n_over)},
      {"non-finite", grouped(r.n_nonfinite)},
      {"NaN", grouped(r.n_nan)},
      {"max ULP", csv::number_text(r.max_ulp)},
  }};
  std::string head, row;
  for (const auto& [name, value] : cells) {
    head += "<th>" + std::string(name) + "</th>";
    row += table_cell(value, "num");
  }
  return "<table class=\"case-counts\"><tr>" + head + "</tr><tr>" + row + "</tr></table>\n";
}

std::string case_story(const CaseResult& r, const GateEntry* g, const HtmlReport& report) {
  const bool fails = !passes(r.verdict);
  std::string s = "<section class=\"case" + std::string(fails ? "" : " gate-only") + "\">\n<h3>" +
                  verdict_badge(r.verdict) + (g ? " " + gate_badge(g->cls) : "") + " <code>" + esc(r.case_id) +
                  "</code> <span class=\"backend\">on " + esc(r.backend) + "</span></h3>\n";
  s += case_counts(r);
  if (!r.message.empty()) s += labelled("Diagnosis", esc(r.message));
  if (!r.note.empty()) s += labelled("Note", esc(r.note));
  if (!r.model.empty()) s += labelled("Accumulation", "<code>" + esc(r.model) + "</code>");
  if (g) s += labelled("Golden", gate_badge(g->cls) + (g->detail.empty() ? "" : " " + esc(g->detail)));
  if (!r.first_bad.empty()) {
    std::string lines;
    for (const std::string& line : r.first_bad) lines += line + "\n";
    s += "<p class=\"label\">First bad elements:</p>\n<pre class=\"first-bad\">" + esc(lines) + "</pre>\n";
  }
  const std::string repro = report.repro ? report.repro(r) : repro_command(r.case_id);
  s += "<p class=\"label\">Replay:</p>\n<pre class=\"repro\"><code>" + esc(repro) + "</code></pre>\n";
  if (!r.grids.empty()) {
    s += "<div class=\"charts\">\n";
    for (const ErrorGrid& grid : r.grids) s += "<figure>" + svg_heat_map(grid) + "</figure>\n";
    s += "</div>\n";
  }
  return s + "</section>\n";
}

// Failing cases first, then those that pass but differ from their golden row; each group in run
// order. The cap keeps the page loadable when a whole family breaks.
std::string deviations_section(const HtmlReport& report) {
  const auto index = gate_index(report);
  using Deviation = std::pair<const CaseResult*, const GateEntry*>;
  std::vector<Deviation> deviations, gate_only;
  for (const CaseResult& r : report.results) {
    const GateEntry* g = gate_entry_of(index, r);
    if (deviates(r, g)) (passes(r.verdict) ? gate_only : deviations).emplace_back(&r, g);
  }
  deviations.insert(deviations.end(), gate_only.begin(), gate_only.end());
  const size_t shown = std::min(deviations.size(), report.max_case_sections), more = deviations.size() - shown;
  std::string body;
  for (size_t i = 0; i < shown; ++i) body += case_story(*deviations[i].first, deviations[i].second, report);
  if (shown == 0) return "";
  if (more > 0)
    body += "<p class=\"more\">" + grouped(more) + (more == 1 ? " more case deviates" : " more cases deviate") +
            ": not drawn here (the first " + std::to_string(shown) + " are); the summary and " +
            (report.gate ? "the golden diff count them all" : "the console report list them all") + ".</p>\n";
  return section("deviations", "Deviations", "<p>Cases that fail their verdict or differ from their golden row, "
                                             "each with what was measured, the diagnosis and the command that replays it.</p>\n" +
                                                 body);
}

// ---- golden diff ------------------------------------------------------------------------------

std::string golden_diff_section(const HtmlReport& report) {
  if (!report.gate) return "";
  std::string rows;
  for (const GateEntry& e : report.gate->entries) {
    if (e.cls == GateClass::identical && e.detail.empty()) continue;
    rows += "<tr>" + table_cell(gate_badge(e.cls)) + table_cell("<code>" + esc(e.case_id) + "</code>", "id") +
            table_cell(esc(e.backend)) + table_cell(esc(e.detail)) + "</tr>\n";
  }
  const std::string line = "<p>" + esc(gate_summary(*report.gate)) + "</p>\n";
  if (rows.empty()) return section("golden-diff", "Golden diff", line + "<p>Every case identical to the golden file.</p>\n");
  return section("golden-diff", "Golden diff",
                 line + "<table class=\"gate\">\n<thead><tr><th>class</th><th>case id</th><th>backend</th><th>detail</th></tr></thead>\n<tbody>\n" +
                     rows + "</tbody>\n</table>\n");
}

// ---- bench ------------------------------------------------------------------------------------

bool failed(const BenchRow& r) { return r.result == "FAIL"; }

std::string bench_result_badge(const BenchRow& r) {
  return badge(r.result, failed(r) ? "bad" : r.result == "pass" ? "good" : "info");
}

std::string copy_chart(const BenchTable& bench) {
  SvgHBarChart chart;
  chart.title = "Effective bandwidth, % of the D2D copy measured in the same run";
  chart.value_label = "% of copy bandwidth (bytes read + written / median time)";
  chart.reference = 100;
  chart.reference_label = "copy roofline 100%";
  for (const BenchRow& r : bench.rows) {
    if (r.pct_copy < 0 || r.result == "ref") continue;  // the copy itself is the roofline line
    std::string text = fixed_number(r.pct_copy, 1) + "%";
    if (r.gbps >= 0) text += " (" + fixed_number(r.gbps, 0) + " GB/s)";
    if (r.target_pct >= 0) text += ", target " + fixed_number(r.target_pct, 0) + "%";
    chart.bars.push_back({r.id, r.pct_copy, r.target_pct, text, failed(r)});
  }
  return chart.bars.empty() ? "" : "<figure>" + svg_hbar_chart(chart) + "</figure>\n";
}

std::string time_chart(const BenchTable& bench) {
  SvgHBarChart chart;
  chart.title = "Times against their targets (shorter is better)";
  chart.value_label = "median time, ms";
  for (const BenchRow& r : bench.rows) {
    if (r.target_ms < 0) continue;
    const double ms = r.median_us / 1e3;
    std::string text = svg_compact_number(ms) + " ms, target " + svg_compact_number(r.target_ms) + " ms";
    if (r.x_kernel >= 0) text += ", " + fixed_number(r.x_kernel, 1) + "x the kernel";
    chart.bars.push_back({r.id, ms, r.target_ms, text, failed(r)});
  }
  return chart.bars.empty() ? "" : "<figure>" + svg_hbar_chart(chart) + "</figure>\n";
}

// "" for an absent (-1) value.
std::string optional_cell(double v, int decimals, std::string_view suffix = "") {
  return table_cell(v < 0 ? "" : fixed_number(v, decimals) + std::string(suffix), "num");
}

std::string bench_target(const BenchRow& r) {
  if (r.target_pct >= 0) return "\u2265 " + fixed_number(r.target_pct, 0) + "% copy";
  if (r.target_ms >= 0) return "\u2264 " + svg_compact_number(r.target_ms) + " ms";
  return "";
}

std::string bench_table(const BenchTable& bench) {
  std::string rows;
  for (const BenchRow& r : bench.rows)
    rows += "<tr>" + table_cell("<code>" + esc(r.id) + "</code>", "id") +
            table_cell(r.bytes ? grouped(r.bytes) : "", "num") + table_cell(fixed_number(r.median_us, 2), "num") +
            optional_cell(r.min_us, 2) + optional_cell(r.gbps, 1) + optional_cell(r.pct_copy, 1, "%") +
            table_cell(esc(bench_target(r)), "nowrap") + optional_cell(r.x_kernel, 1, "x") + table_cell(bench_result_badge(r)) +
            "</tr>\n";
  return "<table class=\"bench\">\n<thead><tr><th>case id</th><th>bytes</th><th>median \u00b5s</th><th>min \u00b5s</th>"
         "<th>GB/s</th><th>% copy</th><th>target</th><th>\u00d7 kernel</th><th>result</th></tr></thead>\n<tbody>\n" +
         rows + "</tbody>\n</table>\n";
}

std::string facts_list(const std::vector<std::pair<std::string, std::string>>& facts, std::string_view cls) {
  if (facts.empty()) return "";
  std::string s = "<dl class=\"" + std::string(cls) + "\">\n";
  for (const auto& [key, value] : facts) s += "<dt>" + esc(key) + "</dt><dd>" + esc(value) + "</dd>\n";
  return s + "</dl>\n";
}

std::string bench_section(const HtmlReport& report) {
  const BenchTable& bench = report.bench;
  if (bench.rows.empty()) return "";
  return section("bench", "Bench", facts_list(bench.provenance, "facts small") + "<div class=\"charts\">\n" +
                                       copy_chart(bench) + time_chart(bench) + "</div>\n" + bench_table(bench));
}

// ---- page -------------------------------------------------------------------------------------

// Printable without backgrounds: badges keep a border and their words, charts draw their own ink.
constexpr std::string_view kStyle = R"(
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1d1d1f; background: #fff; max-width: 1240px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.5em; }
h2 { font-size: 1.3em; margin: 1.8em 0 0.6em; padding-bottom: 4px; border-bottom: 2px solid #d0d0d0; }
h3 { font-size: 1.05em; margin: 0 0 0.6em; overflow-wrap: anywhere; }
nav { margin: 0 0 1em; padding: 6px 0; border-top: 1px solid #e0e0e0; border-bottom: 1px solid #e0e0e0; }
nav a { margin-right: 1.2em; color: #1d4f91; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; margin: 0 0 1em; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
dl.small { font-size: 12.5px; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
pre { background: #f6f8fa; border: 1px solid #d8dde3; border-radius: 4px; padding: 8px 10px; margin: 0.3em 0 0.8em;
  white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 0.4em 0 1em; }
th, td { border: 1px solid #c8c8c8; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f1f1f1; font-weight: 600; }
th[colspan] { text-align: center; }
th .badge { white-space: normal; }
table.counts { font-size: 13px; }
table.counts th, table.counts td { padding: 2px 4px; }
table.counts .badge { font-size: 11px; padding: 0 3px; }
table.counts td:nth-child(-n+2) { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.zero { color: #b0b0b0; }
td.hot { color: #b00020; font-weight: 700; }
td.id { overflow-wrap: anywhere; }
td.nowrap { white-space: nowrap; }
tr.total td { font-weight: 700; border-top: 2px solid #888; }
.wide { overflow-x: auto; }
.badge { display: inline-block; padding: 0 6px; border: 1px solid; border-radius: 4px; font-size: 12px;
  font-weight: 600; line-height: 1.5; white-space: nowrap; }
.good { background: #e3f4e6; color: #14632a; border-color: #8cc79a; }
.warn { background: #fff1cc; color: #7a4d00; border-color: #e0b050; }
.bad { background: #fde4e4; color: #9b1c1c; border-color: #e49a9a; }
.info { background: #e4eefc; color: #1d4f91; border-color: #9bb8e4; }
.label { color: #444; font-weight: 600; margin: 0.4em 0 0.2em; }
.backend { color: #555; font-weight: normal; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-start; }
figure { margin: 0.4em 0; }
svg.chart { max-width: 100%; height: auto; }
section.case { border: 1px solid #ccc; border-left: 5px solid #c0392b; border-radius: 4px; padding: 10px 14px; margin: 14px 0; }
section.case.gate-only { border-left-color: #e0a020; }
section.case p { margin: 0.3em 0; }
.more { font-style: italic; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  h2 { break-after: avoid; }
  section.case, figure, tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  th, pre, .badge { background: none; }
  .wide { overflow: visible; }
}
)";

struct PageSection {
  std::string_view id, name;
  std::string html;
};

std::string navigation(const std::vector<PageSection>& sections) {
  std::string s = "<nav>";
  for (const PageSection& p : sections)
    if (!p.html.empty()) s += "<a href=\"#" + std::string(p.id) + "\">" + esc(p.name) + "</a>";
  return s + "</nav>\n";
}

}  // namespace

BenchTable parse_bench_csv(std::string_view text, std::string_view file_name) {
  csv::check_plain_text(text, file_name);
  BenchTable table;
  table.provenance = bench_provenance(text, file_name);
  csv::read_rows<kBenchColumns.size()>(file_name, text, kBenchColumns, [&](const auto& fields, unsigned line) {
    table.rows.push_back(bench_row(fields, file_name, line));
  });
  return table;
}

std::string render_html(const HtmlReport& report) {
  const std::vector<PageSection> sections = {
      {"summary", "Summary", summary_section(report)},
      {"histograms", "Histograms", histograms_section(report)},
      {"deviations", "Deviations", deviations_section(report)},
      {"golden-diff", "Golden diff", golden_diff_section(report)},
      {"bench", "Bench", bench_section(report)},
  };
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
                     esc(report.title) + "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
  page += "<header>\n<h1>" + esc(report.title) + "</h1>\n" + facts_list(report.facts, "facts") + "</header>\n";
  page += navigation(sections);
  page += "<main>\n";
  for (const PageSection& p : sections) page += p.html;
  return page + "</main>\n</body>\n</html>\n";
}

void write_html(const std::filesystem::path& path, const HtmlReport& report) {
  const std::string html = render_html(report);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw UsageError(path.string() + ": cannot write: " + std::strerror(errno));
  out.write(html.data(), std::streamsize(html.size()));
  out.close();
  if (!out) throw UsageError(path.string() + ": writing failed: " + std::strerror(errno));
}

}  // namespace ulpgate
