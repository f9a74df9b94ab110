// Why a failing GEMM output differs (spec/gemm.md, known-bugs.md R10, R13, R14, R15): hypotheses,
// each a story, the verdict it earns and a test on the data made with the reference (the claimed
// model replayed on what the kernel would have read). Tried on a few rows holding bad elements
// first, then on every output:
//   another accumulation (identify.hpp: "outputs follow sm90-fast-accum (one chain over all K), not
//     sm90 (promotion every 128 K)"; bit-exact claims only, tried first);
//   weights in the other weight layout (R14: row-major weights fed to a bpreshuffle kernel: layout);
//   either operand's scales read in another scale layout (R13: layout, naming both);
//   fnuz codes read as OCP or the reverse (R10: layout), e4m3 codes decoded as e5m2 or the reverse;
//   every K-block reading the scales of K-block 0 (R15), for A, B or both;
//   scale decoders wrong at the edges (ue8m0 0x00 as 0, 0xFF as 2^128, fp32 subnormals flushed);
//   the epilogue / K-block combine of another profile; K summed from its end (epilogue scales);
//   operand permutations inside the loaded tile (16-K halves swapped, 16x16 sub-tiles transposed);
//   scale index maps fitted to the scale tensor's shape: the K-block index or the scale row off by
//     one either way, a K-block stride of 2, scale row 0 for every row ("A scales are read at
//     scale row r + 1 ...");
//   a wrong output tile: the bad elements fill a rectangle that holds another rectangle's values
//     (layout); every bad output holding the value at one offset (up to 4 rows / columns) or at its
//     transposed place (layout); when nothing else explains them, values no output has or the poison.
// The one story that explains the data is reported; when several do, all of them as candidates.
#pragma once

#include <span>
#include <string>

#include "harness/core/verdict.hpp"
#include "harness/gemm/compare.hpp"

namespace ulpgate::gemm {

struct Diagnosis {
  std::string story;  // what explains the data, or that nothing tried does
  Verdict verdict;    // layout for layout stories, over-budget otherwise (the worst of equal candidates)
};

// got: the observed output bits; marks: the comparison's bad elements.
Diagnosis diagnose(const Case& c, const Operands& in, const Expected& e, std::span<const uint32_t> got,
                   const Marks& marks);

}  // namespace ulpgate::gemm
