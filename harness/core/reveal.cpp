#include "harness/core/reveal.hpp"

#include "harness/allreduce/allreduce_case.hpp"
#include "harness/allreduce/reveal.hpp"
#include "harness/gemm/gemm_case.hpp"
#include "harness/gemm/reveal.hpp"
#include "harness/norm/norm_case.hpp"
#include "harness/norm/reveal.hpp"

namespace ulpgate {
namespace {

template <class Revealed>
RevealOutcome outcome(std::string id, const Revealed& r, bool holds = true) {
  return {std::move(id), r.story(), r.deterministic && r.problem.empty() && holds};
}

}  // namespace

RevealOutcome reveal_case(std::string_view id, Backend& backend, std::string_view arch) {
  if (id.starts_with("allreduce/")) {
    const allreduce::Case c = allreduce::Case::parse(id);
    return outcome(c.id(), allreduce::reveal_allreduce(c.spec, backend));
  }
  if (id.starts_with("norm.")) {
    const norm::Case c = norm::Case::parse(id);
    require_supported(backend, c.spec);
    const norm::RevealedNorm r = norm::reveal_norm(c.spec, backend);
    return outcome(c.id(), r, r.assumed_depth == 0 || r.depth <= r.assumed_depth);
  }
  if (id.starts_with("gemm.")) {
    const gemm::Case c = gemm::Case::parse(id);
    require_supported(backend, c.spec);
    return outcome(c.id(), gemm::reveal_gemm(c.spec, backend, arch));
  }
  throw UsageError("reveal takes gemm.*, norm.* and allreduce cases, not '" + std::string(id) + "'");
}

}  // namespace ulpgate
