// Golden files (read, atomic write, overwrite refusals, diff) and the gate's classification.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "harness/golden/gate.hpp"
#include "harness/golden/golden_file.hpp"
#include "reference/formats/formats.hpp"
#include "suites/harness/temp_dir.hpp"

namespace ulpgate {
namespace {

namespace fs = std::filesystem;

GoldenRow row(std::string id, uint64_t digest, Verdict v = Verdict::exact, std::string backend = "host") {
  GoldenRow r;
  r.case_id = std::move(id);
  r.backend = std::move(backend);
  r.digest = digest;
  r.elements = 256;
  r.n_exact = 256;
  r.verdict = v;
  return r;
}

GoldenFile sample_golden(std::string arch = "sm90", GoldenSource source = GoldenSource::emulation) {
  GoldenFile g;
  g.provenance = {arch, source, "NVIDIA H200", "550.54", "cuda-12.4", "0.1.0", "f587102", "2025-01-31"};
  g.rows = {row("quant.group/b", 0xfeed), row("quant.group/a", 0x1), row("quant.group/a", 0x2, Verdict::exact, "cuda")};
  g.rows[1].max_ulp = 0.5;
  g.rows[1].n_within = 3;
  g.rows[1].n_exact = 253;
  g.rows[1].verdict = Verdict::within_budget;
  return g;
}

TEST(GoldenFile, RendersSortedRowsAndProvenance) {
  const std::string text = render_golden(sample_golden());
  EXPECT_EQ(text,
            "# ulpgate golden file: observations, not budgets (regenerate with `ulpgate golden update`)\n"
            "# arch=sm90\n# source=emulation\n# device=NVIDIA H200\n# driver=550.54\n"
            "# toolkit=cuda-12.4\n# suite_version=0.1.0\n# commit=f587102\n# date=2025-01-31\n"
            "case_id,backend,digest,elements,max_ulp,n_exact,n_within,n_over,n_nonfinite,n_nan,verdict\n"
            "quant.group/a,cuda,0000000000000002,256,0,256,0,0,0,0,exact\n"
            "quant.group/a,host,0000000000000001,256,0.5,253,3,0,0,0,within-budget\n"
            "quant.group/b,host,000000000000feed,256,0,256,0,0,0,0,exact\n");
}

TEST(GoldenFile, ParseInvertsRender) {
  GoldenFile g = sample_golden("gfx942", GoldenSource::hardware);
  g.rows.push_back(row("odd, \"quoted\" id", 0xffffffffffffffffull, Verdict::over_budget));
  g.rows.push_back(row("#starts-like-a-comment", 7));
  g.rows.back().max_ulp = HUGE_VAL;
  const GoldenFile back = parse_golden(render_golden(g), "x.csv");
  EXPECT_EQ(back.provenance, g.provenance);
  std::vector<GoldenRow> sorted = g.rows;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
    return std::tie(a.case_id, a.backend) < std::tie(b.case_id, b.backend);
  });
  EXPECT_EQ(back.rows, sorted);
}

TEST(GoldenFile, DigestIsXxh64AsSixteenHexDigits) {
  EXPECT_EQ(digest_hex(0), "0000000000000000");
  EXPECT_EQ(digest_hex(0xABCDEF0123456789ull), "abcdef0123456789");
  // xxHash64 of the empty input with seed 0 (the reference value).
  EXPECT_EQ(output_digest(std::span<const std::byte>{}), 0xEF46DB3751D8E999ull);
}

// A case's outputs are digested in place, one after another: the digest of their joined bytes
// (what every golden row holds), whatever the parts' sizes (xxHash buffers 32-byte stripes).
TEST(GoldenFile, PartsDigestAsTheirJoinedBytes) {
  std::vector<std::byte> a(1000), b(37), joined;
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::byte(i * 7 + 3);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::byte(i * 13 + 1);
  joined.insert(joined.end(), a.begin(), a.end());
  joined.insert(joined.end(), b.begin(), b.end());
  const std::span<const std::byte> parts[] = {a, {}, b};
  EXPECT_EQ(output_digest(std::span(parts)), output_digest(joined));
  const std::span<const std::byte> swapped[] = {b, a};
  EXPECT_NE(output_digest(std::span(swapped)), output_digest(joined));
  EXPECT_EQ(output_digest(std::span<const std::span<const std::byte>>{}), output_digest(std::span<const std::byte>{}));
}

