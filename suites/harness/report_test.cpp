// Reports: console table, failure lines, CSV, JUnit XML (well-formed, escaped), the progress
// line, and repro bundles.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "harness/report/bundle.hpp"
#include "harness/report/console_table.hpp"
#include "harness/report/csv_report.hpp"
#include "harness/report/junit.hpp"
#include "harness/report/progress.hpp"
#include "reference/formats/formats.hpp"
#include "suites/harness/temp_dir.hpp"
#include "suites/harness/usage_error.hpp"

namespace ulpgate {
namespace {

namespace fs = std::filesystem;

CaseResult result(std::string id, std::string profile, Verdict v, uint64_t flips = 0, double ulp = 0) {
  CaseResult r;
  r.case_id = std::move(id);
  r.family = "quant";
  r.profile = std::move(profile);
  r.backend = "host";
  r.verdict = v;
  r.elements = 256;
  r.n_within = flips;
  r.n_exact = 256 - flips;
  r.max_ulp = ulp;
  r.wall_seconds = 0.25;
  return r;
}

std::vector<CaseResult> sample_run() {
  std::vector<CaseResult> run = {result("quant.group/a", "vllm", Verdict::exact),
                                 result("quant.group/b", "vllm", Verdict::within_budget, 5, 1),
                                 result("quant.group/c", "deepgemm", Verdict::over_budget, 0, 3),
                                 result("quant.group/d <&\"'>", "deepgemm", Verdict::error)};
  run[2].n_over = 2;
  run[2].n_exact = 254;
  run[2].first_bad = {"[0,3] x=1.5 expected=0x40 actual=0x41 distance=1", "[1,7] x=<2> & more"};
  run[3].message = "kernel failed: \"launch\" <bad>\x01";
  return run;
}

TEST(ConsoleTable, OneRowPerFamilyAndProfile) {
  EXPECT_EQ(console_table(sample_run()),
            "family  profile   cases  exact  within (flips)  fail  worst ulp\n"
            "quant   deepgemm      2      0           0 (0)     2          3\n"
            "quant   vllm          2      1           1 (5)     0          1\n"
            "total                 4      1           1 (5)     2          3\n");
}

TEST(ConsoleTable, FailureLinesEndWithTheReproCommand) {
  const auto run = sample_run();
  EXPECT_EQ(failure_line(run[2]),
            "FAIL quant.group/c [host] over-budget: 2 over budget, 0 non-finite, max 3 ulp -> "
            "ulpgate repro quant.group/c");
  EXPECT_EQ(repro_command("it's odd"), "ulpgate repro 'it'\\''s odd'");
  EXPECT_EQ(repro_command("quant.group/e4m3fn/vllm/normal_sigma=2/s1"),
            "ulpgate repro quant.group/e4m3fn/vllm/normal_sigma=2/s1");
}

TEST(CsvReport, OneQuotedRowPerCase) {
  std::ostringstream out;
  std::vector results{sample_run()[1], sample_run()[3]};
  results[0].note = "claims sm90 (bit-exact); ran: cuBLASLt 130100 algo 66, split-k 1";
  results[0].model = "sm90/split=4:pairwise";
  write_csv_report(out, results);
  EXPECT_EQ(out.str(),
            "case_id,family,profile,backend,verdict,elements,n_exact,n_within,n_over,n_nonfinite,"
            "n_nan,max_ulp,digest,wall_s,message,note,model\n"
            "quant.group/b,quant,vllm,host,within-budget,256,251,5,0,0,0,1,0000000000000000,0.25,,"
            "\"claims sm90 (bit-exact); ran: cuBLASLt 130100 algo 66, split-k 1\",sm90/split=4:pairwise\n"
            "\"quant.group/d <&\"\"'>\",quant,deepgemm,host,error,256,256,0,0,0,0,0,0000000000000000,"
            "0.25,\"kernel failed: \"\"launch\"\" <bad>\x01\",,\n");
}

TEST(Junit, EscapesEverything) {
  EXPECT_EQ(xml_escape("a<b>&\"c\"'d'\n\t\x01"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;&#10;&#9;?");
}

// A small well-formedness check: tags balance, attributes are quoted, text has no raw '<' and
// every '&' starts an entity. Returns the element names in document order.
std::vector<std::string> check_xml(const std::string& xml) {
  std::vector<std::string> stack, names;
  size_t i = xml.find("?>");
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0u);
  for (i += 2; i < xml.size();) {
    if (xml[i] == '&') {
      const size_t semi = xml.find(';', i);
      const std::string entity = xml.substr(i, semi - i + 1);
      EXPECT_TRUE(entity == "&amp;" || entity == "&lt;" || entity == "&gt;" || entity == "&quot;" ||
                  entity == "&apos;" || entity == "&#10;" || entity == "&#9;" || entity == "&#13;")
          << entity;
      i = semi + 1;
    } else if (xml[i] == '<') {
      size_t j = i + 1;
      const bool closing = xml[j] == '/';
      j += closing;
      const size_t name_end = xml.find_first_of(" />", j);
      const std::string name = xml.substr(j, name_end - j);
      j = name_end;
      while (xml[j] == ' ') {  // attributes: name="value" with no raw < or "
        const size_t eq = xml.find('=', j);
        EXPECT_EQ(xml[eq + 1], '"');
        const size_t close = xml.find('"', eq + 2);
        const std::string value = xml.substr(eq + 2, close - eq - 2);
        EXPECT_EQ(value.find('<'), std::string::npos) << value;
        j = close + 1;
      }
      const bool self_closing = xml[j] == '/';
      EXPECT_EQ(xml[j + self_closing], '>') << xml.substr(i, 40);
      if (closing) {
        EXPECT_FALSE(stack.empty());
        if (stack.empty()) return names;
        EXPECT_EQ(stack.back(), name);
        stack.pop_back();
      } else {
        names.push_back(name);
        if (!self_closing) stack.push_back(name);
      }
      i = j + 1 + self_closing;
    } else {
      EXPECT_NE(xml[i], '>') << "raw '>' at " << i;
      ++i;
    }
  }
  EXPECT_TRUE(stack.empty());
  return names;
}

TEST(Junit, IsWellFormedWithOneTestcasePerCase) {
  std::ostringstream out;
  write_junit(out, sample_run());
  const std::string xml = out.str();
  const auto names = check_xml(xml);
  EXPECT_EQ(std::count(names.begin(), names.end(), "testcase"), 4);
  EXPECT_EQ(std::count(names.begin(), names.end(), "testsuite"), 2);
  EXPECT_EQ(std::count(names.begin(), names.end(), "failure"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "error"), 1);
  EXPECT_NE(xml.find("<testsuites name=\"ulpgate\" tests=\"4\" failures=\"1\" errors=\"1\" time=\"1.000000\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"FAIL quant.group/c [host] over-budget: 2 over budget, 0 non-finite, "
                     "max 3 ulp -&gt; ulpgate repro quant.group/c\" type=\"over-budget\">"
                     "[0,3] x=1.5 expected=0x40 actual=0x41 distance=1&#10;[1,7] x=&lt;2&gt; &amp; more&#10;"
                     "ulpgate repro quant.group/c</failure>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"quant.group/d &lt;&amp;&quot;&apos;&gt;\""), std::string::npos);
  EXPECT_NE(xml.find("<system-out>within-budget: 5 tie flips</system-out>"), std::string::npos);
}

// A GEMM's accumulation (claimed or identified) is a property of its testcase.
TEST(Junit, CarriesTheAccumulation) {
  std::vector results{sample_run()[0]};
  results[0].model = "sm90-mma-f16/promote=64";
  std::ostringstream out;
  write_junit(out, results);
  const auto names = check_xml(out.str());
  EXPECT_EQ(std::count(names.begin(), names.end(), "property"), 1);
  EXPECT_NE(out.str().find("<properties><property name=\"accumulation\" value=\"sm90-mma-f16/promote=64\"/></properties>"),
            std::string::npos)
      << out.str();
}

TEST(Progress, SilentWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  {
    ProgressLine p(10, f);  // a regular file is not a tty
    EXPECT_FALSE(p.enabled());
    p.update(3, "case");
  }
  EXPECT_EQ(std::ftell(f), 0L);
  std::fclose(f);
}

TEST(Progress, RedrawsInPlaceAndClears) {
  std::FILE* f = std::tmpfile();
  {
    ProgressLine p(12, f, true);
    p.update(1, "quant.group/long-name");
    p.update(2, "short");
    p.update(3, std::string(200, 'x'));
  }
  std::rewind(f);
  char buf[1024] = {};
  const size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  const std::string text(buf, n);
  const std::string first = "\r[1/12] quant.group/long-name";                 // 28 wide
  const std::string second = "\r[2/12] short" + std::string(28 - 12, ' ');   // blanks the rest
  const std::string third = "\r[3/12] " + std::string(90, 'x') + "...";      // clipped to 100
  EXPECT_EQ(text.substr(0, first.size() + second.size() + third.size()), first + second + third);
  EXPECT_EQ(text.substr(text.size() - 102), "\r" + std::string(100, ' ') + "\r");
}

// ---- bundles --------------------------------------------------------------------------------

Bundle sample_bundle() {
  const std::vector<uint16_t> x = {0x3F80, 0xC000, 0x7FC0};  // bf16 1, -2, NaN
  const std::vector<uint8_t> q = {0x38, 0xC0, 0x7F};
  const std::vector<float> s = {1.5f};
  Bundle b;
  b.case_id = "quant.group/\"odd\"\\id";
  b.suite_version = "0.1.0";
  b.commit = "abc";
  b.arch = "host";
  b.backend = "host";
  b.verdict = Verdict::non_finite;
  b.message = "line1\nline2\x02";
  b.first_bad = {"[0,2] x=nan expected=0x7e actual=0x7f"};
  b.tensors = {bundle_tensor<uint16_t>("x", "input", "bf16", {1, 3}, x),
               bundle_tensor<uint8_t>("q_actual", "actual", "e4m3fn", {1, 3}, q),
               bundle_tensor<float>("scale", "expected", "fp32", {1, 1}, s)};
  return b;
}

std::string file_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(Bundle, WritesJsonAndLittleEndianTensors) {
  const TempDir tmp;
  write_bundle(tmp.path, sample_bundle());
  EXPECT_EQ(file_text(tmp.path / "case.json"),
            "{\n"
            "  \"format\": \"ulpgate-bundle-1\",\n"
            "  \"case_id\": \"quant.group/\\\"odd\\\"\\\\id\",\n"
            "  \"suite_version\": \"0.1.0\",\n"
            "  \"commit\": \"abc\",\n"
            "  \"arch\": \"host\",\n"
            "  \"backend\": \"host\",\n"
            "  \"verdict\": \"non-finite\",\n"
            "  \"message\": \"line1\\nline2\\u0002\",\n"
            "  \"first_bad\": [\n"
            "    \"[0,2] x=nan expected=0x7e actual=0x7f\"\n"
            "  ],\n"
            "  \"tensors\": [\n"
            "    {\"name\": \"x\", \"role\": \"input\", \"dtype\": \"bf16\", \"shape\": [1, 3], \"file\": \"x.bin\", \"bytes\": 6},\n"
            "    {\"name\": \"q_actual\", \"role\": \"actual\", \"dtype\": \"e4m3fn\", \"shape\": [1, 3], \"file\": \"q_actual.bin\", \"bytes\": 3},\n"
            "    {\"name\": \"scale\", \"role\": \"expected\", \"dtype\": \"fp32\", \"shape\": [1, 1], \"file\": \"scale.bin\", \"bytes\": 4}\n"
            "  ]\n"
            "}\n");
  EXPECT_EQ(file_text(tmp.path / "x.bin"), std::string("\x80\x3F\x00\xC0\xC0\x7F", 6));  // little-endian
  EXPECT_EQ(file_text(tmp.path / "scale.bin"), std::string("\x00\x00\xC0\x3F", 4));   // 1.5f
}

TEST(Bundle, RejectsInconsistentTensors) {
  const std::vector<float> v(4);
  Bundle b;
  b.tensors = {bundle_tensor<float>("x", "input", "fp32", {2, 3}, v)};  // 6 elements, 4 given
  EXPECT_THROW(bundle_json(b), std::invalid_argument);
  b.tensors = {bundle_tensor<float>("x", "input", "float", {4}, v)};
  EXPECT_THROW(bundle_json(b), std::invalid_argument);
  b.tensors = {bundle_tensor<float>("../x", "input", "fp32", {4}, v)};
  EXPECT_THROW(bundle_json(b), std::invalid_argument);
  b.tensors = {bundle_tensor<float>("x", "input", "fp32", {4}, v), bundle_tensor<float>("x", "actual", "fp32", {4}, v)};
  EXPECT_THROW(bundle_json(b), std::invalid_argument);
  EXPECT_EQ(bundle_dtype_size("e4m3fnuz"), 1u);
  EXPECT_EQ(bundle_dtype_size("ue8m0"), 1u);
  EXPECT_EQ(bundle_dtype_size("bf16"), 2u);
  EXPECT_EQ(bundle_dtype_size("int32"), 4u);
}

TEST(Bundle, ReadsBackWhatItWrites) {
  const TempDir tmp;
  Bundle b = sample_bundle();
  b.message = "µ \"quoted\" \t\x01";
  b.tensors.push_back(bundle_tensor<int32_t>("empty", "actual", "int32", {0, 4}, {}));
  write_bundle(tmp.path, b);
  EXPECT_EQ(read_bundle(tmp.path), b);
  b.first_bad.clear();
  b.tensors.clear();
  write_bundle(tmp.path, b);
  EXPECT_EQ(read_bundle(tmp.path), b);
  EXPECT_EQ(parse_bundle_json("\xEF\xBB\xBF" + bundle_json(b), "bom.json"), b);  // a BOM carries nothing
}

void expect_json_error(const std::string& text, const std::string& message) {
  EXPECT_EQ(usage_error([&] { parse_bundle_json(text, "b/case.json"); }), message) << text;
}

// `text` with its first `from` replaced by `to`.
std::string edited(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST(Bundle, MalformedCaseJsonNamesFileLineAndKey) {
  const std::string ok = bundle_json(sample_bundle());  // line 14 is tensor x, 16 tensor scale
  const std::string f = "b/case.json:";
  expect_json_error("", f + "1: syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal");
  expect_json_error(ok.substr(0, ok.find("\"tensors\"")),
                    f + "12: syntax error while parsing object key - unexpected end of input; expected string literal");
  expect_json_error("[1, 2]", f + "1: expected an object, got [1,2]");
  expect_json_error(edited(ok, "ulpgate-bundle-1", "ulpgate-bundle-2"),
                    f + "2: format: expected \"ulpgate-bundle-1\", got \"ulpgate-bundle-2\"");
  expect_json_error(edited(ok, "non-finite", "fine"), f + "8: verdict: expected exact, within-budget, "
                                                          "over-budget, non-finite, layout, out-of-bounds or error, got \"fine\"");
  expect_json_error(edited(ok, "  \"commit\": \"abc\",\n", ""), f + "1: expected the key \"commit\"");
  expect_json_error(edited(ok, "\"arch\": \"host\"", "\"arch\": 90"), f + "6: arch: expected a string, got 90");
  expect_json_error(edited(ok, "\"arch\": \"host\",", "\"arch\": \"host\", \"arch\": \"sm90\","),
                    f + "6: key \"arch\" given twice");
  expect_json_error(edited(ok, "\"arch\"", "\"color\""), f + "6: unknown key \"color\"");
  expect_json_error(edited(ok, "\"arch\"", "\"name\""),
                    f + "6: name: not a key of this object (expected format, case_id, suite_version, commit, arch, "
                        "backend, verdict, message, first_bad, tensors)");
  expect_json_error(edited(ok, "\"[0,2]", "[[[[\"deep\"]]]], \"[0,2]"),
                    f + "11: expected at most 4 levels of nested objects and arrays");
  expect_json_error(edited(ok, "\"[0,2] x=nan expected=0x7e actual=0x7f\"", "7"),
                    f + "11: first_bad[0]: expected a string, got 7");
  expect_json_error(edited(ok, "\"bytes\": 6", "\"bytes\": 7"),
                    f + "14: tensors[0].bytes: expected 6 (shape [1, 3] of bf16), got 7");
  expect_json_error(edited(ok, "\"bytes\": 6", "\"bytes\": 1e400"), f + "14: number overflow parsing '1e400'");
  expect_json_error(edited(ok, "[1, 3]", "[-1, 3]"), f + "14: tensors[0].shape[0]: expected a non-negative integer, got -1");
  expect_json_error(edited(ok, "[1, 3]", "[1.0, 3]"), f + "14: tensors[0].shape[0]: expected a non-negative integer, got 1.0");
  expect_json_error(edited(ok, "[1, 3]", "[9223372036854775808]"),
                    f + "14: tensors[0].shape[0]: expected a dimension below 2^63");
  expect_json_error(edited(ok, "[1, 3]", "[4294967296, 4294967296]"),
                    f + "14: tensors[0].shape: shape [4294967296, 4294967296] of bf16 exceeds 2^64 bytes");
  expect_json_error(edited(ok, "\"dtype\": \"bf16\"", "\"dtype\": \"bfloat16\""),
                    f + "14: tensors[0].dtype: unknown dtype \"bfloat16\": expected e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, "
                        "ue8m0, bf16, fp16, fp32, int32, uint32 or uint8");
  expect_json_error(edited(edited(ok, "\"name\": \"x\"", "\"name\": \"../x\""), "\"x.bin\"", "\"../x.bin\""),
                    f + "14: tensors[0].name: expected a plain file stem ([A-Za-z0-9._-]+, not starting with '.'), "
                        "got \"../x\"");
  expect_json_error(edited(ok, "\"x.bin\"", "\"/etc/passwd\""),
                    f + "14: tensors[0].file: expected \"x.bin\" (the name's file)");
  expect_json_error(edited(edited(ok, "\"name\": \"scale\"", "\"name\": \"x\""), "\"scale.bin\"", "\"x.bin\""),
                    f + "16: tensors[2].name: expected a name no other tensor has, got \"x\"");
  expect_json_error(edited(ok, "\"role\": \"input\", ", ""), f + "14: tensors[0]: expected the key \"role\"");
}

std::string read_error(const fs::path& dir) {
  return usage_error([&] { read_bundle(dir); });
}

TEST(Bundle, TensorFilesMustHoldTheirShape) {
  const TempDir tmp;
  write_bundle(tmp.path, sample_bundle());
  const std::string x = (tmp.path / "x.bin").string();
  std::ofstream(x, std::ios::binary) << "12345";
  EXPECT_EQ(read_error(tmp.path), x + ": 5 bytes, expected 6 (shape [1, 3] of bf16)");
  fs::remove(x);
  EXPECT_EQ(read_error(tmp.path), x + ": not a readable file, expected 6 (shape [1, 3] of bf16)");
}

// A shape that claims 16 TiB: read_bundle compares the file's size before allocating anything.
TEST(Bundle, HostileShapesAllocateNothing) {
  const TempDir tmp;
  write_bundle(tmp.path, sample_bundle());
  const std::string json = edited(edited(file_text(tmp.path / "case.json"), "[1, 3]", "[4096, 1048576, 2048]"),
                                  "\"bytes\": 6", "\"bytes\": 17592186044416");
  std::ofstream(tmp.path / "case.json") << json;
  EXPECT_EQ(read_error(tmp.path),
            (tmp.path / "x.bin").string() + ": 6 bytes, expected 17592186044416 (shape [4096, 1048576, 2048] of bf16)");
  const std::string padded = std::string(1 << 20, ' ') + json;
  std::ofstream(tmp.path / "case.json") << padded;
  EXPECT_EQ(read_error(tmp.path), (tmp.path / "case.json").string() + ": " + std::to_string(padded.size()) +
                                      " bytes, expected at most 1048576 (a bundle's case.json is small)");
}

}  // namespace
}  // namespace ulpgate
