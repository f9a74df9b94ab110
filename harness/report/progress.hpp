// A one-line progress display for long runs, shown only on a terminal (CI logs stay clean).
// Not thread-safe: call it from the thread that collects results.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string_view>

namespace ulpgate {

class ProgressLine {
 public:
  // Enabled when `out` is a terminal (isatty).
  explicit ProgressLine(size_t total, std::FILE* out = stdout);
  ProgressLine(size_t total, std::FILE* out, bool enabled);
  ~ProgressLine() { finish(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Redraws "\r[done/total] current" in place, clipped to one terminal line.
  void update(size_t done, std::string_view current);
  // Erases the line, so the next output starts clean. Idempotent.
  void finish();

  bool enabled() const { return enabled_; }

 private:
  size_t total_;
  std::FILE* out_;
  bool enabled_;
  size_t drawn_ = 0;  // width of the line on screen, to blank it
};

}  // namespace ulpgate
