#pragma once

// The suite's version and the commit it was built from, for the provenance of golden files,
// bundles, reports and benchmarks. Generated at build time (cmake/build_info.cmake).
namespace ulpgate {
const char* suite_version();
const char* suite_commit();
}  // namespace ulpgate
