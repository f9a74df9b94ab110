// Checking the formats core against the oracles over sets of inputs, on all cores. Shared by
// the reference tests and `ulpgate formats verify`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reference/formats/oracles/oracle.hpp"

namespace ulpgate::oracles {

// Every conversion the core offers into an 8-bit format: format x policy x rounding, and for
// ue8m0 also each edge flag alone and all of them together.
std::vector<Conversion> all_conversions();
// The modes real implementations use: fp8 with RNE under every policy; ue8m0 with rz/rp/rn
// under every policy (default edges).
std::vector<Conversion> production_conversions();
std::vector<Conversion> select(const std::vector<Conversion>& modes, std::optional<Format> format,
                               std::optional<Overflow> policy);

struct Inputs {
  std::string name;
  Source source;
  std::vector<uint64_t> bits;
};
Inputs all_bf16();
Inputs all_fp16();
// Every fp32 exponent x structured significands (zero, walking one, walking zero, all ones),
// both signs, plus ±0, ±Inf and NaNs.
Inputs fp32_structured();
// Every fp32 within ±ulps of each rounding boundary of every 8-bit format: each grid value,
// each midpoint (ties), the overflow threshold and the step beyond max, both signs.
Inputs fp32_boundaries(int ulps = 4);
// The same points as doubles, ±ulps doubles and ±ulps floats around each.
Inputs fp64_boundaries(int ulps = 4);
Inputs fp32_random(uint64_t count, uint64_t seed = 0x5eedf0f8u);

struct Mismatch {
  Source source;
  uint64_t bits;
  uint32_t core, oracle;
};
struct OracleTally {
  std::string oracle;
  uint64_t checked = 0, mismatches = 0;
  uint64_t pinned = 0;  // differences by design, each pinned by a named test (see pinned_difference)
  std::vector<Mismatch> first;  // up to kKeptMismatches
};
inline constexpr size_t kKeptMismatches = 8;

struct SweepResult {
  Conversion conversion;
  std::string inputs_name;
  uint64_t inputs = 0;
  std::vector<OracleTally> tallies;  // one per oracle that defines the conversion
  double seconds = 0;
  uint64_t mismatches() const;
};

// The name of the test that pins this disagreement when it is one by design, else nullptr.
const char* pinned_difference(std::string_view oracle, Source s, uint64_t bits, const Conversion& c,
                              uint32_t core, uint32_t oracle_code);

// Equal codes, or both NaN (NaN bytes differ between implementations: compared by class).
bool same_result(Format f, uint32_t a, uint32_t b);

SweepResult sweep(const Conversion& c, const Inputs& in, const std::vector<Oracle>& oracles,
                  unsigned threads = 0);
// All fp32 bit patterns in [begin, end) against one oracle, without materialising them.
SweepResult sweep_fp32_range(const Conversion& c, uint64_t begin, uint64_t end, const Oracle& oracle,
                             unsigned threads = 0);
// Only the core's fast path over [begin, end) fp32 patterns; returns a checksum so the work
// cannot be optimised away.
uint64_t convert_fp32_range(const Conversion& c, uint64_t begin, uint64_t end, unsigned threads = 0);

// "e4m3fn:satfinite:rne fp32 0x43e80000: core 0x7e, cuda 0x7f; replay: ulpgate convert ..."
std::string describe(const Conversion& c, const std::string& oracle, const Mismatch& m);

}  // namespace ulpgate::oracles
