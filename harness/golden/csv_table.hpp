// Shared CSV reading for budgets.csv and golden files: fast-cpp-csv-parser underneath, and every
// problem turned into a UsageError "FILE:LINE: what was expected" (exit code 2).
// Private to the harness .cpp files (it includes <csv.h>).
#pragma once

#define CSV_IO_NO_THREAD  // small files: no reader thread
#pragma GCC diagnostic push
#ifndef __clang__  // a g++ warning only
#pragma GCC diagnostic ignored "-Wstringop-truncation"  // its bounded strncpy of file names
#endif
#include <csv.h>
#pragma GCC diagnostic pop

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "reference/formats/formats.hpp"

namespace ulpgate::csv {

// '#' lines and blank lines are comments; fields are trimmed and may be "double quoted".
template <unsigned N>
using Reader = io::CSVReader<N, io::trim_chars<' ', '\t'>, io::double_quote_escape<',', '"'>,
                             io::throw_on_overflow, io::single_and_empty_line_comment<'#'>>;

[[noreturn]] void fail_at(std::string_view file, unsigned line, std::string_view what);

// Writing: a field quoted when a reader would otherwise misread it (comma, quote, line break, a
// leading '#', spaces or tabs that trimming would eat), and a number in its shortest exact text.
std::string quote_field(std::string_view s);
std::string number_text(double v);

// The whole file; UsageError "FILE: cannot read: REASON" when it cannot be opened.
std::string read_text_file(const std::filesystem::path& path);

// Strict field parsers: the whole field must be the number.
uint64_t parse_count(std::string_view field, std::string_view column, std::string_view file,
                     unsigned line);
double parse_number(std::string_view field, std::string_view column, std::string_view file,
                    unsigned line);

// Refuses text that the CSV parser would misread: a NUL byte ends its line early (the rest of the
// line would be dropped silently) and a byte-order mark would become part of the first column name.
// Each reader calls it first, before any other check.
void check_plain_text(std::string_view text, std::string_view file);

// Turns a parser exception into the file:line message naming the expected columns.
[[noreturn]] void rethrow_as_usage(const io::error::base& e, std::string_view file,
                                   unsigned line, std::string_view expected_header);

// Reads `text` (the contents of `file`) whose header names exactly `columns` (any order) and
// calls on_row(fields, line) for each data row, fields in the order of `columns`.
template <unsigned N, class OnRow>
void read_rows(std::string_view file, std::string_view text,
               const std::array<const char*, N>& columns, OnRow&& on_row) {
  std::string header;
  for (const char* c : columns) header += (header.empty() ? "" : ",") + std::string(c);
  const std::string name(file);
  Reader<N> reader(name, text.data(), text.data() + text.size());
  std::array<std::string, N> fields;
  try {
    std::apply([&](auto... c) { reader.read_header(io::ignore_no_column, c...); }, columns);
    while (std::apply([&](auto&... f) { return reader.read_row(f...); }, fields))
      on_row(fields, reader.get_file_line());
  } catch (const io::error::base& e) {
    rethrow_as_usage(e, file, reader.get_file_line(), header);
  }
}

}  // namespace ulpgate::csv
