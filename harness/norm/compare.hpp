// Judges a backend's RMSNorm outputs against the reference (spec/norm.md "Budget"): each output
// equal to the profile's roundings at some fp32 r a kernel may compute (the exact r within the
// proven accumulation + rsqrt error, golden/budgets.csv row `r`); elements that needed another r
// are counted as flips; y within its ideal budget; the residual bit-exact; the quantized outputs
// judged by quant.group's comparator on the values that r gives, so layouts are diagnosed the same
// way — plus the fused-op story of R1 (fp32 scales where int32-packed ue8m0 is expected).
#pragma once

#include <span>

#include "harness/core/case_result.hpp"
#include "harness/golden/budgets.hpp"
#include "harness/norm/norm_case.hpp"
#include "harness/quant/compare.hpp"

namespace ulpgate::norm {

// What every 16-bit output holds before a backend runs: an unwritten element stays this.
inline constexpr uint16_t kPoison16 = uint16_t(quant::kPoison) * 0x0101;

// Bad elements a result lists at most.
inline constexpr size_t kFirstBad = 5;

struct Observed {
  std::span<const uint16_t> y, residual;  // [M*H] bits of dtype (rms, rms-add)
  std::span<const uint8_t> codes, storage;  // rms-quant
};

// Judged and, when it fails, diagnosed (diagnosis.hpp).
CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets);
// Counts and verdict only: what a hypothesis needs to know whether an alternative passes.
// first_row: the row of a larger case that row 0 of a slab's data is (rms, rms-add), for the bad
// elements' lines.
CaseResult judge(const Case& c, const Inputs& in, const Expected& e, const Observed& o, const BudgetTable& budgets,
                 int64_t first_row = 0);

}  // namespace ulpgate::norm
