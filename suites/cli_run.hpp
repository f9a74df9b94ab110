// Runs the built `ulpgate` binary (ULPGATE_BINARY, set by CMake) for the CLI tests: its exit
// status and everything it printed.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct CliRun {
  int status;
  std::string out;  // stdout and stderr together
};

inline CliRun ulpgate(const std::string& args) {
  const std::filesystem::path log = std::filesystem::temp_directory_path() /
                                    ("ulpgate_cli_test_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(ULPGATE_BINARY) + " " + args + " > " + log.string() + " 2>&1";
  const int raw = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove(log);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

inline bool has(const CliRun& r, const std::string& s) { return r.out.find(s) != std::string::npos; }

// A file's whole text ("" when it cannot be read): golden files and reports the CLI wrote.
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace
