// Judges an all-reduce (spec/allreduce.md "Reference and budgets"):
//   every rank bit-identical to rank 0 (else over-budget, with which rank differs and whether it
//     added in its own order);
//   bit-exact tier, golden/budgets.csv row `y`: the custom variants equal the fp32 sum in their
//     order (auto: the one the selection rule picks) rounded once; NCCL where its ring was measured
//     (Backend::measured_order) equals that ring's per-hop sum, its partial sums' overflow
//     included; with exactly summable inputs every variant, NCCL included, equals the ideal;
//   error-bound tier, row `y-ideal` (accum-bound): |y - S| <= f B + 1/2 ulp of dtype, B the
//     variant's gamma_{n-1} sum |x| (fp32 for the custom kernels, dtype per hop for NCCL); alone for
//     NCCL on other inputs.
// max_ulp is the distance to the bit-exact tier's bits (NCCL: to the ideal) in ulps of dtype.
#pragma once

#include <vector>

#include "harness/allreduce/allreduce_case.hpp"
#include "harness/core/case_result.hpp"
#include "harness/golden/budgets.hpp"

namespace ulpgate::allreduce {

// The byte every output holds before a backend runs.
inline constexpr uint8_t kPoison = 0xA5;

struct Expected {
  Ideal ideal;
  Order order = Order::per_hop;   // the variant's, auto resolved by the selection rule
  std::vector<uint32_t> bits;     // the bit-exact tier's bits; empty: budget only (NCCL)
  const RingOrder* ring = nullptr;  // NCCL's measured ring, when bits are its sum
};
Expected expected(const Case& c, const Inputs& in);
// The order whose sum a case is held to bit for bit, where a reference must compute it (per_hop:
// none, for NCCL's budget tier and for exactly summable inputs, whose ideal is every order's sum).
Order summed_order(const Case& c);
// The Expected of a case from its ideal and its sum in summed_order(c) (empty for per_hop).
Expected expected_from(const Case& c, Ideal ideal, std::vector<uint32_t> summed);

// Holds NCCL to its measured ring (bits = ring_sum), but on exactly summable inputs (the ideal).
void hold_to_ring(Expected& e, const Case& c, const RingOrder& ring, const Inputs& in);

// Each rank's output view as element bits, [world][count].
using Outputs = std::vector<std::vector<uint32_t>>;

CaseResult compare(const Case& c, const Inputs& in, const Expected& e, const Outputs& got, const BudgetTable& budgets);

}  // namespace ulpgate::allreduce
