// `--csv FILE`: one row per case with every field of its CaseResult (RFC 4180 quoting).
#pragma once

#include <ostream>
#include <span>

#include "harness/core/case_result.hpp"

namespace ulpgate {

// Columns: case_id,family,profile,backend,verdict,elements,n_exact,n_within,n_over,
// n_nonfinite,n_nan,max_ulp,digest,wall_s,message
void write_csv_report(std::ostream& out, std::span<const CaseResult> results);

}  // namespace ulpgate
