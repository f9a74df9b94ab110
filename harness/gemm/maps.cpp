#include "harness/gemm/maps.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "harness/report/text.hpp"

namespace ulpgate::gemm {
namespace {

using text::num;
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr int64_t kColBlock = 128;   // columns per fitted cell
constexpr size_t kFitRows = 8, kFitColBlocks = 8;
constexpr double kSame = 1e-2;       // f and scales agree within 1% (a bf16 output's rounding stays far below)
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

int64_t ceil_div(int64_t x, int64_t d) { return (x + d - 1) / d; }

// A power of two: about 8 tiles for a small size, 128 up to 64 tiles, larger beyond.
int64_t tile_edge(int64_t size) {
  int64_t t = 1;
  while (t < 128 && t * 8 < size) t *= 2;
  while (ceil_div(size, t) > 64) t *= 2;
  return t;
}

std::string range(int64_t first, int64_t last) { return std::to_string(first) + ".." + std::to_string(last); }

// ---- by output tile ---------------------------------------------------------------------------

TileMap tile_map(const Spec& s, const Marks& marks) {
  TileMap t;
  t.m = s.m, t.n = s.n;
  t.tile_m = tile_edge(s.m), t.tile_n = tile_edge(s.n);
  t.rows = ceil_div(s.m, t.tile_m), t.cols = ceil_div(s.n, t.tile_n);
  t.bad.assign(size_t(t.rows * t.cols), 0);
  t.worst.assign(size_t(t.rows * t.cols), 0.0f);
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t n = 0; n < s.n; ++n) {
      const size_t i = size_t(m * s.n + n), cell = size_t((m / t.tile_m) * t.cols + n / t.tile_n);
      t.bad[cell] += marks.bad[i];
      if (marks.bad[i]) t.worst[cell] = std::max(t.worst[cell], marks.excess[i]);
    }
  return t;
}

char tile_char(int64_t bad, int64_t size) {
  if (bad == 0) return '.';
  if (bad == size) return '#';
  return char('0' + std::clamp<int64_t>(ceil_div(bad * 10, size), 1, 9));
}

void tile_text(const TileMap& t, std::vector<std::string>& out) {
  out.push_back("error map by output tile (" + std::to_string(t.tile_m) + " x " + std::to_string(t.tile_n) +
                " elements; '.' none bad, 1-9 tenths bad, '#' all bad):");
  const auto tile_size = [&](int64_t r, int64_t c) {
    return (std::min(t.m, (r + 1) * t.tile_m) - r * t.tile_m) * (std::min(t.n, (c + 1) * t.tile_n) - c * t.tile_n);
  };
  for (int64_t r = 0; r < t.rows; ++r) {
    std::string line = "  rows " + range(r * t.tile_m, std::min(t.m, (r + 1) * t.tile_m) - 1);
    line.resize(std::max<size_t>(line.size() + 1, 22), ' ');
    for (int64_t c = 0; c < t.cols; ++c) line += tile_char(t.bad[size_t(r * t.cols + c)], tile_size(r, c));
    out.push_back(line);
  }
  std::vector<size_t> order(t.bad.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::pair(t.bad[a], t.worst[a]) > std::pair(t.bad[b], t.worst[b]);
  });
  std::string worst = "  worst tiles:";
  for (size_t i = 0; i < std::min<size_t>(3, order.size()) && t.bad[order[i]]; ++i) {
    const int64_t r = int64_t(order[i]) / t.cols, c = int64_t(order[i]) % t.cols;
    worst += (i ? "; " : " ") + std::string("rows ") + range(r * t.tile_m, std::min(t.m, (r + 1) * t.tile_m) - 1) +
             " cols " + range(c * t.tile_n, std::min(t.n, (c + 1) * t.tile_n) - 1) + ": " +
             std::to_string(t.bad[order[i]]) + " of " + std::to_string(tile_size(r, c)) + " bad, worst " +
             num(t.worst[order[i]]) + "x its allowance";
  }
  out.push_back(worst);
}

