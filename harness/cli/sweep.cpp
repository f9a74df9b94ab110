#include "harness/cli/sweep.hpp"

#include <fnmatch.h>

#include <cstdio>

#include "harness/core/family.hpp"
#include "harness/report/console_table.hpp"
#include "harness/report/progress.hpp"

namespace ulpgate::cli {

Tier selected_tier(const Selection& s) {
  if (!s.tier.empty()) return parse_tier(s.tier);
  return resolve_backend(s.backend) == "host" ? Tier::ci : Tier::full;
}

std::vector<std::string> select_cases(const Selection& s) {
  if (!s.case_id.empty()) {
    family_of(s.case_id);
    return {s.case_id};
  }
  const Tier tier = selected_tier(s);
  std::vector<std::string> out;
  for (const OpFamily& f : families())
    for (std::string& id : f.catalog(tier))
      if (fnmatch(s.filter.c_str(), id.c_str(), 0) == 0) out.push_back(std::move(id));
  return out;
}

std::string resolve_backend(const std::string& name) {
  if (name != "auto") return name;
  try {
    make_backend("cuda", "sm90");
    return "cuda";
  } catch (const std::exception&) {
    return "host";  // no CUDA backend built, or no device
  }
}

std::vector<std::string> default_archs(const std::string& backend) {
  if (backend == "host") return {"host-w32", "host-w64"};
  if (backend == "cuda") return {"sm90"};
  return {"host-w32"};
}

std::string golden_arch(const std::string& arch) { return arch.starts_with("host") ? "host" : arch; }

SweepResult sweep(const Selection& s) {
  const std::string backend = resolve_backend(s.backend);
  const std::vector<std::string> archs = s.archs.empty() ? default_archs(backend) : s.archs;
  const std::vector<std::string> cases = select_cases(s);
  SweepResult out;
  ProgressLine progress(cases.size() * archs.size(), stderr);
  for (const std::string& arch : archs) {
    const auto b = make_backend(backend, arch);
    for (const std::string& id : cases) {
      progress.update(out.results.size(), id);
      CaseResult r = run_case(id, *b, nullptr, s.max_memory);
      if (!passes(r.verdict)) {
        out.any_failed = true;
        std::printf("%s --backend %s --arch %s\n", failure_line(r).c_str(), backend.c_str(), arch.c_str());
      }
      out.results.push_back(std::move(r));
    }
  }
  progress.finish();
  return out;
}

}  // namespace ulpgate::cli
