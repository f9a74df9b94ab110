#include "harness/core/worker_pool.hpp"

#include <poll.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "harness/core/child_internals.hpp"

namespace ulpgate {
namespace {

using namespace child;

// Parent to worker: a job as 8 bytes of length and its text. Worker to parent: frames of a kind
// byte, 8 bytes of length and the bytes: parts of what a job sends, then the job's end.
constexpr char kPart = 'p', kEnd = 'e';
constexpr size_t kHead = 1 + sizeof(uint64_t);

std::string length_prefixed(std::string_view bytes) {
  const uint64_t n = bytes.size();
  std::string out(reinterpret_cast<const char*>(&n), sizeof n);
  return out.append(bytes);
}

void send_frame(int fd, char kind, std::string_view bytes) { write_all(fd, kind + length_prefixed(bytes)); }

// Exactly n bytes; false at the end of the input before them.
bool read_exactly(int fd, char* into, size_t n) {
  while (n) {
    const ssize_t got = ::read(fd, into, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("read");
    if (got == 0) return false;
    into += got, n -= size_t(got);
  }
  return true;
}

// The worker's life: jobs until the parent closes their pipe.
[[noreturn]] void serve_jobs(int jobs, int results, const ServeJob& serve) {
  int status = 0;
  try {
    for (uint64_t n; read_exactly(jobs, reinterpret_cast<char*>(&n), sizeof n);) {
      std::string job(n, '\0');
      if (!read_exactly(jobs, job.data(), n)) throw std::runtime_error("a job cut short");
      serve(job, [results](std::string_view bytes) { send_frame(results, kPart, bytes); });
      std::fflush(nullptr);  // what the job printed, before the parent hears it ended
      send_frame(results, kEnd, {});
    }
  } catch (...) {
    status = 1;  // nothing to unwind into: the parent's code is not this process's to run
  }
  std::fflush(nullptr);
  ::_exit(status);
}

struct Worker {
  Child child;
  Fd to, from;                // this process's ends of its pipes
  std::string inbox;          // bytes from `from` not yet a whole frame
  std::optional<size_t> job;  // the job it runs
  ChildEnd end;               // what that job sent so far
  Clock::time_point started, deadline;
  bool gone = false;
};

// SIGPIPE ignored while the pool runs: a worker that died idle makes the next write to it fail
// (its end then tells how it died) instead of killing this process.
class NoSigpipe {
 public:
  NoSigpipe() : old_(std::signal(SIGPIPE, SIG_IGN)) {}
  ~NoSigpipe() { std::signal(SIGPIPE, old_); }

 private:
  void (*old_)(int);
};

class Pool {
 public:
  Pool(const std::vector<PoolJob>& jobs, const PoolOptions& o, const ServeJob& serve,
       const std::function<void(size_t, const ChildEnd&)>& done)
      : jobs_(jobs), o_(o), serve_(serve), done_(done), pending_(jobs.size()) {
    std::iota(pending_.begin(), pending_.end(), size_t(0));
    std::ranges::stable_sort(pending_, [&](size_t a, size_t b) { return jobs[a].bytes > jobs[b].bytes; });
  }

  void run() {
    while (!pending_.empty() || busy()) {
      start_what_fits();
      wait_for_news();
      std::erase_if(workers_, [](const std::unique_ptr<Worker>& w) { return w->gone; });
    }
    for (auto& w : workers_) w->to.close();  // the end of its jobs: it exits
    for (auto& w : workers_) w->child.end_by(Clock::now() + std::chrono::seconds(60));
  }

 private:
  bool busy() const {
    return std::ranges::any_of(workers_, [](const auto& w) { return w->job.has_value(); });
  }

  void start_what_fits() {
    for (auto it = pending_.begin(); it != pending_.end();) {
      const double need = jobs_[*it].bytes;
      if (busy() && in_use_ + need > o_.memory) {
        ++it;  // a smaller one may fit beside the running ones
        continue;
      }
      Worker* w = idle_worker();
      if (!w) return;
      start(*w, *it);
      it = pending_.erase(it);
    }
  }

  Worker* idle_worker() {
    for (auto& w : workers_)
      if (!w->job && !w->gone) return w.get();
    if (int(workers_.size()) >= o_.workers) return nullptr;
    return spawn();
  }

  Worker* spawn() {
    Pipe jobs = make_pipe(), results = make_pipe();
    std::fflush(nullptr);  // else the child's copy of the buffers would be printed twice
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
      std::signal(SIGPIPE, SIG_DFL);
      // Another worker's job pipe left open here would keep that worker from ever seeing its end.
      for (auto& other : workers_) other->to.close(), other->from.close();
      jobs.write.close(), results.read.close();
      serve_jobs(jobs.read.get(), results.write.get(), serve_);
    }
    auto w = std::make_unique<Worker>();
    w->child = Child(pid);
    w->to = std::move(jobs.write);
    w->from = std::move(results.read);
    return workers_.emplace_back(std::move(w)).get();
  }

  void start(Worker& w, size_t job) {
    w.job = job;
    w.end = ChildEnd{};
    w.end.timeout_s = o_.timeout_s;
    w.started = Clock::now();
    w.deadline = deadline_after(w.started, o_.timeout_s);
    in_use_ += jobs_[job].bytes;
    try {
      write_all(w.to.get(), length_prefixed(jobs_[job].text));
    } catch (const std::system_error&) {
      // It died idle: its pipe's end tells how, as the end of this job.
    }
  }

  void wait_for_news() {
    std::vector<pollfd> fds;
    Clock::time_point next = Clock::time_point::max();
    for (auto& w : workers_) {
      fds.push_back({w->from.get(), POLLIN, 0});
      if (w->job) next = std::min(next, w->deadline);
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
    const int ready = ::poll(fds.data(), fds.size(), int(std::clamp<long long>(left, 0, INT_MAX)));
    if (ready < 0 && errno != EINTR) fail("poll");
    for (size_t i = 0; i < fds.size(); ++i)
      if (ready > 0 && fds[i].revents) read_from(*workers_[i]);
    for (auto& w : workers_)
      if (w->job && !w->gone && Clock::now() >= w->deadline) ended(*w, Clock::time_point{});
  }

  void read_from(Worker& w) {
    char buf[1 << 16];
    const ssize_t n = ::read(w.from.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) return;
    if (n < 0) fail("read");
    if (n == 0) return ended(w, w.job ? w.deadline : Clock::now() + std::chrono::seconds(10));
    w.inbox.append(buf, size_t(n));
    for (uint64_t len; w.inbox.size() >= kHead;) {
      std::memcpy(&len, w.inbox.data() + 1, sizeof len);
      if (w.inbox.size() < kHead + len) return;
      const char kind = w.inbox[0];
      if (!w.job || (kind != kPart && kind != kEnd)) throw std::runtime_error("a worker process sent an unexpected message");
      if (kind == kPart) w.end.sent.append(w.inbox, kHead, len);
      w.inbox.erase(0, kHead + len);
      if (kind == kEnd) finish(w, 0, false);
    }
  }

  // The worker's pipe closed or its job's deadline passed: it is reaped by `by`, else killed.
  void ended(Worker& w, Clock::time_point by) {
    const auto [status, killed] = w.child.end_by(by);
    w.gone = true;
    if (w.job) finish(w, status, killed);
  }

  void finish(Worker& w, int status, bool timed_out) {
    const size_t job = *w.job;
    w.job.reset();
    in_use_ -= jobs_[job].bytes;
    w.end.status = status;
    w.end.timed_out = timed_out;
    w.end.seconds = std::chrono::duration<double>(Clock::now() - w.started).count();
    done_(job, w.end);
  }

  const std::vector<PoolJob>& jobs_;
  const PoolOptions& o_;
  const ServeJob& serve_;
  const std::function<void(size_t, const ChildEnd&)>& done_;
  std::vector<size_t> pending_;  // largest first
  std::vector<std::unique_ptr<Worker>> workers_;
  double in_use_ = 0;
};

}  // namespace

void run_in_workers(const std::vector<PoolJob>& jobs, const PoolOptions& options, const ServeJob& serve,
                    const std::function<void(size_t index, const ChildEnd& end)>& done) {
  if (options.workers < 1) throw std::invalid_argument("run_in_workers: at least one worker");
  const NoSigpipe quiet;
  Pool(jobs, options, serve, done).run();
}

}  // namespace ulpgate