// ---- by K-block -------------------------------------------------------------------------------

// The output rows to fit: up to kFitRows holding bad elements, spread over them.
std::vector<int64_t> fit_rows(const Spec& s, const Marks& marks) {
  std::vector<int64_t> bad_rows;
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t n = 0; n < s.n; ++n)
      if (marks.bad[size_t(m * s.n + n)]) {
        bad_rows.push_back(m);
        break;
      }
  if (bad_rows.size() <= kFitRows) return bad_rows;
  std::vector<int64_t> rows;
  for (size_t i = 0; i < kFitRows; ++i) rows.push_back(bad_rows[i * (bad_rows.size() - 1) / (kFitRows - 1)]);
  return rows;
}

// Operand rows as values, non-finite codes as 0 (their outputs are judged as non-finite anyway).
Matrix decoded_rows(Format f, const std::vector<uint8_t>& codes, std::span<const int64_t> rows, int64_t k) {
  std::array<double, 256> value;
  for (uint32_t c = 0; c < 256; ++c) value[c] = std::isfinite(decode(f, c)) ? decode(f, c) : 0;
  Matrix x(int64_t(rows.size()), k);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t i = 0; i < k; ++i) x(int64_t(r), i) = value[codes[size_t(rows[r] * k + i)]];
  return x;
}

class KBlockFitter {
 public:
  KBlockFitter(const Spec& s, const Operands& in, std::span<const double> d, const Marks& marks)
      : s_(s), in_(in), d_(d), g_(geometry(s)) {
    map_.kblock = harness_kblock(g_);
    map_.kblocks = ceil_div(s.k, map_.kblock);
    map_.out_rows = fit_rows(s, marks);
    map_.col_blocks = std::min<int64_t>(ceil_div(s.n, kColBlock), kFitColBlocks);
  }

  KBlockMap run() {
    const int64_t kbs = map_.kblocks, cols = std::min(s_.n, map_.col_blocks * kColBlock);
    if (kbs == 0 || map_.out_rows.empty()) return map_;
    std::vector<int64_t> col_ids(static_cast<size_t>(cols));
    std::iota(col_ids.begin(), col_ids.end(), 0);
    const Matrix a = decoded_rows(s_.a_format, in_.a, map_.out_rows, s_.k), b = decoded_rows(s_.b_format, in_.b, col_ids, s_.k);
    std::vector<Matrix> sums;  // per K-block: [fitted rows, cols]
    for (int64_t kb = 0; kb < kbs; ++kb) {
      const int64_t k0 = kb * map_.kblock, len = std::min(s_.k, k0 + map_.kblock) - k0;
      sums.push_back(a.middleCols(k0, len) * b.middleCols(k0, len).transpose());
    }
    for (size_t r = 0; r < map_.out_rows.size(); ++r)
      for (int64_t cb = 0; cb < map_.col_blocks; ++cb) fit_cell(sums, r, cb);
    map_.pattern = pattern();
    return map_;
  }

 private:
  const Spec& s_;
  const Operands& in_;
  std::span<const double> d_;
  Geometry g_;
  KBlockMap map_;

  // The scale of K-block kb for output (m, n) (one scale for every 128-K block of epilogue ops).
  double scale(int64_t m, int64_t n, int64_t kb) const {
    const int64_t b = g_.epilogue_scales() ? 0 : kb;
    return double(in_.sa[size_t(g_.sa_index(m, b))]) * in_.sb[size_t(g_.sb_index(n, b))];
  }

