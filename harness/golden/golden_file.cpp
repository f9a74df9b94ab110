#include "harness/golden/golden_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <system_error>

#include "harness/golden/csv_table.hpp"

namespace ulpgate {

namespace {

constexpr std::array<const char*, 11> kColumns = {
    "case_id", "backend", "digest", "elements", "max_ulp", "n_exact",
    "n_within", "n_over", "n_nonfinite", "n_nan", "verdict"};

// Provenance keys in the order they are written.
struct KeySpec {
  std::string_view key;
  std::string Provenance::*field;  // null for source (an enum)
};
constexpr KeySpec kKeys[] = {
    {"arch", &Provenance::arch},         {"source", nullptr},
    {"device", &Provenance::device},     {"driver", &Provenance::driver},
    {"toolkit", &Provenance::toolkit},   {"suite_version", &Provenance::suite_version},
    {"commit", &Provenance::commit},     {"date", &Provenance::date},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "# key=value" with key in [a-z_]+; nullopt for a free-text comment.
std::optional<std::pair<std::string_view, std::string_view>> provenance_line(std::string_view line) {
  std::string_view body = trim(line.substr(1));
  const size_t eq = body.find('=');
  if (eq == 0 || eq == std::string_view::npos) return std::nullopt;
  const std::string_view key = body.substr(0, eq);
  if (!std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }))
    return std::nullopt;
  return std::pair{key, trim(body.substr(eq + 1))};
}

constexpr std::string_view kTitle = "ulpgate golden file: observations, not budgets (regenerate with `ulpgate golden update`)";

// The free-text comment lines but the title, in order.
std::vector<std::string> parse_notes(std::string_view text) {
  std::vector<std::string> notes;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line.front() != '#' || provenance_line(line)) continue;
    const std::string_view body = trim(line.substr(1));
    if (body != kTitle) notes.emplace_back(body);
  }
  return notes;
}

Provenance parse_provenance(std::string_view text, std::string_view file) {
  Provenance p;
  std::map<std::string, unsigned, std::less<>> seen;
  unsigned line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty() || line.front() != '#') continue;
    const auto kv = provenance_line(line);
    if (!kv) continue;
    const auto [key, value] = *kv;
    const KeySpec* spec = nullptr;
    for (const KeySpec& k : kKeys)
      if (k.key == key) spec = &k;
    if (!spec)
      csv::fail_at(file, line_no, "unknown provenance key '" + std::string(key) +
                                      "': expected arch, source, device, driver, toolkit, "
                                      "suite_version, commit or date");
    if (auto it = seen.find(key); it != seen.end())
      csv::fail_at(file, line_no, "provenance key '" + std::string(key) + "' repeated (first at line " +
                                      std::to_string(it->second) + ")");
    seen.emplace(std::string(key), line_no);
    if (spec->field) {
      p.*(spec->field) = std::string(value);
    } else if (value == "hardware" || value == "emulation") {
      p.source = value == "hardware" ? GoldenSource::hardware : GoldenSource::emulation;
    } else {
      csv::fail_at(file, line_no, "expected source=hardware or source=emulation, got '" +
                                      std::string(value) + "'");
    }
  }
  if (!seen.contains("arch") || p.arch.empty())
    csv::fail_at(file, 1, "expected a provenance line '# arch=ARCH'");
  if (!seen.contains("source"))
    csv::fail_at(file, 1, "expected a provenance line '# source=hardware|emulation'");
  return p;
}

uint64_t parse_digest(std::string_view field, std::string_view file, unsigned line) {
  uint64_t v = 0;
  const auto res = std::from_chars(field.data(), field.data() + field.size(), v, 16);
  if (field.size() != 16 || res.ec != std::errc() || res.ptr != field.data() + field.size())
    csv::fail_at(file, line, "expected 16 hex digits in column 'digest', got '" + std::string(field) + "'");
  return v;
}

GoldenRow parse_row(const std::array<std::string, 11>& f, std::string_view file, unsigned line) {
  GoldenRow r;
  r.case_id = f[0];
  r.backend = f[1];
  if (r.case_id.empty() || r.backend.empty())
    csv::fail_at(file, line, "expected a non-empty case_id and backend");
  r.digest = parse_digest(f[2], file, line);
  r.elements = csv::parse_count(f[3], kColumns[3], file, line);
  r.max_ulp = csv::parse_number(f[4], kColumns[4], file, line);
  if (!(r.max_ulp >= 0))
    csv::fail_at(file, line, "expected max_ulp >= 0 (or inf), got '" + f[4] + "'");
  uint64_t* counts[] = {&r.n_exact, &r.n_within, &r.n_over, &r.n_nonfinite, &r.n_nan};
  for (int i = 0; i < 5; ++i) *counts[i] = csv::parse_count(f[5 + i], kColumns[5 + i], file, line);
  const auto verdict = parse_verdict(f[10]);
  if (!verdict)
    csv::fail_at(file, line, "unknown verdict '" + f[10] + "': expected " + verdict_names());
  r.verdict = *verdict;
  return r;
}

