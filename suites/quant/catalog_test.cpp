// The quantization catalog itself: its ids round-trip, and the budget derivation holds on every
// case (a profile-exact code differs from the ideal only by a justified flip).
#include <gtest/gtest.h>

#include <set>

#include "harness/quant/budget.hpp"
#include "harness/quant/catalog.hpp"
#include "harness/quant/run_case.hpp"

using namespace ulpgate;
using namespace ulpgate::quant;

// Validates the budget derivation itself: on the whole catalog, every profile-exact code equals
// the ideal code or differs by one code within its budget's proven quotient error of a boundary.
TEST(Catalog, ProfileExactLiesWithinTheBudgetOfTheIdeal) {
  uint64_t flips = 0, elements = 0;
  for (const Case& c : catalog()) {
    const Inputs in = c.inputs();
    const Expected e = expected(c, in);
    const CodeBudget b = code_budget(default_budgets(), c.spec);
    const int64_t g = c.spec.scale_shape().g;
    for (int64_t r = 0; r < c.spec.m; ++r)
      for (int64_t k = 0; k < c.spec.k; ++k) {
        const size_t i = size_t(r * c.spec.k + k);
        ++elements;
        if (e.profile.codes[i] == e.ideal[i]) continue;
        const float s = e.profile.scales[size_t((r / c.spec.tile_rows()) * g + k / c.spec.tile_cols())];
        const float x = c.spec.op == Op::silu_mul ? e.y[i] : in.values[i];  // silu-mul quantizes y
        ASSERT_TRUE(justified_flip(c.spec.format, e.profile.codes[i], e.ideal[i], x, s, b.ideal_rel_error))
            << c.id() << " element " << i << " x=" << x << " s=" << s;
        ++flips;
      }
  }
  EXPECT_GT(elements, 1000000u);
  EXPECT_LT(flips * 1000, elements);  // flips are rare boundary events, not a systematic bias
}

TEST(Catalog, IdsAreUniqueAndRoundTrip) {
  std::set<std::string> ids;
  for (const Case& c : catalog()) {
    const std::string id = c.id();
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    EXPECT_EQ(Case::parse(id).id(), id);
  }
}
