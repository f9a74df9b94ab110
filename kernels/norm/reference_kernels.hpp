// The RMSNorm reference on a device (issue 30): what reference/norm computes for norm.rms and
// norm.rms-add, bit for bit, at the speed of the kernels it judges. Two kernels and the host
// between and after them:
//   RefSquares  a warp per row: each lane's exact sum of its z^2 (norm::ExactSum: exact in any
//               order), merged across the warp by shuffles; the row's limbs and flags to memory;
//   (host)      each row's r from its exact sum: the profile's (norm::profile_r) and the ideal's
//               (norm::IdealRow), one value per row;
//   RefOutputs  a block per row: every element's profile y, written-back residual and ideal y
//               (norm::element::ideal_y; kNearMark where its product lies near a rounding boundary);
//   (host)      those few elements' ideal y, decided exactly (norm::IdealRow::y).
// The element steps are reference/norm/element.hpp's, the source norm.cpp runs.
// reference_pipeline.hpp runs them on a device of the host-SIMT emulator or of CUDA.
#pragma once

#include <cstdint>

#include "kernels/portable/device.hpp"
#include "reference/norm/element.hpp"
#include "reference/norm/exact_sum.hpp"

namespace ulpgate::norm_kernels {


// An ideal y left for the host: a NaN pattern norm::element::round_to never gives (its NaN is canonical).
inline constexpr uint16_t kNearMark = 0xFFFF;

struct RefShape {
  int64_t m, h;
};

// z of element i from the raw dtype bits of x and the residual (none: nullptr).
ULPGATE_DEVICE float z_at(const norm::element::Steps& s, const uint16_t* x, const uint16_t* residual, int64_t i) {
  return norm::element::z_of(s, norm::element::widen(s.dtype, x[i]), residual ? norm::element::widen(s.dtype, residual[i]) : 0.0f);
}

struct RefSquares {
  const uint16_t* x;
  const uint16_t* residual;  // nullptr without one
  uint64_t* limbs;           // [m * ExactSum::kLimbs]
  uint32_t* flags;           // [m]
  RefShape g;
  norm::element::Steps steps;

  ULPGATE_DEVICE void operator()() const {
    constexpr int kLimbs = norm::ExactSum::kLimbs;
    const int ws = dev::warp_size(), lane = int(dev::thread_rank()) % ws;
    const int64_t warps = int64_t(dev::grid_dim().x) * dev::block_dim().x / ws;
    for (int64_t row = (int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank()) / ws; row < g.m;
         row += warps) {
      norm::ExactSum s;
      for (int64_t c = lane; c < g.h; c += ws) s.add_square(z_at(steps, x, residual, row * g.h + c));
      for (int o = ws / 2; o > 0; o /= 2) {
        uint64_t other[kLimbs];
        for (int i = 0; i < kLimbs; ++i) other[i] = dev::shfl_xor(s.limb(i), o, ws);
        s.merge(norm::ExactSum::from(other, dev::shfl_xor(s.flags(), o, ws)));
      }
      if (lane != 0) continue;
      for (int i = 0; i < kLimbs; ++i) limbs[row * kLimbs + i] = s.limb(i);
      flags[row] = s.flags();
    }
  }
};

struct RefOutputs {
  const uint16_t* x;
  const uint16_t* residual;  // nullptr without one
  const float* weight;       // [h], exactly widened
  const float* r_profile;    // [m]
  const double* r_ideal;     // [m]
  uint16_t* y;               // [m * h] the profile's
  uint16_t* ideal;           // [m * h] the ideal's, or kNearMark
  uint16_t* residual_out;    // [m * h], nullptr without a residual
  RefShape g;
  norm::element::Steps steps;
  double window;  // norm::element::ideal_y's (the reference's 2^-40; wider in tests)

  ULPGATE_DEVICE void operator()() const {
    for (int64_t row = dev::block_idx().x; row < g.m; row += dev::grid_dim().x) {
      const float rp = r_profile[row];
      const double ri = r_ideal[row];
      for (int64_t c = dev::thread_rank(); c < g.h; c += dev::block_dim().x) {
        const int64_t i = row * g.h + c;
        const float xv = norm::element::widen(steps.dtype, x[i]), rv = residual ? norm::element::widen(steps.dtype, residual[i]) : 0.0f;
        const float z = norm::element::z_of(steps, xv, rv), w = weight[c];
        y[i] = norm::element::output_at(steps, z, w, rp);
        const uint32_t d = norm::element::ideal_y(steps.dtype, z, w, ri, window);
        ideal[i] = d == norm::element::kNearBoundary ? kNearMark : uint16_t(d);
        if (residual_out) residual_out[i] = norm::element::residual_out(steps, xv, rv);
      }
    }
  }
};

}  // namespace ulpgate::norm_kernels
