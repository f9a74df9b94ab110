// Whether a kernel wrote into its input. Where the harness makes an input a slab of rows at a time
// for a device copy that the kernel reads and the judge reads back afterwards (issue 30), a kernel
// that writes into that copy would be judged against what it left there. The witness hashes each
// row as it is made and, after the run, each row as it is read back, and names the rows that
// changed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/portable/input_rows.hpp"

namespace ulpgate {

class InputWitness {
 public:
  // `rows` whose fill also hashes each row it makes (rows never made are not judged).
  InputRows witnessed(const InputRows& rows);
  // Reads rows [0, m) back a slab of about slab_bytes at a time (read(row0, row1, out)) and says
  // which differ from what was made: "" when none, else e.g. "wrote into its input x: 3 of 32768
  // rows differ from what was made (the first: row 17)".
  using Read = std::function<void(int64_t row0, int64_t row1, std::span<std::byte> out)>;
  std::string changed(std::string_view input, const Read& read, std::size_t slab_bytes = std::size_t(1) << 26) const;

 private:
  struct Made {
    std::vector<uint64_t> hash;
    std::vector<uint8_t> made;
  };
  int64_t m_ = 0;
  std::size_t row_bytes_ = 0;
  std::shared_ptr<Made> made_ = std::make_shared<Made>();  // shared with the witnessed fill
};

}  // namespace ulpgate
