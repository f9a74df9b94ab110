// The input as a case id of any family (harness/core/family.hpp). Property: only UsageError
// escapes, and an id that parses has a canonical form (Case::parse(id).id()) that is a fixed
// point: it parses again, to itself. Parsing only: no inputs are generated, no case runs.
#include "harness/core/family.hpp"
#include "suites/fuzz/fuzz_check.hpp"

namespace {

using namespace ulpgate;

void check_case_id(std::string_view id) {
  const auto canonical = fuzz::unless_rejected([&] { return family_of(id).canonical_id(id); });
  if (!canonical) return;
  const std::string again = fuzz::must_accept("canonical id '" + *canonical + "'", [&] {
    return family_of(*canonical).canonical_id(*canonical);
  });
  if (again != *canonical)
    fuzz::finding("canonical id '" + *canonical + "' is not a fixed point: it parses to '" + again + "'");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::run(data, size, check_case_id);
}
