#include "harness/plugin/pull_case.hpp"

#include <cstdio>

#include "harness/core/backend.hpp"

namespace ulpgate::plugin {

PullCase::PullCase(std::function<CaseResult(ulpgate_op_fn, void*)> run)
    : worker_([this, run = std::move(run)] {
        CaseResult r;
        std::exception_ptr error;
        try {
          r = run(&PullCase::kernel, this);
        } catch (...) {
          error = std::current_exception();
        }
        const std::lock_guard lock(mutex_);
        result_ = std::move(r), error_ = error, ended_ = true;
        changed_.notify_all();
      }) {}

PullCase::~PullCase() {
  {
    const std::lock_guard lock(mutex_);
    abandoned_ = true;
    changed_.notify_all();
  }
  worker_.join();
}

int PullCase::kernel(void* self_, const ulpgate_call* call, char* message, size_t size) {
  PullCase& self = *static_cast<PullCase*>(self_);
  std::unique_lock lock(self.mutex_);
  self.waiting_ = call, self.answered_ = false;
  self.changed_.notify_all();
  self.changed_.wait(lock, [&] { return self.answered_ || self.abandoned_; });
  self.waiting_ = nullptr;
  if (!self.answered_) {
    std::snprintf(message, size, "abandoned: the program began another case or closed the session before handing back the outputs");
    return 1;
  }
  std::snprintf(message, size, "%s", self.message_.c_str());
  return self.status_;
}

const ulpgate_call* PullCase::next() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return (waiting_ && !answered_) || ended_; });
  return ended_ ? nullptr : waiting_;
}

void PullCase::answer(int status, std::string message) {
  const std::lock_guard lock(mutex_);
  if (!waiting_ || answered_) throw UsageError("no op call is waiting for outputs (ulpgate_begin gives the first)");
  status_ = status, message_ = std::move(message), answered_ = true;
  changed_.notify_all();
}

CaseResult PullCase::result() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return ended_; });
  if (error_) std::rethrow_exception(error_);
  return result_;
}

}  // namespace ulpgate::plugin
