#include "harness/core/child_process.hpp"

#include <poll.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "harness/core/child_internals.hpp"

namespace ulpgate {
namespace {

using namespace child;

[[noreturn]] void be_the_child(Pipe& pipe, const std::function<void(const SendToParent&)>& work) {
  pipe.read.close();
  int status = 0;
  try {
    work([fd = pipe.write.get()](std::string_view bytes) { write_all(fd, bytes); });
  } catch (...) {
    status = 1;  // nothing to unwind into: the parent's code is not this process's to run
  }
  std::fflush(nullptr);  // what the work printed; _exit flushes nothing
  ::_exit(status);
}

// Appends what arrives on `in` until the writer closes it (true) or the deadline passes (false).
// Reading as it arrives keeps a child with a large message from blocking on a full pipe.
bool read_until_closed(int in, Clock::time_point deadline, std::string& into) {
  char buf[1 << 16];
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{in, POLLIN, 0};
    const int ready = ::poll(&p, 1, int(std::min<long long>(left, INT_MAX)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) fail("poll");
    if (ready == 0) continue;  // the deadline, checked above
    const ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read");
    if (n == 0) return true;
    into.append(buf, size_t(n));
  }
}

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}

}  // namespace

bool ChildEnd::clean() const { return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

bool ChildEnd::killed() const { return timed_out || WIFSIGNALED(status); }

std::string ChildEnd::how() const {
  if (timed_out) return "did not finish in " + seconds_text(timeout_s) + " s (killed)";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (!WIFSIGNALED(status)) return "ended with wait status " + std::to_string(status);
  const int sig = WTERMSIG(status);
  const char* abbrev = ::sigabbrev_np(sig);
  return "was killed by signal " + std::to_string(sig) + " (" + (abbrev ? "SIG" + std::string(abbrev) + ": " : "") +
         ::strsignal(sig) + ")";
}

ChildEnd run_in_child(const std::function<void(const SendToParent&)>& work, double timeout_s) {
  Pipe pipe = make_pipe();
  std::fflush(nullptr);  // else the child's copy of the buffers would be printed twice
  const auto t0 = Clock::now();
  const auto deadline = deadline_after(t0, timeout_s);
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) be_the_child(pipe, work);
  Child child(pid);
  pipe.write.close();  // so that the read end closes when the child ends
  ChildEnd end;
  end.timeout_s = timeout_s;
  // Past the deadline with the pipe open, the child is killed (unless it has just ended).
  const bool closed = read_until_closed(pipe.read.get(), deadline, end.sent);
  std::tie(end.status, end.timed_out) = child.end_by(closed ? deadline : Clock::time_point{});
  end.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return end;
}

}  // namespace ulpgate
