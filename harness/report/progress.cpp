#include "harness/report/progress.hpp"

#include <unistd.h>

#include <string>

namespace ulpgate {

namespace {
constexpr size_t kMaxWidth = 100;  // stay on one line of an ordinary terminal
}

ProgressLine::ProgressLine(size_t total, std::FILE* out)
    : ProgressLine(total, out, ::isatty(::fileno(out)) == 1) {}

ProgressLine::ProgressLine(size_t total, std::FILE* out, bool enabled)
    : total_(total), out_(out), enabled_(enabled) {}

void ProgressLine::update(size_t done, std::string_view current) {
  if (!enabled_) return;
  std::string line = "[" + std::to_string(done) + "/" + std::to_string(total_) + "] ";
  line += current;
  if (line.size() > kMaxWidth) line = line.substr(0, kMaxWidth - 3) + "...";
  const size_t width = line.size();
  if (width < drawn_) line += std::string(drawn_ - width, ' ');  // blank the longer old line
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
  drawn_ = width;
}

void ProgressLine::finish() {
  if (!enabled_ || drawn_ == 0) return;
  std::fprintf(out_, "\r%s\r", std::string(drawn_, ' ').c_str());
  std::fflush(out_);
  drawn_ = 0;
}

}  // namespace ulpgate
