// The sweeps of a test in the sanitizer job. ULPGATE_TEST_SAMPLE=n (ci/test.sh sets it there) runs
// every n-th item of the sweeps that ask, from the first; unset, every item. ASan and UBSan look
// for memory errors and undefined behaviour, which a sample's code paths show at a fraction of the
// cost (the sanitized build runs the GEMM sweeps ten times slower); the main job judges every item.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace ulpgate::test_support {

inline int64_t sample_stride() {
  static const int64_t stride = [] {
    const char* env = std::getenv("ULPGATE_TEST_SAMPLE");
    return env && *env ? std::max<int64_t>(1, std::atoll(env)) : int64_t(1);
  }();
  return stride;
}

// Whether item i (from 0) of a sweep runs.
inline bool sampled(int64_t i) { return i % sample_stride() == 0; }

}  // namespace ulpgate::test_support
