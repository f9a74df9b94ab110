// A mixture-of-experts case: a grouped GEMM (reference/gemm/grouped.hpp) over a routing histogram.
// Its id is readable and round-trips (parse(id()).id() == id()):
//
//   moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1
//   moe.gemm/deepgemm/e4m3fn.e4m3fn.ue8m0/fp32/masked.a64/8x300x256x512/normal/s1
//   moe.gemm-mx/ocp-mx/e4m3fn.e4m3fn/bf16/contiguous/8x300x256x512/normal/s1   MXFP8 experts
//   op      /profile /A.B[.ue8m0]       /out /layout[.aN]/GxTxNxK     /input /sN
//
// G experts, T tokens routed (one expert each: the rows of A), every expert an N x K GEMM; the
// layout and its row alignment (default 128, DeepGEMM's); G at most 65536, T and the alignment
// at most 2^31. Everything after the op is a gemm.block
// (moe.gemm) or gemm.mx (moe.gemm-mx) case's: its profile, formats, output, input and seed. The histogram of T over G is a skewed top-k
// router's (route()): expert 0 gets no token, expert 1 one, expert 2 more than the alignment when
// T allows, the rest by Zipf weights (rank^-1.2) in a seeded order, by largest remainder. Expert e's tokens and weights are the
// gemm.block case of its shape with seed s * 1000003 + e. Rows that are not tokens hold NaN codes
// and NaN scales, so a kernel that reads one into a token's output shows it.
#pragma once

#include <string>
#include <vector>

#include "harness/gemm/gemm_case.hpp"
#include "reference/gemm/grouped.hpp"

namespace ulpgate::moe {

// T tokens over G experts (the histogram described above); the same for the same arguments.
std::vector<int64_t> route(int64_t experts, int64_t tokens, int64_t align, uint64_t seed);

struct Tensors;

// A grouped id's layout segment ("contiguous", "masked.a64": the row alignment when not 128), and
// its parse with T tokens routed over G experts by route(); throws UsageError naming the id.
std::string rows_segment(const ExpertRows& r);
ExpertRows parse_rows(std::string_view segment, int64_t experts, int64_t tokens, uint64_t seed, std::string_view id);

struct Case {
  gemm::GroupedSpec spec;
  gemm::Input input;
  uint64_t seed = 1;
  int64_t tokens = 0;  // T

  std::string id() const;
  static Case parse(std::string_view id);  // throws UsageError naming the bad segment
  // Expert e as a dense case (its tokens as M): what its rows are judged as.
  gemm::Case expert_case(int64_t e) const;
  // Expert e's tokens and weights as a dense case of their own: its shape, seed s * 1000003 + e.
  gemm::Case expert_inputs(int64_t e) const;
  Tensors tensors() const;  // bit-reproducible from the id alone
};

// Everything a grouped kernel reads, and each expert's logical operands (its tokens, its weights).
// The experts' weights are not held (7.5 GB for 256 experts of 4096 x 7168): the kernel's B is made
// part by part (weights()), and an expert's again where it is judged (expert()).
struct Tensors {
  // Expert e's logical operands: its tokens and A scales as held, its weights and B scales made.
  gemm::Operands expert(int64_t e) const;
  // The kernel's B and B scale storage, every expert's, made a part at a time.
  gemm::ExpertWeights weights() const;

  Case of;                        // its spec, input and seed make the weights
  gemm::ExpertOperands experts;   // each expert's tokens and A scales (weights: expert(e))
  std::vector<uint8_t> a, sa;
  std::vector<int32_t> m_indices, masked_m;  // the layout's row map (the other one empty)
  std::vector<float> sa_rows;                // A's logical scales [rows, K-blocks], NaN off the tokens
  // B and its scales empty: weights() makes them.
  gemm::GroupedBuffers buffers(std::span<std::byte> d) const { return {a, {}, sa, {}, m_indices, masked_m, d}; }
};

}  // namespace ulpgate::moe
