// The HTML report and its SVG charts: one self-contained page (no script, no external reference),
// each section present exactly when it has data, every string from data escaped, bar heights that
// follow the counts, heat maps with "no value" cells, the case-section cap, and the bench CSV
// reader on a real file and on malformed ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness/report/console_table.hpp"
#include "harness/report/html_report.hpp"
#include "harness/report/junit.hpp"
#include "harness/report/svg.hpp"
#include "reference/formats/formats.hpp"
#include "suites/harness/temp_dir.hpp"
#include "suites/harness/usage_error.hpp"

namespace ulpgate {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kSectionIds = {"summary", "histograms", "deviations", "golden-diff", "bench"};

CaseResult result(std::string id, Verdict v, std::string profile = "vllm") {
  CaseResult r;
  r.case_id = std::move(id);
  r.family = r.case_id.substr(0, r.case_id.find('.'));
  r.profile = std::move(profile);
  r.backend = "host";
  r.verdict = v;
  r.elements = 1024;
  r.n_exact = passes(v) ? 1020 : 1000;
  r.n_within = 4;
  r.n_over = passes(v) ? 0 : 20;
  r.max_ulp = passes(v) ? 1 : 37.5;
  r.ulp_hist[0] = r.n_exact;
  r.ulp_hist[1] = r.n_within;
  r.ulp_hist[7] = r.n_over;
  if (!passes(v)) {
    r.message = "scale rounded up where the profile rounds down";
    r.first_bad = {"y[3,17] = 0x7E, expected 0x7D (37.5 ulp)", "y[3,18] = 0x7E, expected 0x7C"};
  }
  return r;
}

ErrorGrid grid_with_nans() {
  ErrorGrid g;
  g.title = "bad elements by (row, group)";
  g.row_label = "row";
  g.col_label = "group";
  g.value_label = "bad elements";
  g.rows = 3;
  g.cols = 4;
  g.cells = {0, 1, NAN, 3, 4, NAN, 6, 7, 8, 9, 10, NAN};
  return g;
}

BenchTable small_bench() {
  BenchTable b;
  b.provenance = {{"arch", "sm90"}, {"device", "NVIDIA H200"}};
  b.rows.push_back({"copy.d2d/1GiB", 2147483648ull, 504.13, 502.08, 4259.8, 100, -1, -1, -1, "ref"});
  b.rows.push_back({"quant.group/vllm/x", 711983104, 179.2, 176.5, 3973.1, 93.3, 85, -1, -1, "pass"});
  b.rows.push_back({"norm.rms/vllm/x", 939538432, 300, 290, 3000, 70.4, 90, -1, -1, "FAIL"});
  b.rows.push_back({"reference.ideal+compare:gemm.block/x", 0, 41487.66, -1, -1, -1, -1, 50, 57.8, "pass"});
  return b;
}

// A report with data for every section: a passing case, a failing one with an error map, a
// gate with drift and a missing row, and bench rows.
HtmlReport full_report() {
  HtmlReport report;
  report.title = "ulpgate signoff gfx942";
  report.facts = {{"arch", "gfx942"}, {"backend", "hip"}, {"commit", "3084832cf61d"}};
  report.summary = {"2 cases: 1 exact, 1 over-budget", "gate: 1 drift, 1 missing"};
  report.results.push_back(result("quant.group/vllm/e4m3fn/bf16/64x256/gs128/row/normal/s1", Verdict::exact));
  report.results.push_back(result("gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/256x256x512/normal/s1",
                                  Verdict::over_budget, "deepgemm"));
  report.results.back().grids.push_back(grid_with_nans());
  GateReport gate;
  gate.entries = {
      {report.results[1].case_id, "host", GateClass::regression, "verdict exact -> over-budget"},
      {"norm.rms/vllm/bf16/4x4096/normal/s1", "host", GateClass::missing, "in the golden, not run"},
      {report.results[0].case_id, "host", GateClass::drift, "digest 0123456789abcdef -> fedcba9876543210"},
  };
  for (const GateEntry& e : gate.entries) ++gate.counts[size_t(e.cls)];
  report.gate = gate;
  report.bench = small_bench();
  return report;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

HtmlReport titled(std::string title) {
  HtmlReport report;
  report.title = std::move(title);
  return report;
}

bool has_section(const std::string& html, const std::string& id) {
  return html.find("<section id=\"" + id + "\">") != std::string::npos;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// The text of one section of a page.
std::string section_of(const std::string& html, const std::string& id) {
  const size_t begin = html.find("<section id=\"" + id + "\">");
  if (begin == std::string::npos) return "";
  return html.substr(begin, html.find("</section>\n<section id=", begin + 1) - begin);
}

// Heights of a bar chart's bars by the label their <title> starts with ("1 ULP: 4 elements").
std::map<std::string, double> bar_heights(const std::string& svg) {
  static const std::regex bar(R"re(<rect class="bar" x="[-0-9.]+" y="[-0-9.]+" width="[0-9.]+" height="([0-9.]+)" fill="[^"]*"><title>([^<]*)</title>)re");
  std::map<std::string, double> heights;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar); it != std::sregex_iterator(); ++it)
    heights[(*it)[2].str()] = std::stod((*it)[1].str());
  return heights;
}

TEST(HtmlReport, IsOneSelfContainedDocument) {
  const std::string html = render_html(full_report());
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>\n"));
  EXPECT_EQ(count_of(lower(html), "<html"), 1u);
  EXPECT_EQ(count_of(lower(html), "</html>"), 1u);
  EXPECT_TRUE(html.ends_with("</html>\n"));
  const std::string l = lower(html);
  for (const char* banned : {"<script", "src=", "url(", "@import", "http:", "https:", "javascript:"})
    EXPECT_EQ(l.find(banned), std::string::npos) << banned;
  // No event-handler attribute (onload=, onclick=, ...) either.
  EXPECT_FALSE(std::regex_search(l, std::regex(R"( on[a-z]+=)")));
  // Every link points into the page itself.
  static const std::regex href(R"re(href="([^"]*)")re");
  size_t links = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), href); it != std::sregex_iterator(); ++it, ++links)
    EXPECT_EQ((*it)[1].str().front(), '#') << (*it)[1].str();
  EXPECT_EQ(links, kSectionIds.size());  // the navigation, one link per present section
  EXPECT_EQ(render_html(full_report()), html) << "same report, same bytes";
}

TEST(HtmlReport, EachSectionIsThereExactlyWhenItHasData) {
  const std::string full = render_html(full_report());
  for (const std::string& id : kSectionIds) EXPECT_TRUE(has_section(full, id)) << id;

  const std::string empty = render_html(titled("empty"));
  EXPECT_TRUE(has_section(empty, "summary"));
  for (const std::string& id : kSectionIds) {
    if (id != "summary") {
      EXPECT_FALSE(has_section(empty, id)) << id;
    }
  }
  EXPECT_NE(empty.find("No case ran."), std::string::npos);

  HtmlReport bench_only = titled("bench");
  bench_only.bench = small_bench();
  const std::string bench = render_html(bench_only);
  EXPECT_TRUE(has_section(bench, "summary"));
  EXPECT_TRUE(has_section(bench, "bench"));
  for (const char* id : {"histograms", "deviations", "golden-diff"}) EXPECT_FALSE(has_section(bench, id)) << id;
  // Its summary counts the rows against their targets, not an empty case table.
  EXPECT_NE(bench.find("3 bench rows with a target: 2 meet it, 1 miss it"), std::string::npos);
  EXPECT_EQ(bench.find("No case ran."), std::string::npos);

  // Passing and identical: no deviations, a golden diff that says so.
  HtmlReport clean = titled("clean");
  clean.results.push_back(result("quant.group/vllm/a", Verdict::exact));
  clean.gate = GateReport{};
  clean.gate->entries = {{"quant.group/vllm/a", "host", GateClass::identical, ""}};
  clean.gate->counts[size_t(GateClass::identical)] = 1;
  const std::string html = render_html(clean);
  EXPECT_TRUE(has_section(html, "histograms"));
  EXPECT_FALSE(has_section(html, "deviations"));
  EXPECT_NE(lower(section_of(html, "golden-diff")).find("every case identical to the golden file"), std::string::npos);

  // A case with no compared element draws no histogram.
  HtmlReport errored = titled("errored");
  errored.results.push_back(result("gemm.block/x", Verdict::error));
  errored.results.back().ulp_hist = {};
  EXPECT_FALSE(has_section(render_html(errored), "histograms"));
}

TEST(HtmlReport, SummaryCountsVerdictsAndGateClassesPerFamilyAndProfile) {
  const std::string summary = section_of(render_html(full_report()), "summary");
  EXPECT_NE(summary.find("<pre class=\"summary\">2 cases: 1 exact, 1 over-budget&#10;gate: 1 drift, 1 missing&#10;</pre>"),
            std::string::npos);
  for (Verdict v : kAllVerdicts) EXPECT_NE(summary.find(">" + std::string(verdict_name(v)) + "<"), std::string::npos);
  for (size_t g = 0; g < kGateClasses; ++g)
    EXPECT_NE(summary.find(">" + std::string(gate_class_name(GateClass(g))) + "<"), std::string::npos);
  // family, profile, cases, 7 verdicts, 6 gate classes; the missing norm case counts under its
  // family and profile read from its id.
  static const std::regex row(R"re(<tr(?: class="total")?><td>([^<]*)</td><td>([^<]*)</td>((?:<td class="num[^"]*">[0-9,]+</td>){14})</tr>)re");
  std::map<std::string, std::vector<int>> rows;
  for (auto it = std::sregex_iterator(summary.begin(), summary.end(), row); it != std::sregex_iterator(); ++it) {
    const std::string cells = (*it)[3].str();
    static const std::regex number(R"(>([0-9]+)<)");
    std::vector<int> values;
    for (auto n = std::sregex_iterator(cells.begin(), cells.end(), number); n != std::sregex_iterator(); ++n)
      values.push_back(std::stoi((*n)[1].str()));
    rows[(*it)[1].str() + "/" + (*it)[2].str()] = values;
  }
  ASSERT_EQ(rows.size(), 4u);
  //                                     cases exact within over nonfin layout oob error | ident drift regr new miss pred
  EXPECT_EQ(rows["quant/vllm"], (std::vector<int>{1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(rows["gemm/deepgemm"], (std::vector<int>{1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(rows["norm/vllm"], (std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(rows["total/"], (std::vector<int>{2, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0}));
}

TEST(HtmlReport, EscapesEveryStringFromData) {
  const std::string evil = "quant.group/<b>&\"x\"/'q'";
  HtmlReport report = full_report();
  report.title = evil;
  report.facts.push_back({evil, evil});
  report.summary.push_back(evil);
  report.results.push_back(result(evil, Verdict::layout));
  report.results.back().message = evil;
  report.results.back().note = evil;
  report.results.back().first_bad = {evil};
  ErrorGrid grid = grid_with_nans();
  grid.title = grid.row_label = grid.col_label = grid.value_label = evil;
  report.results.back().grids = {grid};
  report.gate->entries.push_back({evil, evil, GateClass::new_case, evil});
  report.bench.rows.push_back({evil, 1, 1, -1, -1, 50, 60, -1, -1, "pass"});
  report.bench.provenance.push_back({"device", evil});
  const std::string html = render_html(report);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("&\""), std::string::npos);
  EXPECT_EQ(html.find("\"x\""), std::string::npos);
  EXPECT_NE(html.find("quant.group/&lt;b&gt;&amp;&quot;x&quot;/&apos;q&apos;"), std::string::npos);
  // The default repro command single-quotes the id for the shell, then the page escapes it.
  EXPECT_NE(html.find("<code>" + xml_escape(repro_command(evil)) + "</code>"), std::string::npos);
}

TEST(HtmlReport, HistogramBarHeightsFollowTheCounts) {
  HtmlReport report = titled("histogram");
  report.results.push_back(result("quant.group/vllm/a", Verdict::exact));
  report.results.back().ulp_hist = {};
  report.results.back().ulp_hist[0] = 1000000;
  report.results.back().ulp_hist[1] = 500;
  report.results.back().ulp_hist[4] = 3;  // (4, 8]
  report.results.back().ulp_hist[kUlpBins - 1] = 1;
  report.results.push_back(result("quant.group/vllm/b", Verdict::exact));  // same op: summed
  report.results.back().ulp_hist = {};
  report.results.back().ulp_hist[1] = 500;
  const std::string section = section_of(render_html(report), "histograms");
  ASSERT_FALSE(section.empty());
  EXPECT_EQ(count_of(section, "<svg"), 1u);  // one chart per op
  for (const char* label : {">0<", ">1<", ">\u22642<", ">\u22644<", ">\u2264512<", ">&gt;512<", ">non-finite<"})
    EXPECT_NE(section.find(label), std::string::npos) << label;
  const auto h = bar_heights(section);
  ASSERT_EQ(h.size(), 4u) << "empty bins draw no bar";
  const double zero = h.at("0 ULP: 1,000,000 elements"), one = h.at("1 ULP: 1,000 elements"),
               eight = h.at("(4, 8] ULP: 3 elements"),
               nonfinite = h.at("a NaN or Inf where the reference is finite: 1 element");
  EXPECT_GT(zero, one);
  EXPECT_GT(one, eight);
  EXPECT_GT(eight, nonfinite);
  EXPECT_GE(nonfinite, 4) << "log scale: one element still shows";
}

TEST(Svg, LinearBarsAreProportionalAndZeroDrawsNothing) {
  SvgBarChart chart;
  chart.title = "t";
  chart.bars = {{"a", 10, ""}, {"b", 0, ""}, {"c", 40, ""}};
  const auto h = bar_heights(svg_bar_chart(chart));
  ASSERT_EQ(h.size(), 2u);
  EXPECT_NEAR(h.at("c: 40") / h.at("a: 10"), 4.0, 0.02);
  EXPECT_EQ(svg_bar_chart(chart), svg_bar_chart(chart));
}

TEST(Svg, HeatMapDrawsNanCellsAsNoValueWithTooltipsAndLegend) {
  const std::string svg = svg_heat_map(grid_with_nans());
  EXPECT_EQ(count_of(svg, "<g class=\"no-value\">"), 3u);
  EXPECT_EQ(count_of(svg, "class=\"cell\""), 9u);
  EXPECT_NE(svg.find("<title>row 1, group 2: 6 bad elements</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>row 1, group 1: no value</title>"), std::string::npos);
  EXPECT_NE(svg.find(">min 0<"), std::string::npos);
  EXPECT_NE(svg.find(">max 10<"), std::string::npos);
  EXPECT_NE(svg.find(">no value<"), std::string::npos);  // the legend's swatch
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(Svg, HeatMapOfInfinitiesAndEmptyGrids) {
  ErrorGrid g = grid_with_nans();
  g.cells[0] = INFINITY;
  const std::string svg = svg_heat_map(g);
  EXPECT_NE(svg.find("<title>row 0, group 0: inf bad elements</title>"), std::string::npos);
  EXPECT_NE(svg.find(">min 1<"), std::string::npos) << "the scale spans the finite values";
  g.cells.assign(12, INFINITY);
  EXPECT_NE(svg_heat_map(g).find(">no cell has a finite value<"), std::string::npos);
  g.rows = 0;
  EXPECT_NE(svg_heat_map(g).find(">(empty grid)<"), std::string::npos);
  g.rows = 3;
  g.cells.resize(5);  // too few cells: the rest have no value
  EXPECT_EQ(count_of(svg_heat_map(g), "<g class=\"no-value\">"), 7u);
}

TEST(Svg, LargeHeatMapsAreDrawnInBlocksWithinTheWidth) {
  ErrorGrid g;
  g.title = "big";
  g.rows = 1000;
  g.cols = 3000;
  g.cells.assign(3000000, 0.f);
  g.cells[999 * 3000 + 2999] = 5;
  const std::string svg = svg_heat_map(g);
  const size_t cells = count_of(svg, "class=\"cell\"");
  EXPECT_LE(cells, size_t(kHeatMapMaxRows * kHeatMapMaxCols));
  EXPECT_GT(cells, 1000u);
  EXPECT_NE(svg.find("each cell: the largest value in a block of 16 x 32 of 1000 x 3000"), std::string::npos);
  EXPECT_NE(svg.find("row 992\u2013999, col 2976\u20132999: max 5 value"), std::string::npos);
  std::smatch width;
  ASSERT_TRUE(std::regex_search(svg, width, std::regex(R"re(<svg class="chart" width="([0-9]+)")re")));
  EXPECT_LE(std::stoi(width[1].str()), 720);
}

TEST(Svg, CompactNumbers) {
  EXPECT_EQ(svg_compact_number(0), "0");
  EXPECT_EQ(svg_compact_number(9999), "9999");
  EXPECT_EQ(svg_compact_number(12345), "12.3k");
  EXPECT_EQ(svg_compact_number(1000000), "1M");
  EXPECT_EQ(svg_compact_number(999999.9), "1M");
  EXPECT_EQ(svg_compact_number(2.5e9), "2.5G");
  EXPECT_EQ(svg_compact_number(37.5), "37.5");
  EXPECT_EQ(svg_compact_number(0.125), "0.125");
  EXPECT_EQ(fixed_number(-0.01, 1), "0.0");
}

TEST(HtmlReport, DeviationsTellEachCaseAndStopAtTheCap) {
  HtmlReport report = full_report();
  const std::string one = section_of(render_html(report), "deviations");
  // The failing gemm case, and the drifting quant case (passing, but not identical).
  EXPECT_EQ(count_of(one, "<section class=\"case\">"), 1u);
  EXPECT_EQ(count_of(one, "<section class=\"case gate-only\">"), 1u);
  for (const char* part : {"scale rounded up where the profile rounds down", "y[3,17] = 0x7E, expected 0x7D",
                           "verdict exact -&gt; over-budget", "digest 0123456789abcdef -&gt; fedcba9876543210",
                           ">37.5<", ">1,024<", "bad elements by (row, group)"})
    EXPECT_NE(one.find(part), std::string::npos) << part;
  EXPECT_NE(one.find("<code>ulpgate repro gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/256x256x512/normal/s1</code>"),
            std::string::npos);

  report.repro = [](const CaseResult& r) { return "ulpgate repro --backend " + r.backend + " " + r.case_id; };
  report.max_case_sections = 50;
  for (int i = 0; i < 60; ++i) report.results.push_back(result("norm.rms/vllm/" + std::to_string(i), Verdict::non_finite));
  const std::string capped = section_of(render_html(report), "deviations");
  EXPECT_EQ(count_of(capped, "<section class=\"case"), 50u);
  EXPECT_NE(capped.find("12 more cases deviate"), std::string::npos);
  EXPECT_NE(capped.find("<code>ulpgate repro --backend host gemm.block/"), std::string::npos);
}

TEST(HtmlReport, GoldenDiffListsWhatIsNotIdentical) {
  HtmlReport report = full_report();
  report.gate->entries.push_back({"quant.group/vllm/z", "host", GateClass::identical, "expected: rsqrtf is not correctly rounded"});
  report.gate->entries.push_back({"quant.group/vllm/y", "host", GateClass::identical, ""});
  const std::string diff = section_of(render_html(report), "golden-diff");
  EXPECT_EQ(count_of(diff, "<tr>"), 5u);  // the header and 4 entries; the plain identical one left out
  EXPECT_NE(diff.find("expected: rsqrtf is not correctly rounded"), std::string::npos);
  EXPECT_EQ(diff.find("quant.group/vllm/y"), std::string::npos);
}

TEST(HtmlReport, BenchChartsShowTheRooflineAndTargets) {
  const std::string bench = section_of(render_html(full_report()), "bench");
  EXPECT_EQ(count_of(bench, "<svg"), 2u);  // % of copy, and times
  EXPECT_EQ(count_of(bench, "class=\"reference\""), 1u);
  EXPECT_NE(bench.find(">copy roofline 100%<"), std::string::npos);
  EXPECT_EQ(count_of(bench, "class=\"target\""), 3u);  // two bandwidth rows and the time row
  EXPECT_EQ(count_of(bench, "class=\"hbar\""), 3u);     // the copy itself is the line, not a bar
  // The FAIL row's bar, and only it, in the failure colour.
  const std::regex failed_bar(R"re(<rect class="hbar"[^>]*fill="#c0392b")re");
  EXPECT_EQ(std::distance(std::sregex_iterator(bench.begin(), bench.end(), failed_bar), std::sregex_iterator()), 1);
  EXPECT_NE(bench.find("<span class=\"badge bad\">FAIL</span>"), std::string::npos);
  EXPECT_NE(bench.find("<dt>device</dt><dd>NVIDIA H200</dd>"), std::string::npos);
}

TEST(BenchCsv, ReadsTheSm90Table) {
  const fs::path path = fs::path(ULPGATE_SOURCE_DIR) / "golden/sm90/bench.csv";
  const BenchTable t = parse_bench_csv(read_file(path), path.string());
  ASSERT_GE(t.provenance.size(), 9u);
  EXPECT_EQ(t.provenance[0], (std::pair<std::string, std::string>{"arch", "sm90"}));
  EXPECT_NE(std::find(t.provenance.begin(), t.provenance.end(), std::pair<std::string, std::string>{"source", "hardware"}),
            t.provenance.end());
  EXPECT_NE(std::find(t.provenance.begin(), t.provenance.end(), std::pair<std::string, std::string>{"reps", "100"}),
            t.provenance.end());
  ASSERT_GE(t.rows.size(), 3u);
  const BenchRow& copy = t.rows.front();
  EXPECT_EQ(copy.id, "copy.d2d/1GiB");
  EXPECT_EQ(copy.bytes, 2147483648ull);
  EXPECT_EQ(copy.pct_copy, 100);
  EXPECT_EQ(copy.target_pct, -1);
  EXPECT_EQ(copy.result, "ref");
  const auto time_row = std::find_if(t.rows.begin(), t.rows.end(), [](const BenchRow& r) { return r.target_ms >= 0; });
  ASSERT_NE(time_row, t.rows.end());
  EXPECT_EQ(time_row->bytes, 0u);
  EXPECT_EQ(time_row->gbps, -1);
  EXPECT_GT(time_row->x_kernel, 0);
  for (const BenchRow& r : t.rows) {
    EXPECT_GT(r.median_us, 0) << r.id;
    EXPECT_TRUE(r.result == "pass" || r.result == "FAIL" || r.result == "ref") << r.id;
  }
  // Every row that measures bandwidth carries its % of copy.
  EXPECT_TRUE(std::all_of(t.rows.begin(), t.rows.end(), [](const BenchRow& r) { return (r.gbps >= 0) == (r.pct_copy >= 0); }));
}

TEST(BenchCsv, MalformedInputNamesFileAndLine) {
  const std::string head = "# arch=sm90\ncase_id,bytes,median_us,min_us,gbps,pct_copy,target_pct,target_ms,x_kernel,result\n";
  auto parse = [](std::string text) { return usage_error([&] { parse_bench_csv(text, "b.csv"); }); };
  EXPECT_EQ(parse(head + "a,1,2,,,,,,,pass\n"), "accepted");
  EXPECT_EQ(parse(head + "a,1,2,,,,,,,maybe\n"), "b.csv:3: expected pass, FAIL or ref in column 'result', got 'maybe'");
  EXPECT_EQ(parse(head + "a,1,2,,,,,,,pass\nb,x,2,,,,,,,pass\n"),
            "b.csv:4: expected a non-negative integer in column 'bytes', got 'x'");
  EXPECT_EQ(parse(head + "a,1,2,,-5,,,,,pass\n"), "b.csv:3: expected a finite number >= 0 in column 'gbps', got '-5'");
  EXPECT_EQ(parse(head + "a,1,inf,,,,,,,pass\n"), "b.csv:3: expected a finite number >= 0 in column 'median_us', got 'inf'");
  EXPECT_EQ(parse(head + "a,1,,,,,,,,pass\n"), "b.csv:3: expected a number in column 'median_us', got an empty field");
  EXPECT_EQ(parse(head + "a,1,2,,,,,,pass\n"), "b.csv:3: too few fields: expected the columns '" +
                                                     std::string("case_id,bytes,median_us,min_us,gbps,pct_copy,target_pct,target_ms,x_kernel,result'"));
  EXPECT_EQ(parse("# arch=sm90\n# arch=sm100\n"), "b.csv:2: provenance key 'arch' repeated (first at line 1)");
  EXPECT_NE(parse("impl,world,bytes\nnccl,2,1024\n").find("b.csv:1: "), std::string::npos);
}

TEST(HtmlReport, WriteHtmlWritesThePageOrSaysWhyNot) {
  TempDir dir;
  const HtmlReport report = full_report();
  write_html(dir.path / "r.html", report);
  EXPECT_EQ(read_file(dir.path / "r.html"), render_html(report));
  const fs::path bad = dir.path / "no-such-dir" / "r.html";
  EXPECT_EQ(usage_error([&] { write_html(bad, report); }), bad.string() + ": cannot write: No such file or directory");
}

}  // namespace
}  // namespace ulpgate
