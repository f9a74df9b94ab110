// The verdict vocabulary shared by comparators, golden files, gate and reports (DESIGN.md).
#pragma once
#include <array>
#include <string>
#include <string_view>

namespace ulpgate {

// Per case, the worst class seen; ordered from best to worst. out_of_bounds: the kernel wrote
// outside an output buffer (its guard regions changed), whatever the outputs hold.
enum class Verdict : unsigned char { exact, within_budget, over_budget, non_finite, layout, out_of_bounds, error };

inline constexpr std::array kAllVerdicts = {Verdict::exact,  Verdict::within_budget, Verdict::over_budget,
                                            Verdict::non_finite, Verdict::layout, Verdict::out_of_bounds,
                                            Verdict::error};

constexpr std::string_view verdict_name(Verdict v) {
  constexpr std::string_view names[] = {"exact",  "within-budget", "over-budget", "non-finite",
                                        "layout", "out-of-bounds", "error"};
  return names[int(v)];
}

// "exact, within-budget, ... or error": for messages that list the choices.
inline std::string verdict_names() {
  std::string s;
  for (size_t i = 0; i < kAllVerdicts.size(); ++i)
    s += (i == 0 ? "" : i + 1 == kAllVerdicts.size() ? " or " : ", ") + std::string(verdict_name(kAllVerdicts[i]));
  return s;
}

constexpr bool passes(Verdict v) { return v == Verdict::exact || v == Verdict::within_budget; }

}  // namespace ulpgate
