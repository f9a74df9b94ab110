// Runs one case through the CLI's sweep on a (test-only) backend and writes its HTML report, as
// `ulpgate run --case ID --html FILE` would: to $ULPGATE_REPORT_DIR/<name>.html when set (the
// browser test, suites/report/html_reports_test.sh, renders it there), else a temporary file.
// Returns the page.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "harness/cli/reports.hpp"
#include "harness/cli/sweep.hpp"

namespace {

inline std::string html_page(const std::string& case_id, const std::string& backend, const std::string& name,
                             const std::string& title) {
  ulpgate::cli::Selection s;
  s.case_id = case_id;
  s.backend = backend;
  s.archs = {"host-w32"};
  const ulpgate::cli::SweepResult sw = ulpgate::cli::sweep(s);
  const char* dir = std::getenv("ULPGATE_REPORT_DIR");
  const std::filesystem::path path =
      std::filesystem::path(dir && *dir ? dir : std::filesystem::temp_directory_path().string()) / (name + ".html");
  ulpgate::cli::ReportOptions ro;
  ro.html = path.string();
  ro.title = title;
  ulpgate::cli::write_reports(sw.results, ro);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace
