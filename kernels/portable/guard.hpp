// Guard regions around output buffers (DESIGN.md): a pattern before and after each output,
// written before the kernel runs and checked after, so a write outside an output becomes a
// verdict that names the tensor, the side and the offset instead of corrupting a neighbour.
// Host and device buffers use the same pattern and the same check (plain C++, no GPU code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ulpgate::guard {

// Bytes of pattern on each side: more than any kernel's widest stray vector store.
inline constexpr std::size_t kBytes = 4096;

// Byte i of a guard region. It varies with i and avoids the values kernels write most (zero, the
// outputs' poison 0xA5, all-ones, fp8 NaNs 0x7F/0x80), so a stray write is seen.
constexpr uint8_t pattern(std::size_t i) {
  const uint8_t b = uint8_t((i * 0x9E3779B1u) >> 13);
  return b == 0x00 || b == 0xA5 || b == 0xFF || b == 0x7F || b == 0x80 ? uint8_t(0x3C) : b;
}

// The regions before and after a buffer (before[kBytes - 1] touches its first byte; after[0]
// follows its last). The after region continues the before region's pattern.
inline void fill(std::span<std::byte> before, std::span<std::byte> after) {
  for (std::size_t i = 0; i < before.size(); ++i) before[i] = std::byte(pattern(i));
  for (std::size_t i = 0; i < after.size(); ++i) after[i] = std::byte(pattern(before.size() + i));
}

// One side of one output that the kernel wrote to. Offsets count from the buffer's first byte
// (before: negative) or from the first byte past its end (after: 0 is that byte).
struct Violation {
  std::string tensor;
  bool before = false;
  int64_t first = 0, last = 0;  // offsets of the lowest and highest changed byte (address order)
  int64_t changed = 0;          // how many guard bytes changed
  int64_t size = 0;             // the buffer's size in bytes

  std::string text() const {
    const std::string where = before ? "before the start of '" + tensor + "' (bytes " + std::to_string(first) +
                                           ".." + std::to_string(last) + " from its first byte)"
                                     : "past the end of '" + tensor + "' (bytes +" + std::to_string(first) +
                                           "..+" + std::to_string(last) + " after its " + std::to_string(size) +
                                           " bytes)";
    return "the kernel wrote " + std::to_string(changed) + " byte" + (changed == 1 ? "" : "s") + " " + where;
  }
};

// The violations of one buffer's guards (none, one or both sides).
inline std::vector<Violation> check(const std::string& tensor, int64_t size, std::span<const std::byte> before,
                                    std::span<const std::byte> after) {
  std::vector<Violation> out;
  const auto scan = [&](std::span<const std::byte> region, std::size_t base, bool is_before) {
    Violation v{tensor, is_before, 0, 0, 0, size};
    for (std::size_t i = 0; i < region.size(); ++i) {
      if (region[i] == std::byte(pattern(base + i))) continue;
      const int64_t at = is_before ? int64_t(i) - int64_t(region.size()) : int64_t(i);
      if (v.changed++ == 0) v.first = at;
      v.last = at;
    }
    if (v.changed) out.push_back(v);
  };
  scan(before, 0, true);
  scan(after, before.size(), false);
  return out;
}

// A device backend found a write outside an output: the harness turns it into the verdict
// out-of-bounds (the host's own guards are checked by the harness directly).
struct OutOfBounds : std::runtime_error {
  explicit OutOfBounds(std::vector<Violation> v) : std::runtime_error(join(v)), violations(std::move(v)) {}
  std::vector<Violation> violations;

  static std::string join(const std::vector<Violation>& v) {
    std::string s;
    for (const Violation& x : v) s += (s.empty() ? "" : "; ") + x.text();
    return s;
  }
};

}  // namespace ulpgate::guard
