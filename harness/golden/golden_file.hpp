// Golden files golden/<arch>/<family>.csv: what one architecture produced for each case
// (observations, not budgets). Format:
//
//   # ulpgate golden file: observations, not budgets (regenerate with `ulpgate golden update`)
//   # arch=sm90
//   # source=hardware                    (hardware | emulation)
//   # device=NVIDIA H200
//   # driver=550.54.15
//   # toolkit=cuda-12.4
//   # suite_version=0.1.0
//   # commit=f587102abcd1
//   # date=2025-01-31
//   case_id,backend,digest,elements,max_ulp,n_exact,n_within,n_over,n_nonfinite,n_nan,verdict
//   quant.group/...,cuda,0123456789abcdef,4096,1,4090,6,0,0,0,within-budget
//
// A comment line "# key=value" (key in [a-z_]) is provenance; other comment lines are free text,
// kept as the file's notes (a prediction's facts and assumptions) except the title line.
// digest = 16 lowercase hex digits of xxHash64 (seed 0) of the output bytes. Rows are sorted by
// (case_id, backend) so diffs are clean; a (case_id, backend) pair appears once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/case_result.hpp"
#include "harness/core/verdict.hpp"

namespace ulpgate {

enum class GoldenSource : unsigned char { hardware, emulation };
std::string_view golden_source_name(GoldenSource s);

struct Provenance {
  std::string arch;  // required
  GoldenSource source = GoldenSource::emulation;
  std::string device, driver, toolkit, suite_version, commit, date;
  bool operator==(const Provenance&) const = default;
};

struct GoldenRow {
  std::string case_id, backend;
  uint64_t digest = 0;
  uint64_t elements = 0;
  double max_ulp = 0;
  uint64_t n_exact = 0, n_within = 0, n_over = 0, n_nonfinite = 0, n_nan = 0;
  Verdict verdict = Verdict::exact;
  bool operator==(const GoldenRow&) const = default;
};

struct GoldenFile {
  Provenance provenance;
  std::vector<std::string> notes;  // free-text header lines, without "# "
  std::vector<GoldenRow> rows;
};

std::optional<Verdict> parse_verdict(std::string_view name);

// xxHash64 (seed 0) of output bytes, and its 16-hex-digit text.
uint64_t output_digest(std::span<const std::byte> bytes);
// The same of parts one after another, without joining them (a 2^31-element output is not copied).
uint64_t output_digest(std::span<const std::span<const std::byte>> parts);
// The same of n bytes all equal to b (outputs a failed device run never handed over: poison).
uint64_t repeated_byte_digest(std::byte b, int64_t n);
// The same of parts given one at a time (outputs fetched from a device a slab at a time).
class OutputDigest {
 public:
  OutputDigest();
  ~OutputDigest();
  OutputDigest(const OutputDigest&) = delete;
  OutputDigest& operator=(const OutputDigest&) = delete;
  void add(std::span<const std::byte> part);
  uint64_t value() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};
std::string digest_hex(uint64_t digest);

GoldenRow golden_row(const CaseResult& r);

// golden_dir / (family + ".csv"), golden_dir being golden/<arch>.
std::filesystem::path golden_path(const std::filesystem::path& golden_dir, std::string_view family);

// Reading: UsageError "FILE:LINE: what was expected" on anything malformed.
GoldenFile parse_golden(std::string_view text, std::string_view file_name);
GoldenFile read_golden(const std::filesystem::path& path);

// The file's text, rows sorted. std::invalid_argument on an empty arch, a duplicate
// (case_id, backend) or a field holding a line break.
std::string render_golden(const GoldenFile& golden);

struct GoldenWriteOptions {
  bool allow_overwrite = false;  // required to replace an existing file
};

// Writes atomically (temporary file in the same directory, then rename). Refuses, with a
// UsageError saying why, to replace an existing file without allow_overwrite, one whose header
// names another arch, or hardware observations with emulation ones. I/O failures throw
// std::system_error.
void write_golden(const std::filesystem::path& path, const GoldenFile& golden,
                  GoldenWriteOptions options = {});

// The fields that differ, "name old -> new" joined by "; " (verdict, digest, then counts);
// empty when the rows are equal.
std::string golden_row_changes(const GoldenRow& before, const GoldenRow& after);

// Readable diff between two sets of rows, keyed by (case_id, backend): one line per added,
// removed or changed row (naming each changed field, old -> new), then a count line.
std::string golden_diff(std::span<const GoldenRow> old_rows, std::span<const GoldenRow> new_rows);

}  // namespace ulpgate
