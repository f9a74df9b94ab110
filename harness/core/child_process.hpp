// Work in a forked child process, for code that may crash or hang (`--isolate`): the parent gets
// what the child sent and how it ended, and goes on whatever the child did.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace ulpgate {

struct ChildEnd {
  std::string sent;        // every byte the child sent, up to its end or its deadline
  bool timed_out = false;  // still running at the deadline: killed (SIGKILL)
  int status = 0;          // waitpid's status
  double seconds = 0;      // from fork to the child's end (or its deadline)
  double timeout_s = 0;    // the deadline it had

  // Exited with status 0 in time.
  bool clean() const;
  // Killed by a signal, its own or the parent's at the deadline.
  bool killed() const;
  // How it ended, as words that follow "the process ": "was killed by signal 11 (SIGSEGV:
  // Segmentation fault)", "did not finish in 600 s (killed)", "exited with status 7".
  std::string how() const;
};

// Sends bytes to the parent at once, so that what was sent survives a crash later in the child.
using SendToParent = std::function<void(std::string_view)>;

// Forks; the child runs work(send) and ends with _exit (status 0, or 1 when work throws), never
// returning into the caller's code. The parent reads everything the child sends until it ends or
// timeout_s passes (then kills it), and reaps it. Output buffered in stdio is flushed before the
// fork, so that the child does not repeat it. A failed system call throws std::system_error
// naming it.
ChildEnd run_in_child(const std::function<void(const SendToParent&)>& work, double timeout_s);

}  // namespace ulpgate
