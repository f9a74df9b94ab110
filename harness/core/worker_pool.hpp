// Jobs run side by side in forked worker processes (`--jobs N`): each worker serves jobs one at a
// time for as long as there are any, so that what it sets up once (a device context, a library)
// serves many; the jobs running at once stay within a memory budget; a job whose worker crashes,
// exits or runs past the deadline ends as a child process's would (child_process.hpp) and a fresh
// worker takes the next one. The parent only schedules: it must not hold what a fork does not
// carry (a CUDA context).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/child_process.hpp"

namespace ulpgate {

struct PoolJob {
  std::string text;  // what the worker's serve() gets
  double bytes = 0;  // host memory it needs
};

struct PoolOptions {
  int workers = 1;         // processes at most
  double memory = 0;       // the jobs running at once need at most this much (one alone may need more)
  double timeout_s = 1e9;  // seconds one job may take before its worker is killed
};

// In a worker: serve(job text, send) for each job in turn; what it sends reaches the parent at
// once. It should not throw (a throw ends the worker: its job gets status 1).
using ServeJob = std::function<void(std::string_view job, const SendToParent& send)>;

// Runs every job. Larger jobs start first; a job starts when a worker is free and the running ones
// leave it room in the memory budget. done(index, end) is called in this process as each job ends,
// in any order: end.sent is everything its worker sent for it, and end.clean() says it finished
// (otherwise how() says how its worker ended). A throw from done() kills the workers and leaves.
void run_in_workers(const std::vector<PoolJob>& jobs, const PoolOptions& options, const ServeJob& serve,
                    const std::function<void(size_t index, const ChildEnd& end)>& done);

}  // namespace ulpgate
