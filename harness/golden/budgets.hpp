// golden/budgets.csv: the allowed deviation per op x profile x output, each with a reason.
// Budgets are constraints (golden files are observations): they never loosen without a reason.
//
//   op,profile,output,rule,limit,reason
//   quant.group,*,codes,bit-exact,0,codes follow the profile's fp32 arithmetic exactly
//   quant.group,vllm-triton,codes,max-ulp,1,approximate division (<= 2 ulp) moves a code by 1
//
// op and profile may be "*" (any); lookup prefers (op, profile), then (op, *), then
// (*, profile), then (*, *). Rules:
//   bit-exact  limit must be 0
//   max-ulp    limit = allowed distance in codes / ULPs of the output format
//   tie-flip   the justified-deviation rule: a 1-code deviation from the ideal only where the
//              exact quotient lies within `limit` fp32 ulps (the profile's proven quotient
//              error) of a rounding boundary; limit > 0
//   rsqrt-flip RMSNorm outputs: equal to the profile-exact output computed with some fp32 r
//              within the proven error of the kernel's r (accumulating the sum of squares over at
//              least `limit` lanes: depth ceil(H / limit) + log2(limit) roundings, plus the
//              profile's rsqrt bound); each such element is counted as a flip
//   accum-bound GEMM outputs against the ideal: |D - D_ideal| <= limit * B + 1/2 ulp of the output,
//              B the claimed accumulator model's rigorous per-element error bound (reference/gemm
//              error_bound: the quantities of its declared order, never a bare gamma K); limit >= 1
//   abs-rel    reserved: rejected until a comparator implements it, so no row is silently ignored
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ulpgate {

enum class BudgetRule : unsigned char { bit_exact, max_ulp, tie_flip, rsqrt_flip, accum_bound, abs_rel };

std::string_view budget_rule_name(BudgetRule r);
std::optional<BudgetRule> parse_budget_rule(std::string_view name);

struct Budget {
  std::string op, profile, output;
  BudgetRule rule = BudgetRule::bit_exact;
  double limit = 0;
  std::string reason;
  unsigned line = 0;  // where it was read, for messages
};

class BudgetTable {
 public:
  // Both throw UsageError "FILE:LINE: what was expected" on a malformed file.
  static BudgetTable load(const std::filesystem::path& path);
  static BudgetTable parse(std::string_view text, std::string_view file_name);

  // The most specific row for (op, profile, output), or nullptr.
  const Budget* find(std::string_view op, std::string_view profile, std::string_view output) const;
  // As find(), but a missing budget is a UsageError naming the file.
  const Budget& lookup(std::string_view op, std::string_view profile, std::string_view output) const;
  // As lookup(), and a UsageError naming the file and line when the row's rule is not `rule` (the
  // one a comparator implements for that output).
  const Budget& lookup(std::string_view op, std::string_view profile, std::string_view output, BudgetRule rule) const;

  std::span<const Budget> rows() const { return rows_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<Budget> rows_;
};

}  // namespace ulpgate
