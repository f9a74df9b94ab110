#include "harness/report/csv_report.hpp"

#include <charconv>
#include <string>
#include <string_view>

#include "harness/golden/golden_file.hpp"

namespace ulpgate {

namespace {

std::string field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number_text(double v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace

void write_csv_report(std::ostream& out, std::span<const CaseResult> results) {
  out << "case_id,family,profile,backend,verdict,elements,n_exact,n_within,n_over,n_nonfinite,"
         "n_nan,max_ulp,digest,wall_s,message\n";
  for (const CaseResult& r : results) {
    out << field(r.case_id) << ',' << field(r.family) << ',' << field(r.profile) << ','
        << field(r.backend) << ',' << verdict_name(r.verdict) << ',' << r.elements << ','
        << r.n_exact << ',' << r.n_within << ',' << r.n_over << ',' << r.n_nonfinite << ','
        << r.n_nan << ',' << number_text(r.max_ulp) << ',' << digest_hex(r.digest) << ','
        << number_text(r.wall_seconds) << ',' << field(r.message) << '\n';
  }
}

}  // namespace ulpgate
