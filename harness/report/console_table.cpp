#include "harness/report/console_table.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <vector>

namespace ulpgate {

namespace {

struct Group {
  size_t cases = 0, exact = 0, within = 0, fail = 0;
  uint64_t flips = 0;
  double worst_ulp = 0;

  void add(const CaseResult& r) {
    ++cases;
    exact += r.verdict == Verdict::exact;
    within += r.verdict == Verdict::within_budget;
    fail += !passes(r.verdict);
    flips += r.n_within;
    worst_ulp = std::max(worst_ulp, r.max_ulp);
  }
};

std::string number_text(double v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

std::vector<std::string> cells(std::string family, std::string profile, const Group& g) {
  return {std::move(family), std::move(profile), std::to_string(g.cases), std::to_string(g.exact),
          std::to_string(g.within) + " (" + std::to_string(g.flips) + ")", std::to_string(g.fail),
          number_text(g.worst_ulp)};
}

// Text columns left-aligned, numbers right-aligned, two spaces apart.
std::string layout(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string s;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      line += (c ? "  " : "") + (c < 2 ? row[c] + pad : pad + row[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    s += line + "\n";
  }
  return s;
}

bool shell_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("._-/:=+@%,").find(c) != std::string_view::npos;
}

}  // namespace

std::string console_table(std::span<const CaseResult> results) {
  std::map<std::pair<std::string, std::string>, Group> groups;
  Group total;
  for (const CaseResult& r : results) {
    groups[{r.family, r.profile}].add(r);
    total.add(r);
  }
  std::vector<std::vector<std::string>> rows = {
      {"family", "profile", "cases", "exact", "within (flips)", "fail", "worst ulp"}};
  for (const auto& [key, g] : groups) rows.push_back(cells(key.first, key.second, g));
  rows.push_back(cells("total", "", total));
  return layout(rows);
}

std::string failure_line(const CaseResult& r) {
  std::string s = "FAIL " + r.case_id + " [" + r.backend + "] " + std::string(verdict_name(r.verdict)) +
                  ": " + std::to_string(r.n_over) + " over budget, " + std::to_string(r.n_nonfinite) +
                  " non-finite, max " + number_text(r.max_ulp) + " ulp";
  if (!r.message.empty()) s += ": " + r.message;
  if (!r.note.empty()) s += " (" + r.note + ")";
  return s + " -> " + repro_command(r.case_id);
}

std::string repro_command(std::string_view case_id) {
  const bool safe = !case_id.empty() && std::all_of(case_id.begin(), case_id.end(), shell_safe);
  if (safe) return "ulpgate repro " + std::string(case_id);
  std::string quoted = "'";
  for (char c : case_id) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return "ulpgate repro " + quoted + "'";
}

}  // namespace ulpgate