bool row_less(const GoldenRow& a, const GoldenRow& b) {
  return std::tie(a.case_id, a.backend) < std::tie(b.case_id, b.backend);
}

std::string row_key(const GoldenRow& r) { return r.case_id + " (" + r.backend + ")"; }

void reject_line_breaks(std::string_view s) {
  if (s.find_first_of("\r\n") != std::string_view::npos)
    throw std::invalid_argument("golden field holds a line break: '" + std::string(s) + "'");
}

// A golden row is one line: a field with a line break is refused, everything else quoted as needed.
std::string csv_field(std::string_view s) {
  reject_line_breaks(s);
  return csv::quote_field(s);
}


std::string row_text(const GoldenRow& r) {
  std::string s = csv_field(r.case_id) + "," + csv_field(r.backend) + "," + digest_hex(r.digest);
  for (uint64_t n : {r.elements}) s += "," + std::to_string(n);
  s += "," + csv::number_text(r.max_ulp);
  for (uint64_t n : {r.n_exact, r.n_within, r.n_over, r.n_nonfinite, r.n_nan}) s += "," + std::to_string(n);
  return s + "," + std::string(verdict_name(r.verdict)) + "\n";
}

}  // namespace

std::string golden_row_changes(const GoldenRow& a, const GoldenRow& b) {
  std::string s;
  auto field = [&](std::string_view name, const std::string& x, const std::string& y) {
    if (x != y) s += (s.empty() ? "" : "; ") + std::string(name) + " " + x + " -> " + y;
  };
  field("verdict", std::string(verdict_name(a.verdict)), std::string(verdict_name(b.verdict)));
  field("digest", digest_hex(a.digest), digest_hex(b.digest));
  field("elements", std::to_string(a.elements), std::to_string(b.elements));
  field("max_ulp", csv::number_text(a.max_ulp), csv::number_text(b.max_ulp));
  field("n_exact", std::to_string(a.n_exact), std::to_string(b.n_exact));
  field("n_within", std::to_string(a.n_within), std::to_string(b.n_within));
  field("n_over", std::to_string(a.n_over), std::to_string(b.n_over));
  field("n_nonfinite", std::to_string(a.n_nonfinite), std::to_string(b.n_nonfinite));
  field("n_nan", std::to_string(a.n_nan), std::to_string(b.n_nan));
  return s;
}

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("writing " + name);
    data.remove_prefix(size_t(n));
  }
}

void refuse_unsafe_overwrite(const std::filesystem::path& path, const GoldenFile& golden,
                             GoldenWriteOptions options) {
  if (!std::filesystem::exists(path)) return;
  const std::string name = path.string();
  if (!options.allow_overwrite)
    throw UsageError(name + ": exists; refusing to overwrite it without an explicit update "
                            "(ulpgate golden update)");
  const Provenance old = read_golden(path).provenance;  // a malformed file is not replaced
  if (old.arch != golden.provenance.arch)
    throw UsageError(name + ": holds arch " + old.arch + ", not " + golden.provenance.arch +
                     "; refusing to overwrite it");
  if (old.source == GoldenSource::hardware && golden.provenance.source == GoldenSource::emulation)
    throw UsageError(name + ": records hardware observations; refusing to replace them with "
                            "emulation results");
}

}  // namespace

std::string_view golden_source_name(GoldenSource s) {
  return s == GoldenSource::hardware ? "hardware" : "emulation";
}

std::optional<Verdict> parse_verdict(std::string_view name) {
  for (Verdict v : kAllVerdicts)
    if (verdict_name(v) == name) return v;
  return std::nullopt;
}

uint64_t output_digest(std::span<const std::byte> bytes) {
  return XXH64(bytes.data(), bytes.size(), 0);
}

struct OutputDigest::State {
  std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> xxh{XXH64_createState(), XXH64_freeState};
};

OutputDigest::OutputDigest() : state_(std::make_unique<State>()) {
  if (!state_->xxh || XXH64_reset(state_->xxh.get(), 0) == XXH_ERROR) throw std::bad_alloc();
}
OutputDigest::~OutputDigest() = default;

void OutputDigest::add(std::span<const std::byte> part) {
  if (XXH64_update(state_->xxh.get(), part.data(), part.size()) == XXH_ERROR) throw std::bad_alloc();
}

uint64_t OutputDigest::value() const { return XXH64_digest(state_->xxh.get()); }

uint64_t repeated_byte_digest(std::byte b, int64_t n) {
  OutputDigest d;
  const std::vector<std::byte> chunk(size_t(std::clamp<int64_t>(n, 0, int64_t(1) << 20)), b);
  for (; n > 0; n -= int64_t(chunk.size())) d.add(std::span(chunk).first(size_t(std::min<int64_t>(n, int64_t(chunk.size())))));
  return d.value();
}

