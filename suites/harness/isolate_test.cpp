// --isolate: each case in a child process, so that a kernel that crashes, hangs or exits costs
// its case the verdict `error` naming the signal, the timeout or the status, and the sweep goes on
// with the same results as without isolation; errors that end a sweep keep their exit codes.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include <gtest/gtest.h>

#include "harness/backends/kernel_backends.hpp"
#include "harness/cli/isolated.hpp"
#include "harness/cli/sweep.hpp"
#include "harness/core/child_process.hpp"
#include "suites/harness/usage_error.hpp"

namespace ulpgate {
namespace {

// Six small quant cases, M = 1 and M = 3 with groups of 32, 64 and 128.
constexpr const char* kCases = "quant.group/vllm/e4m3fn/bf16/[13]x640/*";
constexpr const char* kCrashes = "quant.group/vllm/e4m3fn/bf16/1x640/gs32/ue8m0-packed/normal/s673";
constexpr const char* kHangs = "quant.group/vllm/e4m3fn/bf16/1x640/gs64/ue8m0-packed/normal/s705";
constexpr const char* kExits = "quant.group/vllm/e4m3fn/bf16/1x640/gs128/ue8m0-packed/normal/s769";
constexpr const char* kDeclined = "faulty(host)@host-w32 does not run this case: no groups of 128 over 3 rows";

[[noreturn]] void crash() {
  const rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);  // no core file from a planned crash
  // The default action: a sanitizer's SIGSEGV handler would report and exit with a status instead.
  std::signal(SIGSEGV, SIG_DFL);
  std::raise(SIGSEGV);
  _exit(99);  // not reached
}

[[noreturn]] void hang() {
  for (;;) pause();
}

// The host emulation, except for the kernels of the M = 1 cases, which crash (groups of 32), hang
// (64) or exit with status 7 (128); it declines the M = 3 case with groups of 128.
class Faulty : public Backend {
 public:
  explicit Faulty(std::string_view arch) : host_(make_backend("host", arch)), arch_(arch) {}
  // Not "faulty@arch": a result must carry the name the backend gives itself.
  std::string name() const override { return "faulty(host)@" + arch_; }
  std::string declines(const quant::Spec& spec) const override {
    return spec.m == 3 && spec.gs == 128 ? "no groups of 128 over 3 rows" : "";
  }
  void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    if (spec.m == 1 && spec.gs == 32) crash();
    if (spec.m == 1 && spec.gs == 64) hang();
    if (spec.m == 1 && spec.gs == 128) _exit(7);
    host_->quant(spec, input, x, codes, scales);
  }

 private:
  std::unique_ptr<Backend> host_;
  std::string arch_;
};

// Faulty backends made in this process (a child's count is its own).
int made_here = 0;

void register_test_backends() {
  static const bool registered = [] {
    register_kernel_backends();
    register_backend("faulty", [](std::string_view arch) -> std::unique_ptr<Backend> {
      ++made_here;
      return std::make_unique<Faulty>(arch);
    });
    register_backend("crash-on-make", [](std::string_view) -> std::unique_ptr<Backend> { crash(); });
    register_backend("no-device", [](std::string_view) -> std::unique_ptr<Backend> {
      throw BackendError("no-device backend: no device present");
    });
    return true;
  }();
  (void)registered;
}

cli::Selection selection(std::string filter, bool isolate, std::string backend = "faulty", int jobs = 1) {
  register_test_backends();
  cli::Selection s;
  s.filter = std::move(filter);
  s.backend = std::move(backend);
  s.archs = {"host-w32"};
  s.isolate = isolate;
  s.timeout = 2;
  s.jobs = jobs;
  return s;
}

// Each case in a child process of its own (--isolate), or in three worker processes that run
// several cases each (--isolate --jobs 3): the same results either way.
class Isolate : public ::testing::TestWithParam<int> {
 protected:
  static cli::Selection isolated(std::string filter, std::string backend = "faulty") {
    return selection(std::move(filter), true, std::move(backend), GetParam());
  }
};
INSTANTIATE_TEST_SUITE_P(Processes, Isolate, ::testing::Values(1, 3),
                         [](const auto& info) { return info.param == 1 ? "one_per_case" : "three_workers"; });

