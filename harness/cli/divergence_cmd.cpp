// `ulpgate divergence`: the catalog section where two profiles of one op legitimately disagree
// (R18), reported as a profile divergence: information, not a failure. Exit 1 only when a
// divergence is not the documented one (a reference defect).
#include <fnmatch.h>

#include <cstdio>

#include "harness/cli/command.hpp"
#include "harness/norm/catalog.hpp"
#include "harness/norm/divergence.hpp"

namespace ulpgate::cli {

void add_divergence_commands(CLI::App& app, int& rc) {
  static std::string filter = "*";
  auto* cmd = app.add_subcommand("divergence", "where profiles of one op disagree on the same inputs (R18)");
  cmd->add_option("--filter", filter, "glob over case ids");
  cmd->callback([&] {
    std::vector<norm::Case> cases;
    for (norm::Case& c : norm::catalog())
      if (fnmatch(filter.c_str(), c.id().c_str(), 0) == 0) cases.push_back(std::move(c));
    rc = kPass;
    for (const norm::DivergencePair& pair : norm::kDivergencePairs) {
      std::printf("profile divergence %s vs %s (%s: explained where a group's amax < %g)\n",
                  std::string(pair.a).c_str(), std::string(pair.b).c_str(), std::string(pair.bug).c_str(),
                  double(pair.amax_below));
      int64_t diverging = 0;
      for (const norm::Divergence& d : norm::profile_divergences(cases, pair)) {
        if (d.differing == 0) continue;
        ++diverging;
        std::printf("  %-86s %3lld of %3lld groups differ, max amax %-10.4g %s\n", d.case_a.c_str(),
                    (long long)d.differing, (long long)d.groups, double(d.max_amax),
                    d.unexplained ? "UNEXPLAINED" : "explained");
        if (d.unexplained) rc = kFail;
      }
      std::printf("  %lld cases diverge; twins elsewhere agree bit for bit\n", (long long)diverging);
    }
  });
}

}  // namespace ulpgate::cli
