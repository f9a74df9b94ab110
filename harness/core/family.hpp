// An op family (quant, norm, ...) as the CLI sees it: its catalog of case ids and how one case
// runs on a backend. The CLI never looks inside a case; the op segment of an id ("quant.group",
// "norm.rms-add") names its family, and golden/<arch>/<family>.csv holds its rows.
#pragma once

#include <chrono>
#include <functional>
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
  // Case::parse(id).id(): the id in canonical form. Throws UsageError for a malformed id; parses
  // only, so a huge shape costs nothing (the fuzzers rely on it).
  std::string (*canonical_id)(std::string_view id);
};

template <class Case>
std::string canonical_id(std::string_view id) {
  return Case::parse(id).id();
}

std::span<const OpFamily> families();

// What every family's run shares. judged() runs judge() (the backend, then the comparator) and
// turns a BackendError into the verdict `error` with its message; stamp() records the digest of
// the output bytes, the backend and the wall time since t0.
CaseResult judged(std::string case_id, std::string_view family, std::string_view profile,
                  const std::function<CaseResult()>& judge);
void stamp(CaseResult& r, std::span<const std::byte> outputs, const Backend& backend,
           std::chrono::steady_clock::time_point t0);

template <class Cases>
std::vector<std::string> case_ids(const Cases& cases) {
  std::vector<std::string> ids;
  for (const auto& c : cases) ids.push_back(c.id());
  return ids;
}
// The family whose ops the id's first segment names; UsageError listing the families otherwise.
const OpFamily& family_of(std::string_view case_id);

}  // namespace ulpgate