TEST(GoldenFile, RowFromCaseResult) {
  CaseResult r;
  r.case_id = "c";
  r.backend = "host";
  r.verdict = Verdict::non_finite;
  r.elements = 10;
  r.n_nonfinite = 2;
  r.n_nan = 2;
  r.max_ulp = 3;
  r.digest = 42;
  const GoldenRow g = golden_row(r);
  EXPECT_EQ(g.case_id, "c");
  EXPECT_EQ(g.verdict, Verdict::non_finite);
  EXPECT_EQ(g.n_nonfinite, 2u);
  EXPECT_EQ(g.digest, 42u);
}

void expect_error(const std::string& text, const std::string& message) {
  try {
    parse_golden(text, "golden/sm90/quant.csv");
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const UsageError& e) {
    EXPECT_EQ(e.what(), message);
  }
}

TEST(GoldenFile, MalformedFilesNameFileAndLine) {
  const std::string head = "# arch=sm90\n# source=hardware\n";
  const std::string cols = "case_id,backend,digest,elements,max_ulp,n_exact,n_within,n_over,n_nonfinite,n_nan,verdict\n";
  const std::string ok = "c,host,0123456789abcdef,4,0,4,0,0,0,0,exact\n";
  const std::string f = "golden/sm90/quant.csv:";
  expect_error("# source=hardware\n" + cols, f + "1: expected a provenance line '# arch=ARCH'");
  expect_error("# arch=sm90\n" + cols, f + "1: expected a provenance line '# source=hardware|emulation'");
  expect_error("# arch=sm90\n# source=silicon\n", f + "2: expected source=hardware or source=emulation, got 'silicon'");
  expect_error(head + "# archh=sm90\n", f + "3: unknown provenance key 'archh': expected arch, source, "
                                           "device, driver, toolkit, suite_version, commit or date");
  expect_error(head + "# arch=sm100\n", f + "3: provenance key 'arch' repeated (first at line 1)");
  expect_error(head, f + "2: no header line: expected '" + cols.substr(0, cols.size() - 1) + "'");
  expect_error(head + "case_id,backend,digest\n",
               f + "3: header lacks column 'elements': expected '" + cols.substr(0, cols.size() - 1) + "'");
  expect_error(head + cols + "c,host,0123,4,0,4,0,0,0,0,exact\n",
               f + "4: expected 16 hex digits in column 'digest', got '0123'");
  expect_error(head + cols + "c,host,0123456789abcdeg,4,0,4,0,0,0,0,exact\n",
               f + "4: expected 16 hex digits in column 'digest', got '0123456789abcdeg'");
  expect_error(head + cols + ok + "d,host,0123456789abcdef,-4,0,4,0,0,0,0,exact\n",
               f + "5: expected a non-negative integer in column 'elements', got '-4'");
  expect_error(head + cols + "c,host,0123456789abcdef,4,x,4,0,0,0,0,exact\n",
               f + "4: expected a number in column 'max_ulp', got 'x'");
  expect_error(head + cols + "c,host,0123456789abcdef,4,-1,4,0,0,0,0,exact\n",
               f + "4: expected max_ulp >= 0 (or inf), got '-1'");
  expect_error(head + cols + "c,host,0123456789abcdef,4,0,4,0,0,0,0,fine\n",
               f + "4: unknown verdict 'fine': expected exact, within-budget, over-budget, non-finite, layout, out-of-bounds or error");
  expect_error(head + cols + "c,host,0123456789abcdef,4,0,4,0,0,0,exact\n",
               f + "4: too few fields: expected the columns '" + cols.substr(0, cols.size() - 1) + "'");
  expect_error(head + cols + ",host,0123456789abcdef,4,0,4,0,0,0,0,exact\n",
               f + "4: expected a non-empty case_id and backend");
  expect_error(head + cols + ok + "# a note\n" + ok,
               f + "6: duplicate row for c (host) (first at line 4)");
  // The CSV parser ends a line at a NUL: the rest of the row was dropped silently (seed corpus).
  expect_error(head + cols + ok.substr(0, ok.size() - 1) + std::string(1, '\0') + ",lost\n",
               f + "4: NUL byte: expected text");
  expect_error("\xEF\xBB\xBF" + head + cols,
               f + "1: starts with a UTF-8 byte-order mark: expected plain text (save the file without it)");
}

