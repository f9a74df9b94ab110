#include "harness/core/input_witness.hpp"

#include <xxhash.h>

namespace ulpgate {

InputRows InputWitness::witnessed(const InputRows& rows) {
  m_ = rows.m, row_bytes_ = rows.row_bytes;
  made_->hash.assign(std::size_t(rows.m), 0);
  made_->made.assign(std::size_t(rows.m), 0);
  return {rows.m, rows.row_bytes,
          [inner = rows.fill, made = made_, row = rows.row_bytes](int64_t row0, int64_t row1, std::span<std::byte> out) {
            inner(row0, row1, out);
            for (int64_t r = row0; r < row1; ++r) {
              made->hash[std::size_t(r)] = XXH64(out.data() + std::size_t(r - row0) * row, row, 0);
              made->made[std::size_t(r)] = 1;
            }
          }};
}

std::string InputWitness::changed(std::string_view input, const Read& read, std::size_t slab_bytes) const {
  int64_t differ = 0, first = -1;
  each_input_slab(InputRows{m_, row_bytes_, read}, slab_bytes, [&](int64_t row0, int64_t row1, std::span<const std::byte> b) {
    for (int64_t r = row0; r < row1; ++r) {
      if (!made_->made[std::size_t(r)] ||
          XXH64(b.data() + std::size_t(r - row0) * row_bytes_, row_bytes_, 0) == made_->hash[std::size_t(r)])
        continue;
      if (differ++ == 0) first = r;
    }
  });
  if (differ == 0) return "";
  return "wrote into its input " + std::string(input) + ": " + std::to_string(differ) + " of " + std::to_string(m_) +
         " rows differ from what was made (the first: row " + std::to_string(first) + ")";
}

}  // namespace ulpgate
