#include "harness/quant/run_case.hpp"

#include <chrono>

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
  // The digest covers codes then scale storage (both may be empty: M = 0).
  std::vector<std::byte> out;
  for (const auto* part : {&run.codes, &run.storage})
    for (uint8_t b : *part) out.push_back(std::byte(b));
  run.result.digest = output_digest(out);
  run.result.backend = backend.name();
  run.result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace ulpgate::quant
