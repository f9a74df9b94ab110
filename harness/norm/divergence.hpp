// Profile divergences: where two profiles of the same op legitimately disagree on the same inputs
// (spec/known-bugs.md R18: vLLM's fused RMSNorm+quant floors the scale at 1/(qmax*512), the
// unfused path floors amax at 1e-10, so groups with amax < 1/512 get different scales and codes).
// Reported as information about the profiles, never as a failure of either.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/norm/norm_case.hpp"

namespace ulpgate::norm {

struct DivergencePair {
  std::string_view a, b;   // profile names
  std::string_view bug;    // known-bugs.md id
  float amax_below;        // the divergence is explained in groups whose amax is below this
};
inline constexpr DivergencePair kDivergencePairs[] = {{"vllm", "vllm-unfused", "R18", 0x1p-9f}};

struct Divergence {
  std::string case_a, case_b;
  int64_t groups = 0, differing = 0;  // scale groups in all, and those whose scale or codes differ
  int64_t unexplained = 0;            // differing groups with amax >= the pair's threshold
  float max_amax = 0;                 // the largest amax among differing groups
};

// For every catalog case of a pair's first profile that has a twin with the second (the same id
// but for the profile), both profile-exact results on the same inputs, compared group by group.
std::vector<Divergence> profile_divergences(const std::vector<Case>& cases, const DivergencePair& pair);

}  // namespace ulpgate::norm
