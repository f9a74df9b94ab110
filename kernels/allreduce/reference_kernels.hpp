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

struct RefAllreduce {
  const uint32_t* ranks;  // [world][n]: rank r's element bits from ranks + r n
  int64_t n;
  int world;
  Format dtype;
  uint32_t* bits;      // [n] the ideal rounded into the element type
  double* exact;       // [n] the ideal to nearest
  double* abs_sum;     // [n]
  uint32_t* ordered;   // [n] the sum in the documented order, or nullptr
  bool rotated;        // that order: from the partition's owner (two-shot), else from rank 0
  allreduce::element::Partition partition;

  ULPGATE_DEVICE void operator()() const {
    const int64_t stride = int64_t(dev::grid_dim().x) * dev::block_dim().x;
    const int64_t first = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank();
    // Element i's results from the ranks' values v at it.
    const auto one = [&](int64_t i, const uint32_t* v, uint32_t& b, double& e, double& a, uint32_t& o) {
      const allreduce::element::Ideal id = allreduce::element::ideal(dtype, v, world);
      b = id.bits, e = id.exact, a = id.abs_sum;
      if (ordered) o = allreduce::element::ordered(dtype, v, world, rotated ? partition.owner(i) : 0);
    };
    // Four elements a thread with 16-byte loads and stores where every rank's part is aligned
    // (issue 30: the reference moves its own bytes at half the copy bandwidth or more), the rest one by one.
    const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
    const bool packed = n % 4 == 0 && aligned(ranks) && aligned(bits) && aligned(exact) && aligned(abs_sum) && aligned(ordered);
    const int64_t packs = packed ? n / 4 : 0;
    for (int64_t p = first; p < packs; p += stride) {
      uint32_t v[4][allreduce::kMaxWorld] = {};
      for (int r = 0; r < world; ++r) {
        const Pack16<uint32_t> q = dev::load16(ranks + r * n + 4 * p);
        for (int j = 0; j < 4; ++j) v[j][r] = q.v[j];
      }
      Pack16<uint32_t> b, o;
      Pack16<double> e[2], a[2];
      for (int j = 0; j < 4; ++j) one(4 * p + j, v[j], b.v[j], e[j / 2].v[j % 2], a[j / 2].v[j % 2], o.v[j]);
      dev::store16(bits + 4 * p, b);
      for (int k = 0; k < 2; ++k) dev::store16(exact + 4 * p + 2 * k, e[k]), dev::store16(abs_sum + 4 * p + 2 * k, a[k]);
      if (ordered) dev::store16(ordered + 4 * p, o);
    }
    for (int64_t i = 4 * packs + first; i < n; i += stride) {
      uint32_t v[allreduce::kMaxWorld] = {}, o = 0;
      for (int r = 0; r < world; ++r) v[r] = ranks[r * n + i];
      one(i, v, bits[i], exact[i], abs_sum[i], o);
      if (ordered) ordered[i] = o;
    }
  }
};

}  // namespace ulpgate::allreduce_kernels