uint64_t output_digest(std::span<const std::span<const std::byte>> parts) {
  OutputDigest d;
  for (const auto part : parts) d.add(part);
  return d.value();
}

std::string digest_hex(uint64_t digest) {
  char buf[17];
  const auto end = std::to_chars(buf, buf + 16, digest, 16).ptr;
  const std::string digits(buf, end);
  return std::string(16 - digits.size(), '0') + digits;
}

GoldenRow golden_row(const CaseResult& r) {
  return {r.case_id, r.backend,  r.digest, r.elements,    r.max_ulp, r.n_exact,
          r.n_within, r.n_over, r.n_nonfinite, r.n_nan, r.verdict};
}

std::filesystem::path golden_path(const std::filesystem::path& golden_dir, std::string_view family) {
  return golden_dir / (std::string(family) + ".csv");
}

GoldenFile parse_golden(std::string_view text, std::string_view file_name) {
  csv::check_plain_text(text, file_name);
  GoldenFile golden;
  golden.provenance = parse_provenance(text, file_name);
  golden.notes = parse_notes(text);
  std::map<std::pair<std::string, std::string>, unsigned> lines;
  csv::read_rows<11>(file_name, text, kColumns, [&](const std::array<std::string, 11>& f, unsigned line) {
    GoldenRow row = parse_row(f, file_name, line);
    const auto [it, fresh] = lines.emplace(std::pair{row.case_id, row.backend}, line);
    if (!fresh)
      csv::fail_at(file_name, line, "duplicate row for " + row_key(row) + " (first at line " +
                                        std::to_string(it->second) + ")");
    golden.rows.push_back(std::move(row));
  });
  return golden;
}

GoldenFile read_golden(const std::filesystem::path& path) {
  return parse_golden(csv::read_text_file(path), path.string());
}

std::string render_golden(const GoldenFile& golden) {
  const Provenance& p = golden.provenance;
  if (p.arch.empty()) throw std::invalid_argument("golden file needs an arch");
  std::string s = "# " + std::string(kTitle) + "\n";
  for (const KeySpec& k : kKeys) {
    const std::string value = k.field ? p.*(k.field) : std::string(golden_source_name(p.source));
    reject_line_breaks(value);
    s += "# " + std::string(k.key) + "=" + value + "\n";
  }
  for (const std::string& note : golden.notes) {
    reject_line_breaks(note);
    if (provenance_line("# " + note)) throw std::invalid_argument("golden note reads as provenance: '" + note + "'");
    s += "# " + note + "\n";
  }
  for (const char* c : kColumns) s += std::string(c) + (c == kColumns.back() ? "\n" : ",");
  std::vector<GoldenRow> rows = golden.rows;
  std::sort(rows.begin(), rows.end(), row_less);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0 && !row_less(rows[i - 1], rows[i]))
      throw std::invalid_argument("golden file has two rows for " + row_key(rows[i]));
    s += row_text(rows[i]);
  }
  return s;
}

void write_golden(const std::filesystem::path& path, const GoldenFile& golden,
                  GoldenWriteOptions options) {
  const std::string text = render_golden(golden);
  refuse_unsafe_overwrite(path, golden, options);
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::filesystem::create_directories(dir);
  std::string temp = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) throw_errno("creating a temporary file in " + dir.string());
  try {
    write_all(fd, text, temp);
    if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) throw_errno("flushing " + temp);
    if (::close(fd) != 0) throw_errno("closing " + temp);
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    errno = err;
    throw_errno("renaming " + temp + " to " + path.string());
  }
}

std::string golden_diff(std::span<const GoldenRow> old_rows, std::span<const GoldenRow> new_rows) {
  std::map<std::pair<std::string, std::string>, std::pair<const GoldenRow*, const GoldenRow*>> rows;
  for (const GoldenRow& r : old_rows) rows[{r.case_id, r.backend}].first = &r;
  for (const GoldenRow& r : new_rows) rows[{r.case_id, r.backend}].second = &r;
  std::string s;
  size_t added = 0, removed = 0, changed = 0, same = 0;
  for (const auto& [key, pair] : rows) {
    const auto [before, after] = pair;
    if (!before) {
      ++added;
      s += "added    " + row_key(*after) + ": " + std::string(verdict_name(after->verdict)) +
           ", digest " + digest_hex(after->digest) + ", max_ulp " + csv::number_text(after->max_ulp) + "\n";
    } else if (!after) {
      ++removed;
      s += "removed  " + row_key(*before) + "\n";
    } else if (const std::string what = golden_row_changes(*before, *after); !what.empty()) {
      ++changed;
      s += "changed  " + row_key(*after) + ": " + what + "\n";
    } else {
      ++same;
    }
  }
  return s + std::to_string(added) + " added, " + std::to_string(removed) + " removed, " +
         std::to_string(changed) + " changed, " + std::to_string(same) + " unchanged\n";
}

}  // namespace ulpgate