const CaseResult& result_of(const cli::SweepResult& sw, std::string_view id) {
  for (const CaseResult& r : sw.results)
    if (r.case_id == id) return r;
  throw std::runtime_error("no result for " + std::string(id));
}

TEST_P(Isolate, CrashesHangsAndExitsGetTheVerdictErrorAndTheSweepGoesOn) {
  const cli::SweepResult sw = cli::sweep(isolated(kCases));
  ASSERT_EQ(sw.results.size(), 5u);  // the sixth case is declined
  EXPECT_TRUE(sw.any_failed);
  const auto expect_error = [&](const char* id, const std::string& message) {
    const CaseResult& r = result_of(sw, id);
    EXPECT_EQ(r.verdict, Verdict::error) << id;
    EXPECT_EQ(r.message, message) << id;
    EXPECT_EQ(r.backend, "faulty(host)@host-w32") << id;  // named by the child before its kernel ran
    EXPECT_EQ(r.family, "quant") << id;
    EXPECT_EQ(r.profile, sw.results.back().profile) << id;  // as a case that ran says it
  };
  expect_error(kCrashes, "the case's process was killed by signal 11 (SIGSEGV: Segmentation fault)");
  expect_error(kHangs, "the case's process did not finish in 2 s (killed)");
  expect_error(kExits, "the case's process exited with status 7 without a result");
  EXPECT_GE(result_of(sw, kHangs).wall_seconds, 2.0);
}

TEST_P(Isolate, ABackendThatCrashesBeforeItHasANameIsNamedAfterItsArch) {
  const cli::SweepResult sw = cli::sweep(isolated(kExits, "crash-on-make"));
  ASSERT_EQ(sw.results.size(), 1u);
  EXPECT_EQ(sw.results[0].backend, "crash-on-make@host-w32");
  EXPECT_EQ(sw.results[0].message, "the case's process was killed by signal 11 (SIGSEGV: Segmentation fault)");
}

TEST_P(Isolate, CasesThatRunGiveTheResultsOfARunWithoutIsolation) {
  // Without isolation only the cases that do not take the process down can run. It runs first: a
  // child forked after this process ran host kernels must not wait for this process's workers.
  const std::string ran = "quant.group/vllm/e4m3fn/bf16/3x640/*";
  const cli::SweepResult direct = cli::sweep(selection(ran, false));
  const cli::SweepResult isolated = cli::sweep(Isolate::isolated(ran));
  ASSERT_EQ(direct.results.size(), 2u);
  ASSERT_EQ(isolated.results.size(), direct.results.size());
  for (size_t i = 0; i < direct.results.size(); ++i) {
    const CaseResult &a = isolated.results[i], &b = direct.results[i];
    EXPECT_EQ(a.case_id, b.case_id);
    EXPECT_EQ(a.backend, b.backend);
    EXPECT_EQ(a.verdict, b.verdict) << a.case_id;
    EXPECT_EQ(a.digest, b.digest) << a.case_id;
    EXPECT_EQ(a.elements, b.elements) << a.case_id;
    EXPECT_EQ(a.n_exact, b.n_exact) << a.case_id;
    EXPECT_EQ(a.message, b.message) << a.case_id;
    EXPECT_TRUE(passes(a.verdict)) << a.case_id;
  }
  EXPECT_FALSE(isolated.any_failed);
  const std::map<std::string, size_t> skipped{{kDeclined, 1}};
  EXPECT_EQ(count_by_reason(isolated.declined), skipped);
  EXPECT_EQ(count_by_reason(direct.declined), skipped);
  ASSERT_EQ(isolated.declined.size(), 1u);
  EXPECT_EQ(isolated.declined[0].case_id, direct.declined[0].case_id);
}

