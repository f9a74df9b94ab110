// The input as golden/budgets.csv. Property: only UsageError escapes.
#include "harness/golden/budgets.hpp"
#include "suites/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return ulpgate::fuzz::run(data, size, [](std::string_view text) {
    (void)ulpgate::BudgetTable::parse(text, "budgets.csv");
  });
}
