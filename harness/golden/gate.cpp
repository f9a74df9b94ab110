#include "harness/golden/gate.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace ulpgate {

namespace {

constexpr std::string_view kNames[] = {"identical", "drift", "regression", "new", "missing"};

GateEntry classify(const CaseResult& r, const GoldenRow* golden) {
  GateEntry e{r.case_id, r.backend, GateClass::identical, ""};
  if (!passes(r.verdict)) {
    e.cls = GateClass::regression;
    e.detail = "verdict " + std::string(verdict_name(r.verdict));
    if (golden) e.detail += " (golden: " + std::string(verdict_name(golden->verdict)) + ")";
    if (!r.message.empty()) e.detail += ": " + r.message;
  } else if (!golden) {
    e.cls = GateClass::new_case;
    e.detail = "not in the golden file";
  } else if (golden->digest != r.digest) {
    e.cls = GateClass::drift;
    e.detail = golden_row_changes(*golden, golden_row(r));
  }
  return e;
}

}  // namespace

std::string_view gate_class_name(GateClass c) { return kNames[size_t(c)]; }

GateReport gate(std::span<const CaseResult> run, std::span<const GoldenRow> golden,
                const RunScope& in_scope) {
  struct Slot {
    const GoldenRow* row;
    bool run = false;
  };
  std::map<std::pair<std::string_view, std::string_view>, Slot> by_key;
  for (const GoldenRow& g : golden) by_key[{g.case_id, g.backend}] = {&g};

  GateReport report;
  for (const CaseResult& r : run) {
    const auto it = by_key.find({r.case_id, r.backend});
    report.entries.push_back(classify(r, it == by_key.end() ? nullptr : it->second.row));
    if (it != by_key.end()) it->second.run = true;
  }
  for (const auto& [key, slot] : by_key)
    if (!slot.run && (!in_scope || in_scope(slot.row->case_id, slot.row->backend)))
      report.entries.push_back(
          {slot.row->case_id, slot.row->backend, GateClass::missing, "in the golden file, not run"});

  std::sort(report.entries.begin(), report.entries.end(), [](const GateEntry& a, const GateEntry& b) {
    return std::tie(a.case_id, a.backend) < std::tie(b.case_id, b.backend);
  });
  for (const GateEntry& e : report.entries) ++report.counts[size_t(e.cls)];
  return report;
}

std::string gate_summary(const GateReport& report) {
  std::string s;
  for (size_t c = 0; c < report.counts.size(); ++c)
    s += (c ? ", " : "") + std::to_string(report.counts[c]) + " " + std::string(kNames[c]);
  return s;
}

int gate_exit_code(const GateReport& report) {
  return report.count(GateClass::drift) + report.count(GateClass::regression) > 0 ? 1 : 0;
}

}  // namespace ulpgate