TEST(GoldenFile, WritesAtomicallyAndReadsBack) {
  TempDir tmp;
  const fs::path path = golden_path(tmp.path / "sm90", "quant");
  EXPECT_EQ(path, tmp.path / "sm90" / "quant.csv");
  write_golden(path, sample_golden());  // creates golden/<arch>/
  const GoldenFile back = read_golden(path);
  EXPECT_EQ(back.provenance, sample_golden().provenance);
  EXPECT_EQ(back.rows.size(), 3u);
  EXPECT_EQ(back.rows.front().backend, "cuda");  // sorted
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path / "sm90")) {
    ++files;  // no temporary file left behind
    EXPECT_EQ(entry.path().filename(), "quant.csv");
  }
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::others_read, fs::perms::others_read);
}

void expect_refusal(const fs::path& path, const GoldenFile& g, GoldenWriteOptions o, const std::string& why) {
  const std::string before = render_golden(read_golden(path));
  try {
    write_golden(path, g, o);
    ADD_FAILURE() << "overwrote " << path;
  } catch (const UsageError& e) {
    EXPECT_EQ(e.what(), path.string() + ": " + why);
  }
  EXPECT_EQ(render_golden(read_golden(path)), before) << "file changed";
}

TEST(GoldenFile, NeverOverwritesByAccident) {
  TempDir tmp;
  const fs::path path = tmp.path / "quant.csv";
  write_golden(path, sample_golden("sm90", GoldenSource::hardware));
  expect_refusal(path, sample_golden("sm90", GoldenSource::hardware), {},
                 "exists; refusing to overwrite it without an explicit update (ulpgate golden update)");
  expect_refusal(path, sample_golden("gfx942", GoldenSource::hardware), {.allow_overwrite = true},
                 "holds arch sm90, not gfx942; refusing to overwrite it");
  expect_refusal(path, sample_golden("sm90", GoldenSource::emulation), {.allow_overwrite = true},
                 "records hardware observations; refusing to replace them with emulation results");

  GoldenFile update = sample_golden("sm90", GoldenSource::hardware);
  update.rows.pop_back();
  write_golden(path, update, {.allow_overwrite = true});
  EXPECT_EQ(read_golden(path).rows.size(), 2u);

  // Emulation may be replaced by hardware observations.
  const fs::path emu = tmp.path / "norm.csv";
  write_golden(emu, sample_golden("sm90", GoldenSource::emulation));
  write_golden(emu, sample_golden("sm90", GoldenSource::hardware), {.allow_overwrite = true});
  EXPECT_EQ(read_golden(emu).provenance.source, GoldenSource::hardware);

  // A malformed existing file is reported, not replaced.
  std::ofstream(tmp.path / "bad.csv") << "garbage\n";
  EXPECT_THROW(write_golden(tmp.path / "bad.csv", sample_golden(), {.allow_overwrite = true}), UsageError);
}

TEST(GoldenFile, RejectsWhatCannotBeWrittenFaithfully) {
  GoldenFile g = sample_golden();
  g.rows.push_back(g.rows.front());
  EXPECT_THROW(render_golden(g), std::invalid_argument);  // duplicate (case_id, backend)
  g = sample_golden();
  g.rows[0].case_id = "two\nlines";
  EXPECT_THROW(render_golden(g), std::invalid_argument);
  g = sample_golden("");
  EXPECT_THROW(render_golden(g), std::invalid_argument);
}

