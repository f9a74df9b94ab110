// Judges a backend's GEMM output D (spec/gemm.md "Budgets"), element by element:
//   bit-exact tier (a claimed model): equal to the model's replay (fp32: the same bits; bf16: RN of
//     the model's fp32), golden/budgets.csv row `d` (bit-exact);
//   error-bound tier (always; alone for budget-only claims): |D - D_ideal| <= f B + 1/2 ulp of the
//     output, B the claimed model's per-element bound (reference/gemm error_bound), f the row
//     `d-ideal` (accum-bound).
// max_ulp is the distance to the claimed model's output in ulps of the output format.
// An element is exact (equal to the claimed model; budget-only: to the ideal's rounding), within
// budget (budget-only: inside the bound), over budget, or non-finite (NaN or Inf where D_ideal is
// finite). A failing case gets a diagnosis (diagnosis.hpp: the story that explains the data,
// with verdict layout when it is one) and its error maps (maps.hpp) after the first bad elements.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "harness/core/case_result.hpp"
#include "harness/gemm/gemm_case.hpp"
#include "harness/gemm/maps.hpp"
#include "harness/golden/budgets.hpp"

namespace ulpgate::gemm {

// The byte every output holds before a backend runs (D's elements read 0xA5A5 / 0xA5A5A5A5).
inline constexpr uint8_t kPoison = 0xA5;

struct Expected {
  Ideal ideal;                       // before the backend runs, or a slab at a time after it (run_case.hpp)
  const AccumModel* model = nullptr;  // what the backend claims (or what identification found), and
  bool budget_only = false;           // its replay with bounds
  Replay replay;
  std::string identified;            // the identification's story, when the claim left the order open
  std::string arch;                  // whose matrix paths identification considers (GemmClaim::arch)
};

// D's output bits (bf16 in the low 16 bits, or fp32) of element i of raw little-endian bytes.
uint32_t output_bits(Format out, std::span<const std::byte> d, size_t i);

// The d-ideal row's factor f of the model's bound (an element's allowance: f B + half an ulp of the
// output); with bit_exact, the `d` row must say bit-exact (golden/budgets.csv).
double bound_factor(const BudgetTable& t, const Spec& s, bool bit_exact);

struct Compared {
  CaseResult result;
  ErrorMaps maps;  // filled for a failing case
};

// Judged and, when it fails and `diagnosed` is set, diagnosed with its error maps (false: counts and
// verdict only, and `in` is not read).
Compared compare(const Case& c, const Operands& in, const Expected& e, std::span<const std::byte> d,
                 const BudgetTable& budgets, bool diagnosed = true);

}  // namespace ulpgate::gemm