  // Least squares over the cell's columns; a K-block whose column is zero (all-zero blocks) stays NaN.
  void fit_cell(const std::vector<Matrix>& sums, size_t r, int64_t cb) {
    const int64_t m = map_.out_rows[r], n0 = cb * kColBlock, width = std::min(s_.n, n0 + kColBlock) - n0;
    const size_t at = (r * size_t(map_.col_blocks) + size_t(cb)) * size_t(map_.kblocks);
    map_.f.resize(at + size_t(map_.kblocks), kNaN);
    std::vector<int64_t> used;
    for (int64_t kb = 0; kb < map_.kblocks; ++kb)
      if (sums[size_t(kb)].row(int64_t(r)).segment(n0, width).cwiseAbs().maxCoeff() > 0) used.push_back(kb);
    if (used.empty() || width < 2 * int64_t(used.size())) return;  // too few outputs to tell the blocks apart
    Matrix x(width, int64_t(used.size()));
    Eigen::VectorXd y(width);
    for (int64_t j = 0; j < width; ++j) {
      y(j) = d_[size_t(m * s_.n + n0 + j)];
      for (size_t u = 0; u < used.size(); ++u)
        x(j, int64_t(u)) = scale(m, n0 + j, used[u]) * sums[size_t(used[u])](int64_t(r), n0 + j);
    }
    if (!y.allFinite() || !x.allFinite()) return;
    const Eigen::VectorXd f = x.colPivHouseholderQr().solve(y);
    for (size_t u = 0; u < used.size(); ++u) map_.f[at + size_t(used[u])] = float(f(int64_t(u)));
  }

  static bool near(double x, double want) { return std::fabs(x - want) <= kSame * std::fabs(want); }

  // What K-block kb's f says over every fitted cell: nothing (f ~ 1, or no clear pattern), "as if
  // the scale of K-block j", or a constant factor.
  struct Story {
    enum Kind { none, other_block, factor } kind = none;
    int64_t block = 0;
    double f = 1;
    bool same(const Story& o) const {
      return kind == o.kind && (kind != other_block || block == o.block) && (kind != factor || near(f, o.f));
    }
  };

  Story block_story(int64_t kb) const {
    std::vector<std::pair<int64_t, int64_t>> cells;  // (m, first column) of the determined cells
    std::vector<double> f;
    for (size_t r = 0; r < map_.out_rows.size(); ++r)
      for (int64_t cb = 0; cb < map_.col_blocks; ++cb) {
        const float v = map_.f[(r * size_t(map_.col_blocks) + size_t(cb)) * size_t(map_.kblocks) + size_t(kb)];
        if (std::isfinite(v)) cells.emplace_back(map_.out_rows[r], cb * kColBlock), f.push_back(v);
      }
    if (f.empty() || std::all_of(f.begin(), f.end(), [](double v) { return near(v, 1); })) return {};
    for (int64_t j = 0; j < map_.kblocks; ++j) {
      bool all = j != kb;
      for (size_t i = 0; i < f.size() && all; ++i) {
        const auto [m, n] = cells[i];
        all = near(f[i] * scale(m, n, kb), scale(m, n, j));
      }
      if (all) return {Story::other_block, j};
    }
    if (std::all_of(f.begin(), f.end(), [&](double v) { return near(v, f.front()); })) return {Story::factor, 0, f.front()};
    return {};
  }

  // Runs of K-blocks with the same story, in words.
  std::string pattern() const {
    std::string out;
    for (int64_t kb = 0; kb < map_.kblocks;) {
      const Story story = block_story(kb);
      int64_t end = kb + 1;
      while (end < map_.kblocks && block_story(end).same(story)) ++end;
      if (story.kind != Story::none) {
        char factor[32];
        std::snprintf(factor, sizeof factor, "%.3gx", story.f);
        out += (out.empty() ? "" : "; ") +
               (end - kb == 1 ? "K-block " + std::to_string(kb) + " behaves" : "K-blocks " + range(kb, end - 1) + " behave") +
               (story.kind == Story::other_block ? " as if scaled by the scale of K-block " + std::to_string(story.block)
                                                 : " as if scaled " + std::string(factor));
      }
      kb = end;
    }
    return out;
  }
};

