// What a faulty GEMM kernel could have read instead of its operands' codes, each a reading the
// diagnosis (diagnosis.hpp) replays and weighs:
//   weights in the other weight layout (R14: row-major vs bpreshuffle, either way);
//   either operand under a permutation: K chunks of 4..64 swapped pairwise, the bytes of each
//     32-bit word reversed, 8- or 16-row halves swapped, 16x16 sub-tiles transposed, or the whole
//     operand read as [K, rows] (a transposed layout);
//   codes read as another format: fnuz <-> OCP (R10), e4m3 <-> e5m2;
//   edge codes decoded wrongly: subnormals flushed to zero or read as normals (a decoder that
//     forgets the exponent-0 case), the fnuz NaN 0x80 read as zero;
//   K walked in another order: from its end; for block ops each K-block from its end, or the
//     K-blocks from the last.
#pragma once

#include <functional>
#include <list>
#include <string>
#include <vector>

#include "harness/core/verdict.hpp"
#include "reference/gemm/gemm.hpp"
#include "reference/gemm/layout.hpp"  // Which
#include "reference/gemm/model.hpp"

namespace ulpgate::gemm {

// A fault's reading: what the kernel would have read and the model it would have followed. The
// spec and the scales are changed by `apply` (on copies; the codes of the Operands it gets are
// empty); the codes by `read`, element by element, so a check reads only the rows it needs.
struct Reading {
  std::string story;
  Verdict verdict;
  const AccumModel* model;
  std::function<void(Spec&, Operands&)> apply;
  // The code the kernel reads as element (r, c) of A or B ([rows, K]), from the case's operands;
  // empty: the stored one.
  std::function<uint8_t(const Operands& in, Which which, int64_t r, int64_t c)> read = {};
};

// The operand readings that change something for this case (`model`: the one claimed).
// `profiles` keeps the patched profiles the readings' specs point to; it must outlive them.
std::vector<Reading> operand_readings(const Spec& s, const Operands& in, const AccumModel* model,
                                      std::list<Profile>& profiles);

}  // namespace ulpgate::gemm
