// A case's raw input made a range of rows at a time (the harness's generator), so that a device
// copy of it is made without the input ever whole on the host (issue 30: 4.3 GB at 2^31 bf16
// elements). Plain C++: the harness and the kernels' host code share it. No <algorithm>: the HIP
// compile checks (clang -nogpuinc) take it only after the HIP runtime's headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <vector>

namespace ulpgate {

// M rows of row_bytes: fill(row0, row1, out) writes rows [row0, row1) into out.
struct InputRows {
  int64_t m = 0;
  std::size_t row_bytes = 0;
  std::function<void(int64_t row0, int64_t row1, std::span<std::byte> out)> fill;

  // Rows of an input already in memory.
  static InputRows of(std::span<const std::byte> raw, int64_t m) {
    const std::size_t row = m > 0 ? raw.size() / std::size_t(m) : 0;
    return {m, row, [raw, row](int64_t row0, int64_t row1, std::span<std::byte> out) {
              if (row1 > row0) std::memcpy(out.data(), raw.data() + std::size_t(row0) * row, std::size_t(row1 - row0) * row);
            }};
  }
};

// Rows [0, rows.m) a slab of about slab_bytes at a time (at least a row): each(row0, row1, bytes).
template <class Each>
void each_input_slab(const InputRows& rows, std::size_t slab_bytes, Each each) {
  const std::size_t row = rows.row_bytes > 0 ? rows.row_bytes : 1;
  const auto per = int64_t(slab_bytes / row > 0 ? slab_bytes / row : 1);
  std::vector<std::byte> bytes;
  for (int64_t row0 = 0; row0 < rows.m; row0 += per) {
    const int64_t row1 = rows.m - row0 < per ? rows.m : row0 + per;
    bytes.resize(std::size_t(row1 - row0) * rows.row_bytes);
    rows.fill(row0, row1, bytes);
    each(row0, row1, std::span<const std::byte>(bytes));
  }
}

}  // namespace ulpgate
