// The POSIX pieces that running work in child processes shares (child_process.cpp, worker_pool.cpp):
// owned descriptors and pipes, a forked child that is killed and reaped if left, writing whole.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

namespace ulpgate::child {

using Clock = std::chrono::steady_clock;

[[noreturn]] inline void fail(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

// A file descriptor, closed by its owner.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) close(), fd_ = o.fd_, o.fd_ = -1;
    return *this;
  }
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

inline Pipe make_pipe() {
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
  explicit Child(pid_t pid = -1) : pid_(pid) {}
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept {
    if (this != &o) discard(), pid_ = o.pid_, o.pid_ = -1;
    return *this;
  }
  ~Child() { discard(); }
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
  // Reaped by the deadline, else killed and reaped: (status, whether it was killed).
  std::pair<int, bool> end_by(Clock::time_point deadline) {
    if (const std::optional<int> status = reap_by(deadline)) return {*status, false};
    kill();
    return {reap(), true};
  }

 private:
  void discard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  pid_t pid_;
};

inline void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    bytes.remove_prefix(size_t(n));
  }
}

// A deadline timeout_s from t0, capped so that it stays representable (years mean none).
inline Clock::time_point deadline_after(Clock::time_point t0, double timeout_s) {
  const auto limit = std::chrono::duration<double>(std::min(timeout_s, 1e9));
  return t0 + std::chrono::duration_cast<Clock::duration>(limit);
}

}  // namespace ulpgate::child
