#include "harness/golden/budgets.hpp"

#include <cmath>

#include "harness/golden/csv_table.hpp"

namespace ulpgate {

namespace {

constexpr std::string_view kRuleNames[] = {"bit-exact", "max-ulp", "tie-flip", "rsqrt-flip", "accum-bound", "abs-rel"};

std::string rule_names() {
  std::string s;
  for (size_t i = 0; i < std::size(kRuleNames); ++i)
    s += (i == 0 ? "" : i + 1 == std::size(kRuleNames) ? " or " : ", ") + std::string(kRuleNames[i]);
  return s;
}

void check_limit(const Budget& b, std::string_view file, unsigned line) {
  if (!std::isfinite(b.limit) || b.limit < 0)
    csv::fail_at(file, line, "expected a finite limit >= 0");
  switch (b.rule) {
    case BudgetRule::bit_exact:
      if (b.limit != 0) csv::fail_at(file, line, "rule bit-exact takes limit 0");
      break;
    case BudgetRule::max_ulp: break;
    case BudgetRule::tie_flip:
      if (b.limit == 0)
        csv::fail_at(file, line, "rule tie-flip needs the quotient error in fp32 ulps (> 0)");
      break;
    case BudgetRule::rsqrt_flip:
      if (b.limit < 1 || b.limit != std::floor(b.limit))
        csv::fail_at(file, line, "rule rsqrt-flip needs the reduction's lane count (an integer >= 1)");
      break;
    case BudgetRule::accum_bound:
      if (b.limit < 1)
        csv::fail_at(file, line, "rule accum-bound takes a factor >= 1 on the model's proven bound");
      break;
    case BudgetRule::abs_rel:
      csv::fail_at(file, line, "rule abs-rel is reserved: no comparator implements it yet");
  }
}

Budget parse_row(const std::array<std::string, 6>& f, std::string_view file, unsigned line) {
  Budget b{f[0], f[1], f[2], BudgetRule::bit_exact, 0, f[5], line};
  for (int i : {0, 1, 2})
    if (f[i].empty()) csv::fail_at(file, line, "expected a non-empty op, profile and output");
  const auto rule = parse_budget_rule(f[3]);
  if (!rule)
    csv::fail_at(file, line, "unknown rule '" + f[3] + "': expected " + rule_names());
  b.rule = *rule;
  b.limit = csv::parse_number(f[4], "limit", file, line);
  check_limit(b, file, line);
  if (b.reason.empty()) csv::fail_at(file, line, "expected a reason: every budget says why");
  return b;
}

}  // namespace

std::string_view budget_rule_name(BudgetRule r) { return kRuleNames[int(r)]; }

std::optional<BudgetRule> parse_budget_rule(std::string_view name) {
  for (int i = 0; i < int(std::size(kRuleNames)); ++i)
    if (name == kRuleNames[i]) return BudgetRule(i);
  return std::nullopt;
}

BudgetTable BudgetTable::load(const std::filesystem::path& path) {
  return parse(csv::read_text_file(path), path.string());
}

BudgetTable BudgetTable::parse(std::string_view text, std::string_view file_name) {
  csv::check_plain_text(text, file_name);
  BudgetTable table;
  table.file_ = file_name;
  constexpr std::array<const char*, 6> kColumns = {"op", "profile", "output", "rule", "limit", "reason"};
  csv::read_rows<6>(file_name, text, kColumns, [&](const std::array<std::string, 6>& f, unsigned line) {
    Budget b = parse_row(f, file_name, line);
    for (const Budget& seen : table.rows_)
      if (seen.op == b.op && seen.profile == b.profile && seen.output == b.output)
        csv::fail_at(file_name, line, "duplicate budget for " + b.op + "," + b.profile + "," +
                                          b.output + " (first at line " + std::to_string(seen.line) + ")");
    table.rows_.push_back(std::move(b));
  });
  return table;
}

const Budget* BudgetTable::find(std::string_view op, std::string_view profile,
                                std::string_view output) const {
  const std::string_view tries[4][2] = {{op, profile}, {op, "*"}, {"*", profile}, {"*", "*"}};
  for (const auto& t : tries)
    for (const Budget& b : rows_)
      if (b.op == t[0] && b.profile == t[1] && b.output == output) return &b;
  return nullptr;
}

const Budget& BudgetTable::lookup(std::string_view op, std::string_view profile,
                                  std::string_view output) const {
  if (const Budget* b = find(op, profile, output)) return *b;
  throw UsageError(file_ + ": no budget for op '" + std::string(op) + "', profile '" +
                   std::string(profile) + "', output '" + std::string(output) +
                   "' (add a row, with its reason)");
}

const Budget& BudgetTable::lookup(std::string_view op, std::string_view profile, std::string_view output,
                                  BudgetRule rule) const {
  const Budget& b = lookup(op, profile, output);
  if (b.rule != rule)
    throw UsageError(file_ + ":" + std::to_string(b.line) + ": rule " + std::string(budget_rule_name(b.rule)) +
                     " is not implemented for " + std::string(op) + " output '" + std::string(output) + "' (expected " +
                     std::string(budget_rule_name(rule)) + ")");
  return b;
}

}  // namespace ulpgate
