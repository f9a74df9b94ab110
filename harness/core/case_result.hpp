// What one case produced, as plain data: the runner fills it, golden rows and every report are
// built from it.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/verdict.hpp"

namespace ulpgate {

// Elements by the distance that max_ulp measures (ULPs of the output format: to the profile's
// codes for quantization, to the ideal for RMSNorm, to the claimed order's result for GEMM and
// all-reduce), for the report's histograms: bin 0 holds 0 ULP, bin 1 holds 1, bin b (2..10) holds (2^(b-2), 2^(b-1)], bin 11
// more than 512 ULP, bin 12 non-finite distances (a NaN or Inf where the reference is finite).
inline constexpr int kUlpBins = 13;
using UlpHistogram = std::array<uint64_t, kUlpBins>;

inline int ulp_bin(double ulps) {
  if (!std::isfinite(ulps)) return kUlpBins - 1;
  if (ulps <= 1) return ulps <= 0 ? 0 : 1;
  const int b = 2 + int(std::ceil(std::log2(ulps))) - 1;  // (2^(b-2), 2^(b-1)]
  return b < kUlpBins - 2 ? b : kUlpBins - 2;
}

// A map of where a case's errors lie (GEMM output tiles and K-blocks, quantization (row, group)):
// rows x cols cells, row-major; NaN where a cell has no value. Drawn by the HTML report.
struct ErrorGrid {
  std::string title;        // "bad elements by output tile"
  std::string row_label, col_label, value_label;
  int64_t rows = 0, cols = 0;
  std::vector<float> cells;
  // The value meaning "as expected" (the K-block map's f = 1), drawn white, a cell darker the
  // farther it is from it; NaN: light is the smallest value, dark the largest.
  float neutral = NAN;
};

struct CaseResult;
inline void count_ulps(CaseResult& r, double ulps);

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
  std::string model;                   // GEMM: the accumulation the outputs follow bit for bit (the
                                       // claim, or the identified variant); empty when none does
  UlpHistogram ulp_hist{};             // compared elements by ULP distance to the ideal
  std::vector<ErrorGrid> grids;        // a failing case's error maps (empty when it passes)
};

inline void count_ulps(CaseResult& r, double ulps) { ++r.ulp_hist[size_t(ulp_bin(ulps))]; }

// The verdict that a case's counts give: non-finite, over budget, within budget or exact.
inline Verdict verdict_of_counts(const CaseResult& r) {
  return r.n_nonfinite ? Verdict::non_finite
         : r.n_over    ? Verdict::over_budget
         : r.n_within  ? Verdict::within_budget
                       : Verdict::exact;
}

}  // namespace ulpgate
