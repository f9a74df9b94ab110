// The families of quantization hypotheses that diagnosis.cpp assembles (diagnosis.hpp). Each
// adds the hypotheses of one kind of bug; they refer to the evidence, whose references must
// outlive them.
#pragma once

#include <vector>

#include "harness/core/diagnosis.hpp"
#include "harness/quant/compare.hpp"

namespace ulpgate::quant {

struct Evidence {
  const Case& c;
  const Inputs& in;
  const Expected& e;
  const Observed& o;
  bool codes_bad, scales_bad;
};

// diagnosis_arith.cpp: the arithmetic differs from the profile's.
// One profile parameter changed (floors, scale op, quant op, ue8m0 rule, clamp, NaN policy, cast).
void parameter_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h);
// The quotient cast with another rounding: toward zero, ties away, through bf16/fp16 (R20).
void rounding_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h);
// Scales computed otherwise and the codes following them: the power of two one step down or up,
// the floor applied to the scale, the amax of part of the group (R12/R17).
void scale_arith_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h);

// diagnosis_stores.cpp: the arithmetic is right, the stores are not.
// Outputs never written (poison), scales shifted by one slot, scales at other places.
void store_hypotheses(const Evidence& ev, std::vector<Hypothesis>& h);

}  // namespace ulpgate::quant
