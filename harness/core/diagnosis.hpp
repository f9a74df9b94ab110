// Diagnosis by hypotheses (DESIGN.md: a precise diagnosis instead of "mismatch"). Each hypothesis
// says what a failing output would show if the kernel did one specific wrong thing, and how well
// the observed output fits that prediction. weigh() evaluates every hypothesis and reports the
// one that explains the data, or every candidate when the data cannot tell them apart.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "harness/core/verdict.hpp"

namespace ulpgate {

// How much of the observed output a hypothesis predicts: every byte (full), or only what it is
// about (partial: e.g. the scales a wrong-layout writer could place in a buffer of another size).
enum class Fit : unsigned char { none, partial, full };

struct Hypothesis {
  std::string seen;   // what the output shows if it holds: "codes are 2x the expected values with the scales right"
  std::string cause;  // what would make it so: "e4m3fnuz bytes read as e4m3fn (OCP)"; may be empty
  Verdict verdict;    // layout for a mix-up of layouts or encodings, over-budget for arithmetic
  std::function<Fit()> fit;
};

struct Diagnosis {
  Verdict verdict;  // the worst verdict among the candidates
  std::string story;
  int candidates;   // how many hypotheses fit equally well
};

// Profiles one parameter away from a base profile (either family's), each with what changed
// ("eps 1e-05 instead of 1e-06"): hypotheses that a kernel follows its profile but for one value.
template <class Profile>
struct Variants {
  struct Variant {
    std::string what;
    Profile p;
  };
  const Profile& base;
  std::vector<Variant> list;
  void add(std::string what, const std::function<void(Profile&)>& change) {
    Profile q = base;
    change(q);
    list.push_back({std::move(what), q});
  }
};

// The hypotheses with the best fit (partial only when none fits fully), as one story:
// candidates that see the same thing share it ("seen: cause A, or cause B"); different ones are
// listed ("the data fits 2 explanations: ...; or ..."). nullopt when none fits.
std::optional<Diagnosis> weigh(std::span<const Hypothesis> hypotheses);

}  // namespace ulpgate
