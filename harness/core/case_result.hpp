// What one case produced, as plain data: the runner fills it, golden rows and every report are
// built from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/verdict.hpp"

namespace ulpgate {

struct CaseResult {
  std::string case_id;
  std::string family;   // op family: "quant", "norm", "gemm", ... (golden/<arch>/<family>.csv)
  std::string profile;  // "vllm", "deepgemm", ...
  std::string backend;  // "host", "cuda", "hip", "vendor", "plugin:..."
  Verdict verdict = Verdict::exact;

  // Element counts per class, over all compared outputs of the case.
  uint64_t elements = 0;
  uint64_t n_exact = 0;
  uint64_t n_within = 0;     // allowed deviations (tie / double-rounding flips)
  uint64_t n_over = 0;       // deviations no budget explains
  uint64_t n_nonfinite = 0;  // NaN/Inf where the reference is finite
  uint64_t n_nan = 0;        // NaN outputs in total (expected or not)
  double max_ulp = 0;        // worst distance seen, in ULPs (codes) of the output format

  uint64_t digest = 0;  // xxHash64 of the output bytes, as stored in golden files
  double wall_seconds = 0;

  std::vector<std::string> first_bad;  // the first few bad elements, one line each
  std::string message;                 // layout diagnosis or error text; empty when none
  std::string note;                    // what ran, as the backend says (a GEMM kernel's claimed
                                       // accumulator model): printed by reports, not golden data
};

}  // namespace ulpgate
