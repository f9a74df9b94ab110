// The host's part of the device RMSNorm reference (reference_kernels.hpp): which specs it computes,
// each row's r from the exact sums the device found, and the exact decisions it leaves to the host.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reference/norm/norm.hpp"

namespace ulpgate::norm_kernels {

// normalize_profile's and normalize_ideal's results, from the device. ideal.exact is not computed
// (nothing judges with it: the comparator takes the ideal's y and r).
struct ReferenceResult {
  norm::Result profile;        // y, residual, r
  norm::Ideal ideal;           // y, r
  int64_t near_boundary = 0;   // ideal y decided exactly on the host (products near a boundary)
};

// What the reference takes from the case: the inputs as their dtype's bits (residual empty unless
// the op has one) and the weight exactly widened.
struct RawInputs {
  std::span<const uint16_t> x, residual;
  std::span<const float> weight;
};

// Why the device reference does not compute this spec (empty: it does): the fused quantization
// (norm.rms-quant, norm.rms-add-quant) is computed on the host.
std::string reference_declines(const norm::Spec& spec);

// From each row's exact sum of squares (limbs and flags as RefSquares stored them): the profile's
// r and the ideal's, on every core.
void rows_r(const norm::Spec& spec, std::span<const uint64_t> limbs, std::span<const uint32_t> flags,
            std::vector<float>& r_profile, std::vector<double>& r_ideal);

// The ideal y of every element RefOutputs left as kNearMark, decided exactly (norm::IdealRow::y).
// Returns how many there were.
int64_t resolve_near_boundary(const norm::Spec& spec, const RawInputs& in, std::span<const uint64_t> limbs,
                              std::span<const uint32_t> flags, std::span<uint16_t> ideal);

}  // namespace ulpgate::norm_kernels
