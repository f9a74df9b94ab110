// The output buffers of one case on the host, where a kernel under test writes. Each lives in
// its own mapping, [fence page][guard][data][guard][fence page]: a write past an output by up to
// guard::kBytes changes the guard pattern and gets the verdict out-of-bounds; a wilder one faults
// on an inaccessible fence page instead of corrupting the harness's heap.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernels/portable/guard.hpp"

namespace ulpgate {

class GuardedOutputs {
 public:
  GuardedOutputs() = default;
  GuardedOutputs(GuardedOutputs&& other) noexcept : regions_(std::move(other.regions_)) { other.regions_.clear(); }
  GuardedOutputs& operator=(GuardedOutputs&& other) noexcept {
    std::swap(regions_, other.regions_);  // other unmaps what this held
    return *this;
  }
  GuardedOutputs(const GuardedOutputs&) = delete;
  GuardedOutputs& operator=(const GuardedOutputs&) = delete;
  ~GuardedOutputs();

  // A new output of n elements, each set to `poison`; the span stays valid as long as this object
  // (moves included). std::bad_alloc when the mapping fails.
  template <class T>
  std::span<T> add(std::string name, std::size_t n, T poison) {
    std::byte* data = map(std::move(name), n * sizeof(T));
    T* p = reinterpret_cast<T*>(data);
    for (std::size_t i = 0; i < n; ++i) std::memcpy(p + i, &poison, sizeof(T));
    return {p, n};
  }

  // Every guard byte the kernel changed, output by output, in the order they were added.
  std::vector<guard::Violation> violations() const;
  // Every output's bytes in the order they were added (what a golden digest covers), in place.
  std::vector<std::span<const std::byte>> parts() const;
  // The same joined (a copy).
  std::vector<std::byte> bytes() const;

 private:
  struct Region {
    std::string name;
    std::byte* mapping;
    std::size_t mapping_bytes;
    std::byte* data;
    std::size_t bytes;
  };
  std::byte* map(std::string name, std::size_t bytes);
  std::vector<Region> regions_;
};

}  // namespace ulpgate