TEST(Jobs, WorkersWithoutIsolationGiveASerialSweepsResultsInItsOrder) {
  const std::string slice = "quant.group/vllm/e4m3fn/*";
  const cli::SweepResult serial = cli::sweep(selection(slice, false, "host"));
  const cli::SweepResult workers = cli::sweep(selection(slice, false, "host", 3));
  ASSERT_GT(serial.results.size(), 10u);
  ASSERT_EQ(workers.results.size(), serial.results.size());
  for (size_t i = 0; i < serial.results.size(); ++i) {
    const CaseResult &a = workers.results[i], &b = serial.results[i];
    EXPECT_EQ(a.case_id, b.case_id);
    EXPECT_EQ(a.verdict, b.verdict) << a.case_id;
    EXPECT_EQ(a.digest, b.digest) << a.case_id;
    EXPECT_EQ(a.n_exact, b.n_exact) << a.case_id;
    EXPECT_EQ(a.message, b.message) << a.case_id;
  }
}

TEST_P(Isolate, OnlyTheChildrenMakeTheBackend) {
  // A CUDA context does not survive a fork: the process that forks must not have one.
  const std::string ran = "quant.group/vllm/e4m3fn/bf16/3x640/*";
  made_here = 0;
  EXPECT_FALSE(cli::sweep(isolated(ran)).any_failed);
  EXPECT_EQ(made_here, 0);
  cli::sweep(selection(ran, false));
  EXPECT_EQ(made_here, 1);
}

TEST_P(Isolate, BadUsageInTheChildIsBadUsageHere) {
  const auto sweep_of = [](cli::Selection s) { return [s] { cli::sweep(s); }; };
  cli::Selection bad_case = isolated("*");
  bad_case.case_id = "quant.group/vllm/e4m3fn/bf16/1x640/gs33";
  const std::string message = usage_error(sweep_of(bad_case));
  EXPECT_TRUE(message.starts_with("case 'quant.group/vllm/e4m3fn/bf16/1x640/gs33'")) << message;
  bad_case.isolate = false, bad_case.jobs = 1;
  EXPECT_EQ(message, usage_error(sweep_of(bad_case)));

  const std::string unknown = usage_error(sweep_of(isolated(kCases, "no-such-backend")));
  EXPECT_TRUE(unknown.starts_with("unknown backend 'no-such-backend'")) << unknown;
  EXPECT_EQ(unknown, usage_error(sweep_of(selection(kCases, false, "no-such-backend"))));
}

TEST_P(Isolate, AnInfrastructureErrorInTheChildEndsTheSweepAsOne) {
  for (const bool isolate : {true, false}) {
    try {
      cli::sweep(isolate ? isolated(kCases, "no-device") : selection(kCases, false, "no-device"));
      ADD_FAILURE() << "a sweep without its device ran";
    } catch (const UsageError& e) {
      ADD_FAILURE() << "bad usage (exit 2) instead of an infrastructure error (exit 3): " << e.what();
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "no-device backend: no device present") << isolate;
    }
  }
}

TEST(Isolate, AutoResolvesInAChildAsItDoesHere) {
  cli::Selection s = selection(kCases, true, "auto");
  const std::string isolated = cli::resolve_backend(s);
  s.isolate = false;
  EXPECT_EQ(isolated, cli::resolve_backend(s));
  EXPECT_TRUE(cli::yes_in_child([] { return true; }, 5));
  EXPECT_FALSE(cli::yes_in_child([] { return false; }, 5));
  EXPECT_FALSE(cli::yes_in_child([]() -> bool { crash(); }, 5));
}

TEST(ChildProcess, AMessageLargerThanThePipeArrivesWhole) {
  const std::string big(8 << 20, 'x');
  const ChildEnd end = run_in_child([&](const SendToParent& send) { send(big), send("end"); }, 60);
  EXPECT_TRUE(end.clean()) << end.how();
  EXPECT_EQ(end.sent.size(), big.size() + 3);
  EXPECT_TRUE(end.sent.ends_with("xend"));
}

TEST(ChildProcess, WhatTheChildSentBeforeItCrashedArrives) {
  const ChildEnd end = run_in_child([](const SendToParent& send) { send("before"), crash(); }, 60);
  EXPECT_FALSE(end.clean());
  EXPECT_TRUE(end.killed());
  EXPECT_EQ(end.sent, "before");
  EXPECT_EQ(end.how(), "was killed by signal 11 (SIGSEGV: Segmentation fault)");
}

}  // namespace
}  // namespace ulpgate
