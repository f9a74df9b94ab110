#include "harness/golden/gate.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "harness/golden/csv_table.hpp"

namespace ulpgate {

namespace {

constexpr std::string_view kNames[] = {"identical", "drift", "regression", "new", "missing", "prediction missed"};
static_assert(std::size(kNames) == kGateClasses);

GateEntry classify(const CaseResult& r, const GoldenRow* golden, bool predicted) {
  GateEntry e{r.case_id, r.backend, GateClass::identical, ""};
  if (!passes(r.verdict)) {
    e.cls = GateClass::regression;
    e.detail = "verdict " + std::string(verdict_name(r.verdict));
    if (golden) e.detail += " (golden: " + std::string(verdict_name(golden->verdict)) + ")";
    if (!r.message.empty()) e.detail += ": " + r.message;
  } else if (!golden) {
    e.cls = GateClass::new_case;
    e.detail = "not in the golden file";
  } else if (golden->digest != r.digest && predicted) {
    e.cls = GateClass::prediction_missed;
    e.detail = "verdict " + std::string(verdict_name(r.verdict)) + " against the reference (predicted " +
               std::string(verdict_name(golden->verdict)) + "); " + golden_row_changes(*golden, golden_row(r));
  } else if (golden->digest != r.digest) {
    e.cls = GateClass::drift;
    e.detail = golden_row_changes(*golden, golden_row(r));
  }
  return e;
}

}  // namespace

std::string_view gate_class_name(GateClass c) { return kNames[size_t(c)]; }

GateReport gate(std::span<const CaseResult> run, std::span<const GoldenRow> golden,
                const RunScope& in_scope, bool predicted) {
  struct Slot {
    const GoldenRow* row;
    bool run = false;
  };
  std::map<std::pair<std::string_view, std::string_view>, Slot> by_key;
  for (const GoldenRow& g : golden) by_key[{g.case_id, g.backend}] = {&g};

  GateReport report;
  for (const CaseResult& r : run) {
    const auto it = by_key.find({r.case_id, r.backend});
    report.entries.push_back(classify(r, it == by_key.end() ? nullptr : it->second.row, predicted));
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
    if (GateClass(c) != GateClass::prediction_missed || report.counts[c])  // only gates of predictions have them
      s += (c ? ", " : "") + std::to_string(report.counts[c]) + " " + std::string(kNames[c]);
  return s;
}

std::string gate_text(const GateReport& report, std::string_view golden_dir, bool allow_new) {
  std::string s;
  for (const GateEntry& e : report.entries)
    if (e.cls != GateClass::identical || !e.detail.empty()) {
      std::string cls(gate_class_name(e.cls));
      cls.resize(std::max<size_t>(cls.size(), 10), ' ');
      s += cls + " " + e.case_id + " [" + e.backend + "] " + e.detail + "\n";
    }
  return s + "gate " + std::string(golden_dir) + ": " + gate_summary(report) +
         (allow_new && report.count(GateClass::new_case) ? " (new cases allowed)" : "") + "\n";
}

int gate_exit_code(const GateReport& report, bool allow_new) {
  const size_t failing = report.count(GateClass::drift) + report.count(GateClass::regression) +
                         report.count(GateClass::missing) + report.count(GateClass::prediction_missed) +
                         (allow_new ? 0 : report.count(GateClass::new_case));
  return failing > 0 ? 1 : 0;
}

void apply_known_differences(GateReport& report, const std::filesystem::path& file) {
  std::map<std::string, std::string, std::less<>> known;  // case id -> reason
  const std::string name = file.string();
  csv::read_rows<2>(name, csv::read_text_file(file), {"case_id", "reason"},
                    [&](const std::array<std::string, 2>& f, unsigned line) {
                      if (f[0].empty() || f[1].empty()) csv::fail_at(name, line, "expected a case id and a reason");
                      known[f[0]] = f[1];
                    });
  for (GateEntry& e : report.entries) {
    const auto it = known.find(e.case_id);
    if (it == known.end()) continue;
    const GateClass was = e.cls;
    if (was == GateClass::drift || was == GateClass::prediction_missed) {
      e.cls = GateClass::identical;
      e.detail = "expected: " + it->second;
    } else if (was == GateClass::identical) {
      e.cls = GateClass::drift;
      e.detail = "stale entry in " + name + ": the digests agree now";
    } else {
      continue;
    }
    --report.counts[size_t(was)];
    ++report.counts[size_t(e.cls)];
  }
}

std::vector<GateEntry> take_not_runnable(GateReport& report, std::span<const Declined> declined) {
  std::map<std::pair<std::string_view, std::string_view>, std::string_view> why;
  for (const Declined& d : declined) why[{d.case_id, d.backend}] = d.why;
  std::vector<GateEntry> out;
  std::erase_if(report.entries, [&](const GateEntry& e) {
    const auto it = why.find({e.case_id, e.backend});
    if (e.cls != GateClass::missing || it == why.end()) return false;
    out.push_back({e.case_id, e.backend, GateClass::missing, std::string(it->second)});
    --report.counts[size_t(GateClass::missing)];
    return true;
  });
  return out;
}

}  // namespace ulpgate
