#include "harness/report/csv_report.hpp"

#include <charconv>
#include <string>
#include <string_view>

#include "harness/golden/csv_table.hpp"
#include "harness/golden/golden_file.hpp"

namespace ulpgate {

using csv::number_text;
constexpr auto field = csv::quote_field;

void write_csv_report(std::ostream& out, std::span<const CaseResult> results) {
  out << "case_id,family,profile,backend,verdict,elements,n_exact,n_within,n_over,n_nonfinite,"
         "n_nan,max_ulp,digest,wall_s,message,note,model\n";
  for (const CaseResult& r : results) {
    out << field(r.case_id) << ',' << field(r.family) << ',' << field(r.profile) << ','
        << field(r.backend) << ',' << verdict_name(r.verdict) << ',' << r.elements << ','
        << r.n_exact << ',' << r.n_within << ',' << r.n_over << ',' << r.n_nonfinite << ','
        << r.n_nan << ',' << number_text(r.max_ulp) << ',' << digest_hex(r.digest) << ','
        << number_text(r.wall_seconds) << ',' << field(r.message) << ',' << field(r.note) << ','
        << field(r.model) << '\n';
  }
}

}  // namespace ulpgate
