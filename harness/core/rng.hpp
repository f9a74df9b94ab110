// Counter-based integer RNG (DESIGN.md "Data flow"): the key is a portable hash of the case id
// and seed, and every draw is a pure function of (key, counter), so any element of any case can
// be regenerated alone, in any order, on any machine, with the same bits.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>

namespace ulpgate {

class Rng {
 public:
  // key = XXH64(case id bytes, seed): the same on every compiler, libc and endianness.
  Rng(std::string_view case_id, uint64_t seed);
  explicit Rng(uint64_t key) : key_(key) {}

  uint64_t key() const { return key_; }

  // 64 random bits for `counter`: the splitmix64 output mix of key + (counter + 1) * gamma,
  // i.e. element `counter` of the splitmix64 sequence seeded with the key. No state.
  // Inline: the generators draw 2^33 of them for a large case (out of line, the calls were a
  // tenth of making a moe.gemm case's operands).
  uint64_t at(uint64_t counter) const {
    uint64_t z = key_ + (counter + 1) * 0x9E3779B97F4A7C15ull;  // splitmix64's increment
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform integer in [0, n) by the multiply-high map (bias <= n / 2^64, no rejection loop,
  // so one counter is one draw); n = 0 returns 0.
  uint64_t below(uint64_t counter, uint64_t n) const {
    return uint64_t((unsigned __int128)at(counter) * n >> 64);
  }

  // Uniform dyadic k * 2^-bits in [0, 1), k the top `bits` bits of at(counter); bits in [1, 53].
  // Exact in double; with bits <= 24 also exact in float.
  double dyadic(uint64_t counter, int bits = 53) const {
    const double scale = std::bit_cast<double>(uint64_t(1023 - bits) << 52);  // 2^-bits, exact
    return double(at(counter) >> (64 - bits)) * scale;
  }
  float dyadic_f32(uint64_t counter) const { return float(dyadic(counter, 24)); }

  // An independent stream for one purpose (values, NaN positions, signs, ...), so the purposes
  // of a generator never share a counter.
  Rng stream(uint64_t tag) const;

  bool operator==(const Rng&) const = default;

 private:
  uint64_t key_;
};

}  // namespace ulpgate
