#include "harness/report/junit.hpp"

#include <cstdio>
#include <map>
#include <vector>

#include "harness/report/console_table.hpp"

namespace ulpgate {

namespace {

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", s);
  return buf;
}

std::string attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + xml_escape(value) + "\"";
}

struct Suite {
  std::vector<const CaseResult*> cases;
  size_t failures = 0, errors = 0;
  double time = 0;
};

// A case: its accumulation as a property (GEMM), tie flips as output, a failure with its repro.
void write_case(std::ostream& out, const CaseResult& r, const std::string& suite) {
  out << "    <testcase" << attr("classname", suite) << attr("name", r.case_id)
      << attr("time", seconds(r.wall_seconds));
  std::string body;
  if (!r.model.empty())
    body += "      <properties><property" + attr("name", "accumulation") + attr("value", r.model) + "/></properties>\n";
  if (passes(r.verdict)) {
    if (r.n_within)
      body += "      <system-out>" +
              xml_escape(std::string(verdict_name(r.verdict)) + ": " + std::to_string(r.n_within) + " tie flips") +
              "</system-out>\n";
  } else {
    const char* tag = r.verdict == Verdict::error ? "error" : "failure";
    std::string text;
    for (const std::string& bad : r.first_bad) text += bad + "\n";
    text += repro_command(r.case_id);
    body += "      <" + std::string(tag) + attr("message", failure_line(r)) + attr("type", verdict_name(r.verdict)) + ">" +
            xml_escape(text) + "</" + tag + ">\n";
  }
  out << (body.empty() ? "/>\n" : ">\n" + body + "    </testcase>\n");
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': s += "&amp;"; break;
      case '<': s += "&lt;"; break;
      case '>': s += "&gt;"; break;
      case '"': s += "&quot;"; break;
      case '\'': s += "&apos;"; break;
      case '\t': s += "&#9;"; break;
      case '\n': s += "&#10;"; break;
      case '\r': s += "&#13;"; break;
      default: s += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
    }
  }
  return s;
}

void write_junit(std::ostream& out, std::span<const CaseResult> results, std::string_view name) {
  std::map<std::string, Suite> suites;
  Suite total;
  for (const CaseResult& r : results) {
    for (Suite* s : {&suites[r.family + "." + r.profile], &total}) {
      s->cases.push_back(&r);
      s->errors += r.verdict == Verdict::error;
      s->failures += !passes(r.verdict) && r.verdict != Verdict::error;
      s->time += r.wall_seconds;
    }
  }
  auto counts = [](const Suite& s) {
    return attr("tests", std::to_string(s.cases.size())) + attr("failures", std::to_string(s.failures)) +
           attr("errors", std::to_string(s.errors)) + attr("time", seconds(s.time));
  };
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites" << attr("name", name) << counts(total) << ">\n";
  for (const auto& [suite_name, suite] : suites) {
    out << "  <testsuite" << attr("name", suite_name) << counts(suite) << ">\n";
    for (const CaseResult* r : suite.cases) write_case(out, *r, suite_name);
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

}  // namespace ulpgate
