// One `ulpgate reveal` for any case id it takes (gemm.*, norm.*, allreduce/), shared by the CLI
// and the embedding API: the family's reveal (harness/{gemm,norm,allreduce}/reveal.hpp) on the
// case's spec.
#pragma once

#include <string>
#include <string_view>

#include "harness/core/backend.hpp"

namespace ulpgate {

struct RevealOutcome {
  std::string case_id;  // canonical
  std::string story;    // what was revealed, as the CLI prints it
  bool revealed;        // an order was revealed (deterministic, probed, and within the budget it is held to)
};

// Throws UsageError for an id of another family or a malformed one, NotSupported when the backend
// declines the case, BackendError when its kernel fails.
RevealOutcome reveal_case(std::string_view id, Backend& backend, std::string_view arch);

}  // namespace ulpgate
