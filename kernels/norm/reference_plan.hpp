// The host's part of the device RMSNorm reference (reference_kernels.hpp): which specs it computes,
// the eps term of its D, and the exact decisions it leaves to the host.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reference/norm/norm.hpp"

namespace ulpgate::norm_kernels {

// normalize_profile's and normalize_ideal's results, from the device. ideal.exact and ideal.codes
// are not computed (nothing judges with them: the comparator takes the ideal's y and r, and
// rms-quant's quantizer inputs v with the quantization's codes and scales).
struct ReferenceResult {
  norm::Result profile;        // y, residual, r; rms-quant: v and quant instead of y
  norm::Ideal ideal;           // y (not for rms-quant), r
  int64_t near_boundary = 0;   // ideal y decided exactly on the host (products near a boundary)
  std::vector<uint64_t> limbs; // each row's exact sum of squares (norm::ExactSum::limb, kLimbs a row);
  std::vector<uint32_t> flags; // and its flags (norm::ExactSum::flags); both empty where RefRowsFast decided every row
};

// What the reference takes from the case: the inputs as their dtype's bits (residual empty unless
// the op has one) and the weight exactly widened.
// Which passes make norm.rms's reference: one pass where it decides every row (RefRowsFast), else
// the split passes; or the split passes whatever the rows (tests of their exact sums).
enum class RowPasses : uint8_t { one_where_decided, split };

struct RawInputs {
  std::span<const uint16_t> x, residual;
  std::span<const float> weight;
};

// Why the device reference does not compute this spec (empty: it does): a fused quantization
// (norm.rms-quant, norm.rms-add-quant) that the device quantization reference declines.
std::string reference_declines(const norm::Spec& spec);

// h eps for the ideal's D, checked exact here (norm::ExactSum::add_scaled throws UsageError).
norm::ExactSum eps_term(const norm::Spec& spec);

// The ideal y of every element RefOutputs (or RefRowsFast) left as kNearMark, decided exactly
// (norm::IdealRow::y) on the row's exact sum: from limbs and flags, or made here where they are
// empty. Returns how many there were.
int64_t resolve_near_boundary(const norm::Spec& spec, const RawInputs& in, std::span<const uint64_t> limbs,
                              std::span<const uint32_t> flags, std::span<uint16_t> ideal);

}  // namespace ulpgate::norm_kernels
