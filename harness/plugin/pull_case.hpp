// One case judged with the embedding program as its kernel, call by call (ulpgate_begin /
// ulpgate_submit): the case runs on a worker thread, and each op call it makes waits there until
// the program hands back the outputs. The case's own code (generate, poison, guard, judge) is the
// same run_case every backend goes through; only the kernel's side is turned inside out.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "harness/core/case_result.hpp"
#include "include/ulpgate/ulpgate.h"

namespace ulpgate::plugin {

class PullCase {
 public:
  // Starts run(kernel, state) on a worker thread; kernel(state, ...) stands for the program.
  explicit PullCase(std::function<CaseResult(ulpgate_op_fn kernel, void* state)> run);
  PullCase(const PullCase&) = delete;
  PullCase& operator=(const PullCase&) = delete;
  // A call still waiting is answered as abandoned (so is every later one) and the case runs out.
  ~PullCase();

  // The next op call the case makes (its outputs poisoned, to be filled), or nullptr once the case
  // has ended.
  const ulpgate_call* next();
  // Answers the waiting call: status 0 (every output written) or what the kernel returned, with
  // its message. UsageError when no call is waiting.
  void answer(int status, std::string message);
  // The ended case's result; rethrows what the case threw.
  CaseResult result();

 private:
  static int kernel(void* self, const ulpgate_call* call, char* message, size_t size);

  std::mutex mutex_;
  std::condition_variable changed_;
  const ulpgate_call* waiting_ = nullptr;  // posted by the worker, cleared by answer()
  bool answered_ = false, ended_ = false, abandoned_ = false;
  int status_ = 0;
  std::string message_;
  CaseResult result_;
  std::exception_ptr error_;
  std::thread worker_;  // last: it starts once everything it touches exists
};

}  // namespace ulpgate::plugin
