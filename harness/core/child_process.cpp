#include "harness/core/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <system_error>
#include <thread>

namespace ulpgate {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

// A file descriptor, closed by its owner.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  int get() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  // Close-on-exec: a kernel that runs a program must not hand it the child's end (the parent
  // would wait for that program's end too).
  if (::pipe2(fds, O_CLOEXEC) != 0) fail("pipe2");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// A forked child not reaped yet. If the parent leaves early (an exception while reading), the
// child is killed and reaped rather than left running or a zombie.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  void kill() {
    if (::kill(pid_, SIGKILL) != 0) fail("kill");
  }
  int reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0)
      if (errno != EINTR) fail("waitpid");
    pid_ = -1;
    return status;
  }
  // The wait status once the child ends; nothing at the deadline. (A child that closed its end of
  // the pipe may still hang: the deadline holds after the pipe closes too.)
  std::optional<int> reap_by(Clock::time_point deadline) {
    for (;;) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done < 0 && errno == EINTR) continue;
      if (done < 0) fail("waitpid");
      if (done == pid_) {
        pid_ = -1;
        return status;
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  pid_t pid_;
};

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    bytes.remove_prefix(size_t(n));
  }
}

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
  // Capped so that the deadline stays representable (a timeout of years means none).
  const auto limit = std::chrono::duration<double>(std::min(timeout_s, 1e9));
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(limit);
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) be_the_child(pipe, work);
  Child child(pid);
  pipe.write.close();  // so that the read end closes when the child ends
  ChildEnd end;
  end.timeout_s = timeout_s;
  std::optional<int> status;
  if (read_until_closed(pipe.read.get(), deadline, end.sent)) status = child.reap_by(deadline);
  end.timed_out = !status;
  if (end.timed_out) {
    child.kill();
    status = child.reap();
  }
  end.status = *status;
  end.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return end;
}

}  // namespace ulpgate
