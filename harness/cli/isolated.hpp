// --isolate: each case in a child process of its own, so that a kernel that crashes or hangs (an
// external plugin's, say) costs its case the verdict `error`, naming the signal or the timeout,
// instead of the suite.
#pragma once

#include <string>

#include "harness/cli/sweep.hpp"

namespace ulpgate::cli {

// run_case(id, make_backend(backend, arch), nullptr, s.max_memory) in a child process, which makes
// the backend itself: this process never touches the device. Returns the child's result; throws
// what run_case would (NotSupported, UsageError; other errors as std::runtime_error, exit 3). A
// child that crashes, exits without a result or runs past s.timeout gets the verdict `error`.
CaseResult run_isolated(const std::string& id, const std::string& backend, const std::string& arch,
                        const Selection& s);

// question() asked in a child process: false when the child says no, crashes or runs past timeout_s.
bool yes_in_child(bool (*question)(), double timeout_s);

}  // namespace ulpgate::cli
