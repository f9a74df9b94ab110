// A kernel's codes judged on the device beside the quantization reference's (HeldReference::
// count_codes): where every code is the profile's, a slab's judgement is four counts, and neither
// the reference's two codes nor the input need to reach the host (harness/quant/compare.cpp
// judges a slab there only when a code differs).
#pragma once

#include <cstdint>

#include "kernels/portable/block_counts.hpp"

namespace ulpgate::quant_kernels {

// Per block: codes equal to the profile's where it is the ideal's and where it is not (a proven
// tie flip: harness/quant/compare.cpp judge_codes), codes that are not the profile's, and NaN codes.
inline constexpr unsigned kCountThreads = 256;

// Grid-stride over `count` codes; nan_code: 1 for the format's NaN codes.
struct CountCodes {
  const uint8_t *actual, *profile, *ideal, *nan_code;
  int64_t count;
  dev::BlockCounts<4>* blocks;  // [grid], in the order above

  ULPGATE_DEVICE void operator()() const {
    uint32_t c[4] = {0, 0, 0, 0};
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < count; i += stride) {
      const uint8_t a = actual[i], p = profile[i];
      c[0] += a == p && p == ideal[i], c[1] += a == p && p != ideal[i], c[2] += a != p, c[3] += nan_code[a];
    }
    dev::store_block_counts<4, kCountThreads>(c, blocks);
  }
};

}  // namespace ulpgate::quant_kernels
