// The console summary of a run: one row per family x profile, then one line per failing case
// that ends with the command replaying it.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "harness/core/case_result.hpp"

namespace ulpgate {

// family | profile | cases | exact | within (tie flips) | fail | worst ulp, plus a total row.
std::string console_table(std::span<const CaseResult> results);

// "FAIL <id> [<backend>] <verdict>: <counts>, max <ulp> ulp[: message][ (note)] -> ulpgate repro <id>"
std::string failure_line(const CaseResult& r);

// "ulpgate repro <id>", the id single-quoted when the shell would otherwise split or expand it.
std::string repro_command(std::string_view case_id);

}  // namespace ulpgate
