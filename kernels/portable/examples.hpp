// The example kernel of device.hpp's header comment: a block-wide amax reduction, written once,
// run by the host emulator (any warp size) and compiled by nvcc and HIP clang.
#pragma once

#include <math.h>

#include "kernels/portable/device.hpp"

namespace ulpgate::examples {

// max over the aligned group of Width lanes, returned to every lane of the group.
template <int Width>
ULPGATE_DEVICE float group_max(float v) {
  for (int offset = Width / 2; offset > 0; offset /= 2)
    v = fmaxf(v, dev::shfl_xor(v, offset, Width));
  return v;
}

// Block b writes out[b] = max |in[b * n + i]| over its row of n values. Any block size that is a
// multiple of WarpSize (up to 1024); WarpSize must equal the warp size it runs at.
template <int WarpSize>
struct BlockAmax {
  const float* in;
  float* out;
  int n;

  ULPGATE_DEVICE void operator()() const {
    ULPGATE_SHARED(float, warp_max, 1024 / WarpSize);
    const unsigned tid = dev::thread_rank(), threads = dev::block_dim().x;
    const float* row = in + size_t(dev::block_idx().x) * n;
    float m = 0.f;
    for (unsigned i = tid; i < unsigned(n); i += threads) m = fmaxf(m, fabsf(row[i]));
    m = group_max<WarpSize>(m);
    if (tid % WarpSize == 0) warp_max[tid / WarpSize] = m;
    dev::block_sync();
    if (tid < WarpSize) {  // the first warp reduces the per-warp maxima
      m = tid < threads / WarpSize ? warp_max[tid] : 0.f;
      m = group_max<WarpSize>(m);
      if (tid == 0) out[dev::block_idx().x] = m;
    }
  }
};

}  // namespace ulpgate::examples
