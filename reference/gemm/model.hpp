// Accumulator models (spec/gemm.md "Hardware accumulation"): how one architecture's matrix unit,
// in one library mode, sums fp8 products, as one row of data per arch x mode. A model's replay
// (gemm.hpp gemm_model) is what a kernel following it produces, bit for bit.
//
// The machinery, for every row: K is cut into segments (all of K where scales apply in the
// epilogue; each scale block otherwise, unless the scales act inside the MMA); a segment is summed
// by MMA chains that start from zero every promote_k K (or once per segment), each chain's fp32
// result added into the segment's fp32 sum with RN; a chain is a run of MMA steps, K ascending,
// each step taking the previous step's result as its accumulator c:
//   1. products with a zero operand are dropped; each other product p = a b is exact, with
//      pe = ea + eb, ea = max(floor(log2 |a|), emin of a's format) (subnormals count at emin);
//   2. c != 0 contributes ec = max(floor(log2 |c|), -126);
//   3. E = max(all pe, ec, e_floor);
//   4. every term t (products and c) is aligned to u = 2^(E - frac_bits) (`align`);
//   5. the aligned terms are summed exactly and the sum rounded to sum_bits significant bits
//      (`sum_rounding`) of an exponent of at least -126: below 2^-126 the quantum stays
//      2^(-126 - sum_bits + 1), as subnormals of an 8-bit-exponent format with sum_bits - 1
//      fraction bits (MMA-Sim's E8M13 and fp32); beyond fp32's range: Inf under RNE, the
//      largest finite value under RZ, as IEEE rounds. An exact zero is +0 (spec/gemm.md leaves the
//      sign of an exact zero to measurement; chains start from +0, so -0 never comes back in).
// That is a `fused` join (MMA-Sim's T_FDPA): c is one more term of the aligned sum (NVIDIA).
// A `late` join (MMA-Sim's GTR_FDPA, CDNA3 FP8 MFMA) sums the products first and meets c after:
//   a. the products are split by index (i mod groups); each group is aligned on its own maximum
//      exponent e_g (steps 1, 3, 4 without c) and summed exactly;
//   b. the group sums are aligned by floor to 2^(e_dot - frac_bits), e_dot = max e_g, and added;
//   c. e_max = max(e_dot, ec) (c = 0 counts as -126); the dot is aligned by floor to
//      2^(e_max - late_bits - 1), c by floor to 2^(e_max - frac_bits), and c is dropped when
//      ec < e_max - frac_bits - 1;
//   d. their sum is floored to late_bits fraction bits of its own exponent (at least -126), then
//      rounded to sum_bits with sum_rounding (step 5).
// Operand exponents (steps 1 and 3) are the fp8 format's (subnormals at its emin) or, for a unit
// fed fp8 values converted to fp16 or bf16 (mma.sync kernels without FP8 instructions), the wider
// format's: an e4m3 subnormal then counts at its true exponent.
// The sm90 row with k = 32, frac_bits = 13, truncation toward zero, e_floor = -133 and a 14-bit
// truncated sum is spec/gemm.md steps 1-5, measured bit-exactly on an H200; the fp32-fma row with
// k = 1 is IEEE fmaf (see kFma in model.cpp for why round-to-odd alignment makes it exact).
//
// Non-finite inputs are an untested hardware edge (spec/gemm.md): an output that touches a NaN or
// Inf code or scale is the IEEE double evaluation of D, in every model and in the ideal alike.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "reference/formats/formats.hpp"

