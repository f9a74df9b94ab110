// Repro bundles (`ulpgate repro ID --dump DIR`): everything needed to look at one case without
// ulpgate, in a directory:
//
//   DIR/case.json   what the case is and what happened (below)
//   DIR/NAME.bin    one per tensor: its elements, row-major, raw little-endian, no header
//
// case.json (format "ulpgate-bundle-1"):
//   { "format": "ulpgate-bundle-1", "case_id": ..., "suite_version": ..., "commit": ...,
//     "arch": ..., "backend": ..., "verdict": "over-budget", "message": ...,
//     "first_bad": ["...", ...],
//     "tensors": [ { "name": "x", "role": "input", "dtype": "bf16", "shape": [4, 256],
//                    "file": "x.bin", "bytes": 2048 }, ... ] }
// dtype is a format name of the formats core (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, ue8m0, bf16,
// fp16, fp32) or int32 / uint32 / uint8 (packed scales, raw bytes). See harness/report/BUNDLE.md.
// read_bundle() reads a bundle back and accepts exactly what write_bundle() writes.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "harness/core/verdict.hpp"

namespace ulpgate {

struct BundleTensor {
  std::string name;   // file stem, [A-Za-z0-9._-]+, unique in the bundle
  std::string role;   // "input", "expected", "expected-ideal", "actual", ...
  std::string dtype;  // see above
  std::vector<int64_t> shape;
  std::vector<std::byte> data;  // little-endian, row-major
  bool operator==(const BundleTensor&) const = default;
};

struct Bundle {
  std::string case_id, suite_version, commit, arch, backend;
  Verdict verdict = Verdict::exact;
  std::string message;
  std::vector<std::string> first_bad;
  std::vector<BundleTensor> tensors;
  bool operator==(const Bundle&) const = default;
};

// Bytes per element of a bundle dtype; 0 when the name is unknown.
size_t bundle_dtype_size(std::string_view dtype);
// The bytes of a tensor: product(shape) x bundle_dtype_size(dtype); nullopt for an unknown dtype,
// a negative dimension, or a size beyond 2^64.
std::optional<uint64_t> bundle_tensor_bytes(std::span<const int64_t> shape, std::string_view dtype);

// A tensor from host values of integral or floating type, stored little-endian.
template <class T>
BundleTensor bundle_tensor(std::string name, std::string role, std::string dtype,
                           std::vector<int64_t> shape, std::span<const T> values) {
  static_assert(std::is_trivially_copyable_v<T>);
  BundleTensor t{std::move(name), std::move(role), std::move(dtype), std::move(shape), {}};
  t.data.resize(values.size_bytes());
  for (size_t i = 0; i < values.size(); ++i) {
    auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(values[i]);
    if constexpr (std::endian::native == std::endian::big) std::reverse(bytes.begin(), bytes.end());
    std::copy(bytes.begin(), bytes.end(), t.data.begin() + i * sizeof(T));
  }
  return t;
}

// case.json's text. std::invalid_argument for a bad name, unknown dtype, or data whose size
// does not match shape x dtype.
std::string bundle_json(const Bundle& bundle);

// Creates `dir` if needed and writes case.json and the .bin files (replacing files of the same
// names). I/O failures throw std::system_error.
void write_bundle(const std::filesystem::path& dir, const Bundle& bundle);

// A JSON string literal, quotes included (", \ and control characters escaped; UTF-8 as is).
std::string json_string(std::string_view s);

// Reading, for bundles from anywhere: every problem is a UsageError "FILE:LINE: what was
// expected" (case.json), or "DIR/x.bin: 100 bytes, expected 2048 (shape [4, 256] of bf16)".
// parse_bundle_json() checks case.json alone (tensors come back without data); read_bundle()
// also reads each .bin, after checking its size against the shape, so no claim in case.json
// decides how much is allocated.
Bundle parse_bundle_json(std::string_view text, std::string_view file_name);
Bundle read_bundle(const std::filesystem::path& dir);

}  // namespace ulpgate
