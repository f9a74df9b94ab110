// An op family (quant, norm, ...) as the CLI sees it: its catalog of case ids and how one case
// runs on a backend. The CLI never looks inside a case; the op segment of an id ("quant.group",
// "norm.rms-add") names its family, and golden/<arch>/<family>.csv holds its rows.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/backend.hpp"
#include "harness/core/case_result.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate {

struct OpFamily {
  std::string_view name;  // "quant": ids start with "quant."
  std::vector<std::string> (*catalog)();
  // Runs one case: generate, reference, poison, run, compare, digest. Throws UsageError for a
  // malformed id. With `tensors`, also returns inputs, expected and actual outputs for a bundle.
  CaseResult (*run)(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
};

std::span<const OpFamily> families();
// The family whose ops the id's first segment names; UsageError listing the families otherwise.
const OpFamily& family_of(std::string_view case_id);

}  // namespace ulpgate
