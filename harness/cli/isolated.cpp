#include "harness/cli/isolated.hpp"

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "harness/core/child_process.hpp"
#include "harness/core/worker_pool.hpp"
#include "harness/core/family.hpp"
#include "harness/core/id_text.hpp"
#include "harness/core/processes.hpp"

namespace ulpgate::cli {
namespace {

// What a case's process sends: its backend's name on a line as soon as it has one (so that a
// result for a crash still names it), then one message, tagged by its first byte.
constexpr char kName = 'B';   // name line
constexpr char kShare = 'S';  // encode(Share): the case's result, or the reason it is skipped
constexpr char kUsage = 'U';  // a UsageError's text: exit 2, as without --isolate
constexpr char kInfra = 'I';  // any other error's text: exit 3

// The case's result, or the reason the backend declines it.
Share case_share(const std::string& id, Backend& backend, uint64_t max_memory) {
  Share one;
  try {
    one.results.emplace_back(0, run_case(id, backend, nullptr, max_memory));
  } catch (const NotSupported& e) {
    one.declined.push_back({id, backend.name(), e.what()});
  }
  return one;
}

// The backends a case's process made, one per arch: a worker process keeps them for its next cases.
using MadeBackends = std::map<std::string, std::unique_ptr<Backend>, std::less<>>;

void run_in_this_child(const SendToParent& send, const std::string& id, const std::string& backend,
                       const std::string& arch, uint64_t max_memory, MadeBackends& made) {
  try {
    std::unique_ptr<Backend>& b = made[arch];
    if (!b) b = make_backend(backend, arch);
    send(kName + b->name() + '\n');
    send(kShare + encode(case_share(id, *b, max_memory)));
  } catch (const UsageError& e) {
    send(kUsage + std::string(e.what()));
  } catch (const std::exception& e) {
    send(kInfra + std::string(e.what()));
  }
}

// The child's result (or NotSupported, or the error it reported, rethrown).
CaseResult sent_result(std::string_view message) {
  const std::string text(message.substr(1));
  if (message.front() == kUsage) throw UsageError(text);
  if (message.front() != kShare) throw std::runtime_error(text);
  Share one;
  decode_into(text, one);
  if (!one.declined.empty()) throw NotSupported(one.declined.front().why);
  if (one.results.size() != 1)
    throw std::runtime_error("a case's process sent " + std::to_string(one.results.size()) + " results");
  return std::move(one.results.front().second);
}

// The verdict error for a case whose process ended without a result. The id gives the family and
// the profile (its second segment in every family); the backend is the one the process named, or
// `backend@arch` when it ended before naming it.
CaseResult ended_without_result(const std::string& id, std::string backend, const ChildEnd& end) {
  const OpFamily& f = family_of(id);
  CaseResult r;
  r.case_id = f.canonical_id(id);
  r.family = std::string(f.name);
  r.profile = std::string(id_text::split(r.case_id, '/').at(1));
  r.backend = std::move(backend);
  r.verdict = Verdict::error;
  r.message = "the case's process " + end.how() + (end.killed() ? "" : " without a result");
  r.wall_seconds = end.seconds;
  return r;
}

// What a case's process sent, as its result: its own, or the verdict error naming how it ended.
CaseResult result_of_child(const std::string& id, const std::string& backend, const std::string& arch,
                           const ChildEnd& end) {
  std::string_view message = end.sent;
  std::string named = backend + "@" + arch;
  if (const size_t eol = message.find('\n'); message.starts_with(kName) && eol != std::string_view::npos) {
    named = message.substr(1, eol - 1);
    message.remove_prefix(eol + 1);
  }
  if (end.clean() && !message.empty()) return sent_result(message);
  return ended_without_result(id, std::move(named), end);
}

}  // namespace

CaseResult run_isolated(const std::string& id, const std::string& backend, const std::string& arch,
                        const Selection& s) {
  const ChildEnd end = run_in_child(
      [&](const SendToParent& send) {
        MadeBackends made;
        run_in_this_child(send, id, backend, arch, s.max_memory, made);
      },
      s.timeout);
  return result_of_child(id, backend, arch, end);
}

Share run_in_workers(const std::vector<ArchCase>& jobs, const std::string& backend, const Selection& s,
                     const std::function<void(size_t ended)>& progress) {
  std::vector<PoolJob> pool;
  for (const auto& [arch, id] : jobs) pool.push_back({arch + '\n' + id, family_of(id).host_bytes(id)});
  MadeBackends made;  // each worker's own copy
  const ServeJob serve = [&](std::string_view job, const SendToParent& send) {
    const size_t eol = job.find('\n');
    run_in_this_child(send, std::string(job.substr(eol + 1)), backend, std::string(job.substr(0, eol)), s.max_memory, made);
  };
  std::vector<std::optional<CaseResult>> results(jobs.size());
  std::vector<std::optional<Declined>> declined(jobs.size());
  size_t ended = 0;
  const PoolOptions options{s.jobs, double(s.max_memory ? s.max_memory : default_memory_limit()), s.isolate ? s.timeout : 1e9};
  ulpgate::run_in_workers(pool, options, serve, [&](size_t j, const ChildEnd& end) {
    const auto& [arch, id] = jobs[j];
    try {
      results[j] = result_of_child(id, backend, arch, end);
    } catch (const NotSupported& e) {
      declined[j] = Declined{id, backend + "@" + arch, e.what()};
    }
    progress(++ended);
  });
  Share out;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (results[j]) out.results.emplace_back(j, std::move(*results[j]));
    if (declined[j]) out.declined.push_back(std::move(*declined[j]));
  }
  return out;
}

bool yes_in_child(const std::function<bool()>& question, double timeout_s) {
  const ChildEnd end = run_in_child([&](const SendToParent& send) { send(question() ? "y" : "n"); }, timeout_s);
  return end.clean() && end.sent == "y";
}

}  // namespace ulpgate::cli
