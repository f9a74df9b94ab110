// An enum's names in both directions, with the error message that lists the valid choices: one
// mechanism for formats, policies, roundings, scale layouts and ops.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "reference/formats/formats.hpp"

namespace ulpgate {

template <class E, size_t N>
struct NameTable {
  std::array<std::pair<E, std::string_view>, N> rows;

  std::string_view name(E e) const {
    for (auto& [v, n] : rows)
      if (v == e) return n;
    return "?";
  }
  std::string choices() const {
    std::string s;
    for (auto& [v, n] : rows) s += (s.empty() ? "" : ", ") + std::string(n);
    return s;
  }
  // UsageError "unknown WHAT 'TEXT' (valid: ...)" for a name not in the table.
  E parse(std::string_view text, std::string_view what) const {
    for (auto& [v, n] : rows)
      if (n == text) return v;
    throw UsageError("unknown " + std::string(what) + " '" + std::string(text) + "' (valid: " + choices() + ")");
  }
};

// Rows of data named by their `name` field (profiles): the names joined, and the row of a name
// (UsageError "unknown WHAT 'TEXT' (valid: ...)" otherwise).
template <class Row>
std::string row_names(std::span<const Row> rows) {
  std::string s;
  for (const Row& r : rows) s += (s.empty() ? "" : ", ") + std::string(r.name);
  return s;
}

template <class Row>
const Row& row_named(std::span<const Row> rows, std::string_view name, std::string_view what) {
  for (const Row& r : rows)
    if (r.name == name) return r;
  throw UsageError("unknown " + std::string(what) + " '" + std::string(name) + "' (valid: " + row_names(rows) + ")");
}

}  // namespace ulpgate
