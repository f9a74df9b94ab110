// FP8 GEMM family (spec/gemm.md): D[m, n] = sum_kb sa[m, kb] sb[kb, n] G_kb[m, n], with
// G_kb = sum_{k in block kb} a[m, k] b[k, n]. Every FP8 GEMM is "TN": A is [M, K] and B is given
// as [N, K], both K-contiguous codes. Three results per case: the ideal (exact D rounded once),
// the replay of an accumulator model under the spec's profile (bit for bit what a kernel that
// follows it produces), and a rigorous per-element error bound of that model for the budget tier.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reference/formats/formats.hpp"
#include "reference/gemm/model.hpp"
#include "reference/gemm/profile.hpp"
#include "reference/quant/layout.hpp"

namespace ulpgate::gemm {

struct Spec {
  Op op = Op::tensor;
  const Profile* profile = nullptr;
  Format a_format = Format::e4m3fn, b_format = Format::e4m3fn;  // a pair the profile takes
  Format out = Format::bf16;                                    // bf16 or fp32
  int64_t m = 0, n = 0, k = 0;
  bool ue8m0 = false;  // gemm.block: the scales are powers of two (DeepGEMM sm100 style)

  // Empty when valid, else what is wrong: a missing profile or one without the op, a format pair
  // it does not take, out not bf16/fp32, a negative size, K not a multiple of the MX block (32),
  // ue8m0 outside gemm.block or with a profile that has no ue8m0 layout, a bpreshuffle weight
  // layout with N % 16 or K % 32 != 0. Zero sizes are valid (empty outputs, D = 0 for K = 0).
  std::string problem() const;
  // The scales are ue8m0 values (powers of two): gemm.mx, and gemm.block with ue8m0.
  bool pow2_scales() const;
};

// Where an op's scales sit (one data row per op in gemm.cpp). Scales are per `kblock` K (0: one
// block of all K, applied in the epilogue); an A scale row serves `a_rows` rows of A and a B scale
// row `b_rows` rows of B (0: all of them).
//   tensor:  sa [1],          sb [1]
//   rowwise: sa [M],          sb [N]
//   block:   sa [M, ceil(K/128)] (1x128 groups of A), sb [ceil(N/128), ceil(K/128)]
//   mx:      sa [M, K/32],    sb [N, K/32] (powers of two)
// The last block along K (or N) may be partial: it is zero-padded, which changes no sum.
struct Geometry {
  int64_t kblock, a_rows, b_rows;
  int64_t k, kblocks;        // K and the number of scale blocks along it (1 when kblock = 0)
  quant::ScaleShape sa, sb;  // logical scale matrices, row-major

  bool epilogue_scales() const { return kblock == 0; }
  int64_t block_begin(int64_t kb) const { return epilogue_scales() ? 0 : kb * kblock; }
  int64_t block_end(int64_t kb) const;
  int64_t sa_index(int64_t m, int64_t kb) const { return (a_rows ? m / a_rows : 0) * sa.g + kb; }
  int64_t sb_index(int64_t n, int64_t kb) const { return (b_rows ? n / b_rows : 0) * sb.g + kb; }
  // The first of A's logical scales that rows from m on read (m a multiple of a_rows).
  int64_t sa_begin(int64_t m) const { return a_rows ? m / a_rows * sa.g : 0; }
};
Geometry geometry(const Spec& spec);

// Logical operands in canonical layouts (layout.hpp converts to and from physical ones).
struct Operands {
  std::vector<uint8_t> a;     // [M, K] codes of a_format, row-major
  std::vector<uint8_t> b;     // [N, K] codes of b_format, row-major
  std::vector<float> sa, sb;  // logical scales, row-major in the Geometry shapes
};

// The tensors of one case as a kernel reads and writes them: A codes [M, K] row-major, B in the
// profile's weight layout, the A and B scale storage in the profile's scale layouts (layout.hpp
// stored() makes all four from Operands), and D [M, N] elements of spec.out (bf16 or fp32 bytes,
// little-endian, row-major).
struct Buffers {
  std::span<const uint8_t> a, b, sa, sb;
  std::span<std::byte> d;
};

// Rows [m0, m1) of A as the operands of an [m1 - m0, N] GEMM of the same spec: A's rows and their
// scale rows (all of them where one scale row serves every row), and B (copied). m0 starts a scale
// row of A.
Operands operand_rows(const Spec& spec, const Operands& in, int64_t m0, int64_t m1);

// Throws UsageError for spec.problem(), operand sizes that do not match the shapes, or scales of
// gemm.mx / ue8m0 gemm.block that are not positive powers of two (NaN and +Inf are allowed: see model.hpp).
void check(const Spec& spec, const Operands& in);

// [M, N] output bits of `format`, row-major: bf16 in the low 16 bits, or fp32.
struct Output {
  Format format = Format::bf16;
  std::vector<uint32_t> bits;
  double value(size_t i) const { return decode(format, bits[i]); }
};

// The exact D rounded once to spec.out (RNE; fp32 subnormals; Inf beyond the range), and the
// exact D to double precision (RNE: relative error <= 2^-53) for ULP measurement. An exact zero is
// +0. Outputs touching a NaN/Inf input: the IEEE double evaluation of D (model.hpp).
struct Ideal {
  Output out;
  std::vector<double> exact;
};
Ideal gemm_ideal(const Spec& spec, const Operands& in);

// What a kernel following `model` under spec.profile produces, bit for bit: the model's segments,
// chains and steps (model.hpp), then the profile's ScaleRule for block sums (main starts at +0) or
// for the epilogue; bf16 outputs are RN of the fp32 result.
Output gemm_model(const Spec& spec, const AccumModel& model, const Operands& in);
// The same for several models on the same operands (identification): checked once, decoded once
// per way the models read them.
std::vector<Output> gemm_models(const Spec& spec, std::span<const AccumModel* const> models, const Operands& in);

// A rigorous data-dependent bound on |D_model - D_exact| per element, D_model being the model's
// fp32 result (the fp32 output of the same case; a bf16 output adds half a bf16 ulp). Built from
// the replay's actual quantities (spec/gemm.md "Budgets"): per MMA step (nonzero terms) u plus the
// sum rounding's quantum (halved under RNE); per fp32 operation half an ulp of its result (2^-150
// at zero) plus the propagated bounds of its operands; inflated by 2^-30 for the double arithmetic
// of the bound itself. Never a bare gamma K: only the quantities of the declared order enter.
std::vector<double> error_bound(const Spec& spec, const AccumModel& model, const Operands& in);

// Both at once (one replay).
struct Replay {
  Output out;
  std::vector<double> bound;
};
Replay gemm_replay(const Spec& spec, const AccumModel& model, const Operands& in);

}  // namespace ulpgate::gemm
