// Error maps of a failing GEMM (spec/gemm.md "Tile-level diagnosis"), as data (bundle tensors
// map_tile_bad, map_tile_worst, map_kblock_f, for the HTML report) and as text (ulpgate repro):
//   by output tile: how many elements are bad and the worst |D - D_ideal| / allowance per tile,
//     tiles of 128 x 128 (smaller for small outputs, larger for very large ones), a text grid;
//   by K-block: an effective-scale factor f per (output row, 128-column block, K-block), fitted by
//     least squares over the block's outputs, D_obs ~ sum_kb f_kb sa sb G_kb with the exact block
//     sums G_kb (Eigen). f ~ 1 everywhere for a correct kernel; K-blocks whose scales were read
//     from K-block j show f_kb = s_j / s_kb and are named ("K-blocks 1..15 behave as if scaled by
//     the scale of K-block 0"); a constant f (fnuz read as OCP: 2 or 4) is named too. Where the
//     scales apply in the epilogue the K-blocks are 128-K blocks sharing one scale.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "harness/core/case_result.hpp"
#include "harness/gemm/gemm_case.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate::gemm {

// What the comparison found per element: bad (over budget or non-finite), and |D - D_ideal| over
// the element's allowance (Inf where D is non-finite and D_ideal is not).
struct Marks {
  std::vector<uint8_t> bad;
  std::vector<float> excess;
};

struct TileMap {
  int64_t m = 0, n = 0;            // the output's shape
  int64_t tile_m = 0, tile_n = 0;  // elements per tile
  int64_t rows = 0, cols = 0;      // tiles
  std::vector<int32_t> bad;        // [rows, cols]
  std::vector<float> worst;        // [rows, cols]
};

struct KBlockMap {
  int64_t kblock = 0, kblocks = 0;
  std::vector<int64_t> out_rows;  // the output rows fitted
  int64_t col_blocks = 0;         // 128-column blocks fitted per row
  std::vector<float> f;           // [out_rows x col_blocks cells, kblocks]; NaN: not determined
  std::string pattern;            // the named pattern, empty when f ~ 1 or none is clear
};

struct ErrorMaps {
  TileMap tiles;
  KBlockMap kblocks;

  bool empty() const { return tiles.rows == 0; }
  std::vector<std::string> text() const;
  // For the HTML report: bad elements and the worst error by output tile, and f by (fitted
  // output row x column block, K-block).
  std::vector<ErrorGrid> grids() const;
  std::vector<BundleTensor> tensors() const;
};

// d: the observed D as values.
ErrorMaps error_maps(const Spec& spec, const Operands& in, std::span<const double> d, const Marks& marks);

}  // namespace ulpgate::gemm
