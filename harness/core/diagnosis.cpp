#include "harness/core/diagnosis.hpp"

#include <algorithm>
#include <vector>

namespace ulpgate {

std::optional<Diagnosis> weigh(std::span<const Hypothesis> hypotheses) {
  std::vector<Fit> fits;
  for (const Hypothesis& h : hypotheses) fits.push_back(h.fit());
  const Fit best = fits.empty() ? Fit::none : *std::max_element(fits.begin(), fits.end());
  if (best == Fit::none) return std::nullopt;

  // Candidates grouped by what they see, in the order the hypotheses were given.
  struct Group {
    std::string seen;
    std::vector<std::string> causes;
  };
  std::vector<Group> groups;
  Diagnosis d{Verdict::exact, "", 0};
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    if (fits[i] != best) continue;
    const Hypothesis& h = hypotheses[i];
    ++d.candidates;
    d.verdict = std::max(d.verdict, h.verdict);
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.seen == h.seen; });
    if (g == groups.end()) g = groups.insert(groups.end(), Group{h.seen, {}});
    if (!h.cause.empty()) g->causes.push_back(h.cause);
  }
  std::vector<std::string> stories;
  for (const Group& g : groups) {
    std::string s = g.seen;
    for (size_t i = 0; i < g.causes.size(); ++i) s += (i == 0 ? ": " : ", or ") + g.causes[i];
    stories.push_back(s);
  }
  if (stories.size() > 1) d.story = "the data fits " + std::to_string(stories.size()) + " explanations: ";
  for (size_t i = 0; i < stories.size(); ++i) d.story += (i == 0 ? "" : "; or ") + stories[i];
  if (best == Fit::partial) d.story = "partly explained: " + d.story;
  return d;
}

}  // namespace ulpgate
