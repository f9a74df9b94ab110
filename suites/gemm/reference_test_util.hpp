// Shared by the device GEMM reference's tests (host emulator and GPU): bitwise equality of ideals
// and of comparison results.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/gemm/reference_gpu.hpp"
#include "reference/gemm/gemm.hpp"

namespace gemm_test {

inline uint64_t bits64(double x) {
  uint64_t u;
  std::memcpy(&u, &x, 8);
  return u;
}

// Elements whose bits or exact value (bit for bit) differ; the first few are reported.
inline int64_t ideal_mismatches(const ulpgate::gemm::Ideal& got, const ulpgate::gemm::Ideal& want, const std::string& what) {
  if (got.out.bits.size() != want.out.bits.size() || got.exact.size() != want.exact.size() ||
      got.out.format != want.out.format) {
    ADD_FAILURE() << what << ": shapes or formats differ";
    return -1;
  }
  int64_t bad = 0;
  for (size_t i = 0; i < want.out.bits.size(); ++i)
    if ((got.out.bits[i] != want.out.bits[i] || bits64(got.exact[i]) != bits64(want.exact[i])) && ++bad <= 5)
      ADD_FAILURE() << what << " at " << i << ": bits " << got.out.bits[i] << " vs " << want.out.bits[i] << ", exact "
                    << got.exact[i] << " vs " << want.exact[i];
  return bad;
}

inline void expect_same(const ulpgate::gemm_kernels::GpuComparison& got, const ulpgate::gemm_kernels::GpuComparison& want) {
  EXPECT_EQ(got.exact, want.exact);
  EXPECT_EQ(got.within, want.within);
  EXPECT_EQ(got.over, want.over);
  EXPECT_EQ(got.ulp_histogram, want.ulp_histogram);
  EXPECT_EQ(got.max_ulp_error, want.max_ulp_error);
  EXPECT_EQ(got.tiles_m, want.tiles_m);
  EXPECT_EQ(got.tiles_n, want.tiles_n);
  EXPECT_EQ(got.tile_over, want.tile_over);
  ASSERT_EQ(got.first_bad.size(), want.first_bad.size());
  for (size_t i = 0; i < want.first_bad.size(); ++i) {
    EXPECT_EQ(got.first_bad[i].m, want.first_bad[i].m) << i;
    EXPECT_EQ(got.first_bad[i].n, want.first_bad[i].n) << i;
    EXPECT_EQ(got.first_bad[i].expected, want.first_bad[i].expected) << i;
    EXPECT_EQ(got.first_bad[i].got, want.first_bad[i].got) << i;
    EXPECT_EQ(bits64(got.first_bad[i].exact), bits64(want.first_bad[i].exact)) << i;
    EXPECT_EQ(got.first_bad[i].ulp_error, want.first_bad[i].ulp_error) << i;
  }
}

}  // namespace gemm_test