TEST(GoldenFile, DiffNamesAddedRemovedAndChangedFields) {
  const std::vector<GoldenRow> before = {row("a", 1), row("b", 2), row("c", 3)};
  std::vector<GoldenRow> after = {row("a", 1), row("c", 4, Verdict::within_budget), row("d", 5)};
  after[1].max_ulp = 1;
  EXPECT_EQ(golden_diff(before, after),
            "removed  b (host)\n"
            "changed  c (host): verdict exact -> within-budget; digest 0000000000000003 -> "
            "0000000000000004; max_ulp 0 -> 1\n"
            "added    d (host): exact, digest 0000000000000005, max_ulp 0\n"
            "1 added, 1 removed, 1 changed, 1 unchanged\n");
  EXPECT_EQ(golden_diff(before, before), "0 added, 0 removed, 0 changed, 3 unchanged\n");
}

// ---- gate -----------------------------------------------------------------------------------

CaseResult result(std::string id, uint64_t digest, Verdict v = Verdict::exact) {
  CaseResult r;
  r.case_id = std::move(id);
  r.backend = "host";
  r.digest = digest;
  r.elements = 256;
  r.n_exact = 256;
  r.verdict = v;
  return r;
}

TEST(Gate, ClassifiesEachCase) {
  const std::vector<GoldenRow> golden = {row("identical", 1), row("drift", 2), row("regress", 3),
                                         row("missing", 4), row("other-backend", 5, Verdict::exact, "cuda")};
  const std::vector<CaseResult> run = {result("identical", 1), result("drift", 22),
                                       result("regress", 3, Verdict::over_budget), result("new", 6)};
  const auto only_host = [](std::string_view, std::string_view backend) { return backend == "host"; };
  const GateReport rep = gate(run, golden, only_host);
  ASSERT_EQ(rep.entries.size(), 5u);
  auto cls = [&](std::string_view id) {
    for (const GateEntry& e : rep.entries)
      if (e.case_id == id) return gate_class_name(e.cls);
    return std::string_view("absent");
  };
  EXPECT_EQ(cls("identical"), "identical");
  EXPECT_EQ(cls("drift"), "drift");
  EXPECT_EQ(cls("regress"), "regression");  // same digest, but the verdict fails
  EXPECT_EQ(cls("new"), "new");
  EXPECT_EQ(cls("missing"), "missing");
  EXPECT_EQ(cls("other-backend"), "absent");  // outside the run's scope
  EXPECT_EQ(gate_summary(rep), "1 identical, 1 drift, 1 regression, 1 new, 1 missing");
  EXPECT_EQ(gate_exit_code(rep), 1);
  EXPECT_EQ(rep.entries[0].case_id, "drift");  // sorted
  EXPECT_EQ(rep.entries[0].detail, "digest 0000000000000002 -> 0000000000000016");
}

TEST(Gate, ExitCodeFailsOnDriftRegressionMissingAndNew) {
  const std::vector<GoldenRow> golden = {row("a", 1), row("b", 2)};
  EXPECT_EQ(gate_exit_code(gate(std::vector{result("a", 1), result("b", 2)}, golden)), 0);
  EXPECT_EQ(gate_exit_code(gate(std::vector{result("a", 9), result("b", 2)}, golden)), 1);  // drift
  EXPECT_EQ(gate_exit_code(gate(std::vector{result("a", 1, Verdict::layout), result("b", 2)}, golden)), 1);
  // A golden row whose case was not run (dropped or renamed) is missing: the gate fails.
  EXPECT_EQ(gate_exit_code(gate(std::vector{result("a", 1)}, golden)), 1);
  // A case without a golden row fails unless the run allows new cases; a failing one always does.
  const std::vector<CaseResult> with_new = {result("a", 1), result("b", 2), result("c", 3)};
  EXPECT_EQ(gate_exit_code(gate(with_new, golden)), 1);
  EXPECT_EQ(gate_exit_code(gate(with_new, golden), /*allow_new=*/true), 0);
  const std::vector<CaseResult> failing_new = {result("a", 1), result("b", 2), result("c", 3, Verdict::error)};
  EXPECT_EQ(gate_exit_code(gate(failing_new, golden), /*allow_new=*/true), 1);
  // An empty golden file with allow_new is the way to start one; without it, nothing passes.
  EXPECT_EQ(gate_exit_code(gate(std::vector{result("c", 3)}, {}), /*allow_new=*/true), 0);
  EXPECT_EQ(gate_exit_code(gate(std::vector{result("c", 3)}, {})), 1);
}

