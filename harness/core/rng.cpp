#include "harness/core/rng.hpp"

#include <xxhash.h>

#include <bit>

namespace ulpgate {

namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // splitmix64's increment

uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Rng::Rng(std::string_view case_id, uint64_t seed)
    : key_(XXH64(case_id.data(), case_id.size(), seed)) {}

uint64_t Rng::at(uint64_t counter) const { return splitmix64_mix(key_ + (counter + 1) * kGamma); }

uint64_t Rng::below(uint64_t counter, uint64_t n) const {
  return uint64_t((unsigned __int128)at(counter) * n >> 64);
}

double Rng::dyadic(uint64_t counter, int bits) const {
  const double scale = std::bit_cast<double>(uint64_t(1023 - bits) << 52);  // 2^-bits, exact
  return double(at(counter) >> (64 - bits)) * scale;
}

Rng Rng::stream(uint64_t tag) const {
  // Hash the tag as explicit little-endian bytes so the result does not depend on endianness.
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(tag >> (8 * i));
  return Rng(XXH64(bytes, sizeof bytes, key_));
}

}  // namespace ulpgate
