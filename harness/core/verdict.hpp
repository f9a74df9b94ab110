// The verdict vocabulary shared by comparators, golden files, gate and reports (DESIGN.md).
#pragma once
#include <string_view>

namespace ulpgate {

// Per case, the worst class seen; ordered from best to worst.
enum class Verdict : unsigned char { exact, within_budget, over_budget, non_finite, layout, error };

constexpr std::string_view verdict_name(Verdict v) {
  constexpr std::string_view names[] = {"exact",      "within-budget", "over-budget",
                                        "non-finite", "layout",        "error"};
  return names[int(v)];
}

constexpr bool passes(Verdict v) { return v == Verdict::exact || v == Verdict::within_budget; }

}  // namespace ulpgate
