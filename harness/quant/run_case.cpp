#include "harness/quant/run_case.hpp"

#include <chrono>
#include <cstring>

#include "harness/golden/golden_file.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::quant {

CaseRun run_case(const Case& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseRun run;
  run.inputs = c.inputs();
  run.expected = expected(c, run.inputs);
  run.codes.assign(run.expected.profile.codes.size(), kPoison);
  run.storage.assign(run.expected.profile.storage.size(), kPoison);
  try {
    backend.quant(c.spec, c.input, run.inputs.raw, run.codes, run.storage);
    run.result = compare(c, run.inputs, run.expected, {run.codes, run.storage}, default_budgets());
  } catch (const BackendError& e) {
    run.result.case_id = c.id();
    run.result.family = "quant";
    run.result.profile = std::string(c.spec.profile->name);
    run.result.verdict = Verdict::error;
    run.result.message = e.what();
  }
  std::vector<std::byte> out(run.codes.size() + run.storage.size());
  std::memcpy(out.data(), run.codes.data(), run.codes.size());
  std::memcpy(out.data() + run.codes.size(), run.storage.data(), run.storage.size());
  run.result.digest = output_digest(out);
  run.result.backend = backend.name();
  run.result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace ulpgate::quant
