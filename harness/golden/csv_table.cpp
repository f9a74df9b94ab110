#include "harness/golden/csv_table.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ulpgate::csv {

void fail_at(std::string_view file, unsigned line, std::string_view what) {
  throw UsageError(std::string(file) + ":" + std::to_string(line == 0 ? 1 : line) + ": " +
                   std::string(what));
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path.string() + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

uint64_t parse_count(std::string_view field, std::string_view column, std::string_view file,
                     unsigned line) {
  uint64_t v = 0;
  const auto res = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || res.ec != std::errc() || res.ptr != field.data() + field.size())
    fail_at(file, line, "expected a non-negative integer in column '" + std::string(column) +
                            "', got '" + std::string(field) + "'");
  return v;
}

double parse_number(std::string_view field, std::string_view column, std::string_view file,
                    unsigned line) {
  double v = 0;
  const auto res = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || res.ec != std::errc() || res.ptr != field.data() + field.size())
    fail_at(file, line, "expected a number in column '" + std::string(column) + "', got '" +
                            std::string(field) + "'");
  return v;
}

void check_plain_text(std::string_view text, std::string_view file) {
  if (text.starts_with("\xEF\xBB\xBF"))
    fail_at(file, 1, "starts with a UTF-8 byte-order mark: expected plain text (save the file without it)");
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
    fail_at(file, unsigned(std::count(text.begin(), text.begin() + nul, '\n') + 1),
            "NUL byte: expected text");
}

void rethrow_as_usage(const io::error::base& e, std::string_view file, unsigned line,
                      std::string_view expected_header) {
  const std::string header = "'" + std::string(expected_header) + "'";
  if (dynamic_cast<const io::error::too_few_columns*>(&e))
    fail_at(file, line, "too few fields: expected the columns " + header);
  if (dynamic_cast<const io::error::too_many_columns*>(&e))
    fail_at(file, line, "too many fields (quote a field that contains a comma): expected " + header);
  if (dynamic_cast<const io::error::escaped_string_not_closed*>(&e))
    fail_at(file, line, "a quoted field is not closed");
  if (auto* m = dynamic_cast<const io::error::missing_column_in_header*>(&e))
    fail_at(file, line, "header lacks column '" + std::string(m->column_name) + "': expected " + header);
  if (auto* x = dynamic_cast<const io::error::extra_column_in_header*>(&e))
    fail_at(file, line, "unknown column '" + std::string(x->column_name) + "' in header: expected " + header);
  if (auto* d = dynamic_cast<const io::error::duplicated_column_in_header*>(&e))
    fail_at(file, line, "column '" + std::string(d->column_name) + "' appears twice in header");
  if (dynamic_cast<const io::error::header_missing*>(&e))
    fail_at(file, line, "no header line: expected " + header);
  fail_at(file, line, e.what());
}

std::string quote_field(std::string_view s) {
  const bool quote = s.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!s.empty() && (s.front() == '#' || s.front() == ' ' || s.back() == ' ' ||
                                     s.front() == '\t' || s.back() == '\t'));
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number_text(double v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace ulpgate::csv