void kblock_text(const KBlockMap& k, std::vector<std::string>& out) {
  if (k.f.empty()) return;
  out.push_back("effective scale f by K-block of " + std::to_string(k.kblock) + " (median over output rows " +
                [&] {
                  std::string rows;
                  for (int64_t r : k.out_rows) rows += (rows.empty() ? "" : ",") + std::to_string(r);
                  return rows;
                }() +
                " x " + std::to_string(k.col_blocks) + " column blocks of 128; 1 = as the scales say):");
  std::string line = " ";
  const size_t cells = k.f.size() / size_t(k.kblocks);
  for (int64_t kb = 0; kb < std::min<int64_t>(k.kblocks, 32); ++kb) {
    std::vector<float> v;
    for (size_t c = 0; c < cells; ++c)
      if (std::isfinite(k.f[c * size_t(k.kblocks) + size_t(kb)])) v.push_back(k.f[c * size_t(k.kblocks) + size_t(kb)]);
    std::nth_element(v.begin(), v.begin() + ptrdiff_t(v.size() / 2), v.end());
    char cell[24];
    std::snprintf(cell, sizeof cell, " %.3g", v.empty() ? NAN : double(v[v.size() / 2]));
    line += cell;
  }
  out.push_back(line + (k.kblocks > 32 ? " ..." : ""));
  if (!k.pattern.empty()) out.push_back("  " + k.pattern);
}

}  // namespace

std::vector<std::string> ErrorMaps::text() const {
  std::vector<std::string> out;
  if (empty()) return out;
  tile_text(tiles, out);
  kblock_text(kblocks, out);
  return out;
}

std::vector<ErrorGrid> ErrorMaps::grids() const {
  std::vector<ErrorGrid> out;
  if (empty()) return out;
  const std::string tile = " (tiles of " + std::to_string(tiles.tile_m) + " x " + std::to_string(tiles.tile_n) + ")";
  out.push_back({"bad elements by output tile" + tile, "output row tile", "output column tile", "bad elements",
                 tiles.rows, tiles.cols, std::vector<float>(tiles.bad.begin(), tiles.bad.end())});
  out.push_back({"worst |D - D_ideal| / allowance by output tile" + tile, "output row tile", "output column tile",
                 "x allowance", tiles.rows, tiles.cols, tiles.worst});
  if (!kblocks.f.empty())
    out.push_back({"effective scale f by K-block of " + std::to_string(kblocks.kblock) + " (1 = as the scales say)" +
                       (kblocks.pattern.empty() ? "" : ": " + kblocks.pattern),
                   "fitted (output row, 128-column block)", "K-block", "f",
                   int64_t(kblocks.out_rows.size()) * kblocks.col_blocks, kblocks.kblocks, kblocks.f, 1.0f});
  return out;
}

std::vector<BundleTensor> ErrorMaps::tensors() const {
  if (empty()) return {};
  std::vector<BundleTensor> out = {
      bundle_tensor("map_tile_bad", "diagnosis", "int32", {tiles.rows, tiles.cols}, std::span<const int32_t>(tiles.bad)),
      bundle_tensor("map_tile_worst", "diagnosis", "fp32", {tiles.rows, tiles.cols}, std::span<const float>(tiles.worst)),
  };
  if (!kblocks.f.empty())
    out.push_back(bundle_tensor("map_kblock_f", "diagnosis", "fp32",
                                {int64_t(kblocks.out_rows.size()), kblocks.col_blocks, kblocks.kblocks},
                                std::span<const float>(kblocks.f)));
  return out;
}

ErrorMaps error_maps(const Spec& spec, const Operands& in, std::span<const double> d, const Marks& marks) {
  return {tile_map(spec, marks), KBlockFitter(spec, in, d, marks).run()};
}

}  // namespace ulpgate::gemm