namespace ulpgate::gemm {

// How a term is brought to the step's unit u before the exact sum.
enum class Align : uint8_t {
  toward_zero,  // sign(t) floor(|t| / u) u: sm90 (spec/gemm.md step 4)
  down,         // floor(t / u) u: an arithmetic right shift of two's complement
  odd,          // toward zero, then the last kept bit set if anything was dropped (round to odd):
                // a sticky bit, so that a final RNE is the exact sum's RNE (fp32-fma)
};
std::string_view align_name(Align a);

// How the accumulator c meets the products of a step (above).
enum class Join : uint8_t { fused, late };
// Which exponents the unit sees for fp8 operands (above).
enum class Exponents : uint8_t { fp8, fp16, bf16 };
std::string_view join_name(Join j);
std::string_view exponents_name(Exponents e);

constexpr int kNoFloor = -100000;  // e_floor of a step without an exponent floor

struct MmaStep {
  int k;                  // products per step (zero padding completes a short last step)
  int groups;             // late join: products summed in `groups` interleaved sets (fused: 1)
  int frac_bits;          // u = 2^(E - frac_bits)
  Align align;            // how the products (and, fused, c) are aligned
  int e_floor;            // E = max(E, e_floor), kNoFloor for none
  int sum_bits;           // significant bits of the step result
  Rounding sum_rounding;  // rz or rne
  Join join = Join::fused;
  int late_bits = 0;      // late join: fraction bits kept where the dot meets c
  Exponents exponents = Exponents::fp8;
  int k_run = 0;          // 0: a step takes k contiguous K; else the two steps of each 2k-chunk take
                          // its positions in runs of k_run alternately (fp8 converted pairwise to f16)
};

// How a K range's chains become one fp32 value when a kernel splits K (split-K, stream-K).
enum class Combine : uint8_t { sequential, pairwise };
std::string_view combine_name(Combine c);

struct AccumModel {
  std::string_view name;   // "sm90", "sm90-fast-accum", "fp32-fma", ...
  std::string_view arch;   // "sm90", "sm100", "sm89", "gfx942", "gfx950", "simt"
  bool validated;          // reproduced bit-exactly by hardware or by MMA-Sim (or exact by definition)
  std::string_view source;
  MmaStep step;
  int promote_k;           // chains restart from zero every promote_k K (a multiple of step.k); 0 = never
  bool scales_in_mma;      // power-of-two scales (gemm.mx; gemm.block with ue8m0) multiply the
                           // products inside the step, and one chain runs over all of K
  // What validated the row: "hardware: ...", "MMA-Sim <version>: ..." or "hypothesis: ...".
  std::string_view validation = "hypothesis";
  // The archs whose kernels can take this path, space-separated ("" = every arch: SIMT code).
  std::string_view runs_on = "";
  // Split-K: K (each scale segment's K-blocks for gemm.block) cut into `split` contiguous parts
  // of whole chains, summed on their own and combined in fp32 (RN).
  int split = 1;
  Combine combine = Combine::sequential;
  // Split-K by part length instead of count (cuBLASLt's split-K algorithms, as `ulpgate reveal`
  // measured them): every part part_k K of whole chains (of whole K-blocks for gemm.block), the
  // last part what is left; 0: `split` parts.
  int64_t part_k = 0;

  bool runs_on_arch(std::string_view arch_name) const;
};

// Split-K: how many units a part holds (units of unit_k K each: chains or steps; K-blocks for
// gemm.block), of `units` in all: ceil(units / split), or part_k / unit_k; 0 when K is not split.
int64_t units_per_part(const AccumModel& m, int64_t units, int64_t unit_k);

std::span<const AccumModel> models();
const AccumModel& model(std::string_view name);  // throws UsageError naming the valid models
std::string model_names();

// A chain of the step over K = a.size() (= b.size(); any length): its steps in order (contiguous
// or interleaved by k_run), each taking the previous result as c, from c; scale_exp[j], when given,
// is the power-of-two scale of step j inside the MMA (as mma_step's).
float mma_chain(const MmaStep& step, Format af, Format bf, std::span<const uint8_t> a, std::span<const uint8_t> b,
                float c, std::span<const int> scale_exp = {});

// One MMA step: c + 2^scale_exp sum a_i b_i with codes a, b of formats af, bf (equal lengths, at
// most 64), as the step's rules compute it; scale_exp is a power-of-two scale inside the MMA
// (scales_in_mma). `bound`, when given, receives the step's error bound (per nonzero term u, plus
// the sum rounding's quantum, halved under RNE: spec/gemm.md "Budgets").
float mma_step(const MmaStep& step, Format af, Format bf, std::span<const uint8_t> a,
               std::span<const uint8_t> b, float c, int scale_exp = 0, double* bound = nullptr);

}  // namespace ulpgate::gemm
