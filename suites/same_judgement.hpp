// Two judgements of one case that must agree in everything a report shows (a device reference's
// against the host reference's): verdict, counts, ULPs and their histogram, digest, model,
// message, first bad elements and maps. The note may differ: it says where the references ran.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "harness/core/case_result.hpp"

namespace ulpgate::test_support {

// Everything but the message: a case judged a slab at a time, diagnosed on one slab, says which.
inline void expect_same_counts(const CaseResult& got, const CaseResult& want, const std::string& what) {
  const auto counts = [](const CaseResult& r) {
    return std::array{r.elements, r.n_exact, r.n_within, r.n_over, r.n_nonfinite, r.n_nan};
  };
  EXPECT_EQ(got.verdict, want.verdict) << what;
  EXPECT_EQ(counts(got), counts(want)) << what << " (elements, exact, within, over, non-finite, NaN)";
  EXPECT_EQ(got.max_ulp, want.max_ulp) << what;
  EXPECT_EQ(got.ulp_hist, want.ulp_hist) << what;
  EXPECT_EQ(got.digest, want.digest) << what;
  EXPECT_EQ(got.model, want.model) << what;
  EXPECT_EQ(got.first_bad, want.first_bad) << what;
  EXPECT_EQ(got.grids.size(), want.grids.size()) << what;
}

inline void expect_same_judgement(const CaseResult& got, const CaseResult& want, const std::string& what) {
  expect_same_counts(got, want, what);
  EXPECT_EQ(got.message, want.message) << what;
}

}  // namespace ulpgate::test_support
