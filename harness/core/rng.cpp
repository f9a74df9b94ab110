#include "harness/core/rng.hpp"

#include <xxhash.h>

namespace ulpgate {

Rng::Rng(std::string_view case_id, uint64_t seed)
    : key_(XXH64(case_id.data(), case_id.size(), seed)) {}

Rng Rng::stream(uint64_t tag) const {
  // Hash the tag as explicit little-endian bytes so the result does not depend on endianness.
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(tag >> (8 * i));
  return Rng(XXH64(bytes, sizeof bytes, key_));
}

}  // namespace ulpgate
