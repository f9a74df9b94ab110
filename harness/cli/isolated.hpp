// --isolate: each case in a child process of its own, so that a kernel that crashes or hangs (an
// external plugin's, say) costs its case the verdict `error`, naming the signal or the timeout,
// instead of the suite.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "harness/cli/sweep.hpp"

namespace ulpgate::cli {

// run_case(id, make_backend(backend, arch), nullptr, s.max_memory) in a child process, which makes
// the backend itself: this process never touches the device. Returns the child's result; throws
// what run_case would (NotSupported, UsageError; other errors as std::runtime_error, exit 3). A
// child that crashes, exits without a result or runs past s.timeout gets the verdict `error`.
CaseResult run_isolated(const std::string& id, const std::string& backend, const std::string& arch,
                        const Selection& s);

// An (arch, case id) pair of a sweep.
using ArchCase = std::pair<std::string, std::string>;

// --jobs: the cases in up to s.jobs worker processes at once, each making its backend once per
// arch and running cases in turn; the cases running at once need at most s.max_memory (default:
// half of RAM) by their families' host_bytes, the largest started first. Results in job order, as
// a serial sweep gives them; a case whose worker crashes, exits or (with s.isolate) runs past
// s.timeout gets the verdict error as with --isolate. progress(n) after the n-th case ends.
Share run_in_workers(const std::vector<ArchCase>& jobs, const std::string& backend, const Selection& s,
                     const std::function<void(size_t ended)>& progress);

// question() asked in a child process: false when the child says no, crashes or runs past timeout_s.
bool yes_in_child(const std::function<bool()>& question, double timeout_s);

}  // namespace ulpgate::cli
