// The all-reduce reference on a device (issue 30): every element's ideal (the exact sum rounded
// once into the element type and to nearest, and the magnitudes' sum the bound scales) and a
// documented order's sum, bit for bit what reference/allreduce computes on the host, from the same
// element steps (reference/allreduce/element.hpp): a thread per element, the grid striding over
// the message. reference_pipeline.hpp runs it on the host-SIMT emulator or on CUDA.
#pragma once

#include <cstdint>

#include "kernels/portable/device.hpp"
#include "reference/allreduce/allreduce.hpp"

namespace ulpgate::allreduce_kernels {

// World: the ranks, compile-time so that each element's values stay in registers (a runtime count
// put them in local memory: 0.643 against 0.446 ms for world 4 x 32 Mi on the H200, issue 30).
template <int World>
struct RefAllreduce {
  const uint32_t* ranks;  // [World][n]: rank r's element bits from ranks + r n
  int64_t n;
  Format dtype;
  uint32_t* bits;      // [n] the ideal rounded into the element type
  double* exact;       // [n] the ideal to nearest
  double* abs_sum;     // [n]
  uint32_t* ordered;   // [n] the sum in the documented order, or nullptr
  bool rotated;        // that order: from the partition's owner (two-shot), else from rank 0
  allreduce::element::Partition partition;

  ULPGATE_DEVICE void operator()() const {
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < n; i += stride) {
      uint32_t v[World];
      for (int r = 0; r < World; ++r) v[r] = ranks[r * n + i];
      const allreduce::element::Ideal e = allreduce::element::ideal(dtype, v, World);
      bits[i] = e.bits, exact[i] = e.exact, abs_sum[i] = e.abs_sum;
      if (!ordered) continue;
      const int first = rotated ? partition.owner(i) : 0;
      uint32_t from_first[World];  // read again (the cache has them): v[(first + k) % World] is a dynamic index
      for (int k = 0; k < World; ++k) from_first[k] = first ? ranks[((first + k) % World) * n + i] : v[k];
      ordered[i] = allreduce::element::ordered(dtype, from_first, World, 0);
    }
  }
};

}  // namespace ulpgate::allreduce_kernels