TEST(Gate, RowsOfDeclinedCasesAreNotRunnableHereNotMissing) {
  const std::vector<GoldenRow> golden = {row("a", 1), row("w2", 2), row("gone", 3)};
  GateReport rep = gate(std::vector{result("a", 1)}, golden);
  ASSERT_EQ(rep.count(GateClass::missing), 2u);
  const std::vector<Declined> declined = {{"w2", "host", "world size 2 needs 2 GPUs; 1 present"},
                                          {"w2", "cuda@sm90", "another backend's decline"}};
  const std::vector<GateEntry> out = take_not_runnable(rep, declined);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].case_id, "w2");
  EXPECT_EQ(out[0].detail, "world size 2 needs 2 GPUs; 1 present");
  // The row nobody declined stays missing, and still fails the gate.
  EXPECT_EQ(rep.count(GateClass::missing), 1u);
  ASSERT_EQ(rep.entries.size(), 2u);
  EXPECT_EQ(gate_exit_code(rep), 1);
  GateReport complete = gate(std::vector{result("a", 1)}, std::vector{row("a", 1), row("w2", 2)});
  EXPECT_EQ(take_not_runnable(complete, declined).size(), 1u);
  EXPECT_EQ(gate_exit_code(complete), 0);
}

TEST(Gate, AFilteredRunDoesNotReportTheRestMissing) {
  const std::vector<GoldenRow> golden = {row("quant.group/a", 1), row("quant.block/b", 2)};
  const std::vector<CaseResult> run = {result("quant.group/a", 1)};
  const auto group_only = [](std::string_view id, std::string_view) { return id.starts_with("quant.group/"); };
  EXPECT_EQ(gate(run, golden, group_only).count(GateClass::missing), 0u);
  EXPECT_EQ(gate(run, golden).count(GateClass::missing), 1u);
}

TEST(Gate, KnownDifferencesExplainDriftAndStaleEntriesFail) {
  GateReport report;
  report.entries = {{"a", "cuda@sm90", GateClass::drift, "digest 1 -> 2"},
                    {"b", "cuda@sm90", GateClass::identical, ""},
                    {"c", "cuda@sm90", GateClass::drift, "digest 3 -> 4"}};
  report.counts[size_t(GateClass::drift)] = 2;
  report.counts[size_t(GateClass::identical)] = 1;
  const auto path = std::filesystem::temp_directory_path() / "ulpgate_known_differences.csv";
  {
    std::ofstream f(path);
    f << "# explained\ncase_id,reason\na,rsqrtf differs\nb,\"was once different\"\n";
  }
  apply_known_differences(report, path);
  EXPECT_EQ(report.entries[0].cls, GateClass::identical);
  EXPECT_EQ(report.entries[0].detail, "expected: rsqrtf differs");
  EXPECT_EQ(report.entries[1].cls, GateClass::drift);  // stale: listed but identical now
  EXPECT_NE(report.entries[1].detail.find("stale"), std::string::npos);
  EXPECT_EQ(report.entries[2].cls, GateClass::drift);  // not listed: still drift
  EXPECT_EQ(report.count(GateClass::drift), 2u);
  EXPECT_EQ(gate_exit_code(report), 1);
  {
    std::ofstream f(path);
    f << "case_id,reason\na,\n";
  }
  EXPECT_THROW(apply_known_differences(report, path), UsageError);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ulpgate
