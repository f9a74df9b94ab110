// `--junit FILE`: JUnit XML as CI systems read it. One <testsuite> per family.profile, one
// <testcase> per case id; a failing verdict is a <failure> (an `error` verdict an <error>)
// whose message names the verdict and whose text ends with `ulpgate repro <case id>`.
#pragma once

#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "harness/core/case_result.hpp"

namespace ulpgate {

void write_junit(std::ostream& out, std::span<const CaseResult> results,
                 std::string_view name = "ulpgate");

// Escapes & < > " ' and tab/line breaks (as character references, so attributes keep them);
// other control characters, which XML 1.0 cannot carry, become '?'.
std::string xml_escape(std::string_view text);

}  // namespace ulpgate
