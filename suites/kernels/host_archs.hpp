// The archs the kernel suites run on the host-SIMT emulator, as a GoogleTest parameter list:
// warp 32 and 64 with OCP satfinite casts, and the real archs' semantics on the host: sm90 (warp
// 32, PTX satfinite casts) and gfx942 (wave64, fnuz casts through HIP's saturating conversion).
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace ulpgate::test {

inline auto host_archs() { return ::testing::Values("host-w32", "host-w64", "sm90", "gfx942"); }

// A test name from an arch name ("host-w32" -> "hostw32": GoogleTest names take no '-').
struct ArchTestName {
  template <class Info>
  std::string operator()(const Info& info) const {
    std::string name = info.param;
    std::erase(name, '-');
    return name;
  }
};

}  // namespace ulpgate::test
