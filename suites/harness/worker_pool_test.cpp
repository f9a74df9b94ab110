// run_in_workers (--jobs): jobs side by side in worker processes within a memory budget, larger
// ones first; a worker that crashes or hangs costs only its job, and the rest go on.
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "harness/core/worker_pool.hpp"

namespace ulpgate {
namespace {

// Counters every worker sees: a shared anonymous mapping made before the workers are forked.
struct Shared {
  std::atomic<int64_t> in_use{0}, most{0}, alone_big{0}, started{0};
  std::atomic<int64_t> order[64];
};

Shared* shared_counters() {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap");
  return new (p) Shared();
}

// A job's text is its size; it holds that much of the budget for 30 ms.
void hold(Shared& c, int64_t bytes) {
  c.order[c.started++] = bytes;
  const int64_t now = c.in_use += bytes;
  for (int64_t m = c.most; now > m && !c.most.compare_exchange_weak(m, now);) {
  }
  if (bytes > 100 && now == bytes) ++c.alone_big;
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  c.in_use -= bytes;
}

std::vector<PoolJob> sized(const std::vector<int>& sizes) {
  std::vector<PoolJob> jobs;
  for (const int b : sizes) jobs.push_back({std::to_string(b), double(b)});
  return jobs;
}

TEST(WorkerPool, JobsRunSideBySideWithinTheMemoryBudgetLargestFirst) {
  Shared& c = *shared_counters();
  const std::vector<PoolJob> jobs = sized({10, 60, 20, 150, 30, 60, 10, 40, 20, 30, 50, 10});
  std::map<size_t, std::string> sent;
  const ServeJob serve = [&](std::string_view job, const SendToParent& send) {
    hold(c, std::stoll(std::string(job)));
    send("done " + std::string(job));
  };
  run_in_workers(jobs, {.workers = 4, .memory = 100, .timeout_s = 60}, serve, [&](size_t j, const ChildEnd& end) {
    EXPECT_TRUE(end.clean()) << end.how();
    sent[j] = end.sent;
  });
  ASSERT_EQ(sent.size(), jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) EXPECT_EQ(sent[j], "done " + jobs[j].text);
  EXPECT_EQ(c.alone_big, 1);  // over the budget alone: it runs, with nothing beside it
  EXPECT_EQ(c.order[0], 150);  // the largest first
  // Within the budget whenever the large one is not running, and side by side at times.
  EXPECT_LE(c.most, 150);
  EXPECT_GT(c.most, 60);
}

TEST(WorkerPool, OneWorkerServesTheJobsLargestFirst) {
  Shared& c = *shared_counters();
  const std::vector<PoolJob> jobs = sized({3, 9, 1, 7, 7, 5});
  int ended = 0;
  run_in_workers(jobs, {.workers = 1, .memory = 1e9}, [&](std::string_view job, const SendToParent&) {
    c.order[c.started++] = std::stoll(std::string(job));
  }, [&](size_t, const ChildEnd& end) { ended += end.clean(); });
  EXPECT_EQ(ended, 6);
  const std::vector<int64_t> order(c.order, c.order + 6);
  EXPECT_EQ(order, (std::vector<int64_t>{9, 7, 7, 5, 3, 1}));
}

TEST(WorkerPool, AWorkerThatCrashesOrHangsCostsOnlyItsJob) {
  const std::vector<PoolJob> jobs = {{"ok", 1}, {"crash", 1}, {"ok", 1}, {"hang", 1}, {"ok", 1}, {"exit", 1}, {"ok", 1}};
  const ServeJob serve = [](std::string_view job, const SendToParent& send) {
    send("started;");
    if (job == "crash") {
      const rlimit none{0, 0};
      setrlimit(RLIMIT_CORE, &none);
      std::signal(SIGSEGV, SIG_DFL);
      std::raise(SIGSEGV);
    }
    if (job == "hang")
      for (;;) pause();
    if (job == "exit") _exit(7);
    send("ok");
  };
  std::map<size_t, ChildEnd> ends;
  run_in_workers(jobs, {.workers = 2, .memory = 10, .timeout_s = 1}, serve,
                 [&](size_t j, const ChildEnd& end) { ends[j] = end; });
  ASSERT_EQ(ends.size(), jobs.size());
  for (const size_t j : {0, 2, 4, 6}) {
    EXPECT_TRUE(ends[j].clean()) << j << ": " << ends[j].how();
    EXPECT_EQ(ends[j].sent, "started;ok");
  }
  EXPECT_EQ(ends[1].how(), "was killed by signal 11 (SIGSEGV: Segmentation fault)");
  EXPECT_EQ(ends[3].how(), "did not finish in 1 s (killed)");
  EXPECT_GE(ends[3].seconds, 1.0);
  EXPECT_EQ(ends[5].how(), "exited with status 7");
  for (const size_t j : {1, 3, 5}) EXPECT_EQ(ends[j].sent, "started;") << j;  // what it sent before its end
}

TEST(WorkerPool, AThrowFromDoneKillsTheWorkersAndLeaves) {
  const std::vector<PoolJob> jobs = sized({1, 1, 1, 1});
  const ServeJob serve = [](std::string_view, const SendToParent&) {};
  EXPECT_THROW(run_in_workers(jobs, {.workers = 2, .memory = 10}, serve,
                              [](size_t, const ChildEnd&) { throw std::runtime_error("stop"); }),
               std::runtime_error);
}

}  // namespace
}  // namespace ulpgate
