#include "harness/gemm/inputs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "reference/parallel.hpp"

namespace ulpgate::gemm {
namespace {

constexpr float kAmaxFloor = 1e-4f;

float fp8_max(Format f) { return decode_f32(f, info(f).max_mag); }

// scale = max(amax, floor) / max, rounded up to a power of two for ue8m0 scales.
float scale_of(float amax, Format f, bool pow2) {
  const float s = std::fmax(amax, kAmaxFloor) / fp8_max(f);
  if (!pow2) return s;
  return decode_f32(Format::ue8m0, encode(s, Conversion{Format::ue8m0, Overflow::satfinite, Rounding::rp}));
}

// One operand ([rows, K] values) quantized per scale cell: cell(r, b) is the cell of row r's
// elements [b * run, (b + 1) * run) along K (run = K: one cell a row). Each cell found once per
// run, not per element: its index divides, and the divisions were half of generating a GEMM's
// operands (the ci tier's 1 x 7168 x 18432 case: 132 M elements of B).
template <class Cell>
void quantize(const std::vector<float>& x, int64_t rows, int64_t k, int64_t run, Format f, bool pow2, size_t cells,
              Cell cell, std::vector<uint8_t>& codes, std::vector<float>& scales) {
  // fn(a, e, c): each run of row r, as element offsets [a, e) into x, with its cell c.
  const auto for_runs = [&](int64_t r, auto&& fn) {
    for (int64_t i0 = 0, b = 0; i0 < k; i0 += run, ++b) fn(r * k + i0, r * k + std::min(k, i0 + run), size_t(cell(r, b)));
  };
  // Cells are numbered row-major, so a chunk of rows touches an interval of them: each chunk takes
  // its cells' amax, merged by max (exact, in any order).
  std::vector<float> amax(cells, 0.0f);
  std::mutex merging;
  const int64_t serial_rows = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(k, 1));
  parallel_for_large(k > 0 ? rows : 0, serial_rows, [&](int64_t r0, int64_t r1) {
    if (r0 >= r1) return;
    const auto lo = size_t(cell(r0, 0));
    std::vector<float> local(size_t(cell(r1 - 1, (k - 1) / run)) - lo + 1, 0.0f);
    for (int64_t r = r0; r < r1; ++r)
      for_runs(r, [&](int64_t a, int64_t e, size_t c) {
        float& m = local[c - lo];
        for (int64_t at = a; at < e; ++at)  // no fmax: a libm call an element where m >= 0 is never NaN
          if (const float v = std::fabs(x[size_t(at)]); v <= std::numeric_limits<float>::max() && v > m) m = v;
      });
    const std::lock_guard<std::mutex> hold(merging);
    for (size_t c = 0; c < local.size(); ++c) amax[lo + c] = std::fmax(amax[lo + c], local[c]);
  });
  scales.resize(cells);
  for (size_t c = 0; c < cells; ++c) scales[c] = scale_of(amax[c], f, pow2);
  codes.resize(x.size());
  const auto quantize_with = [&](auto finite, auto other) {
    parallel_for_large(k > 0 ? rows : 0, serial_rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for_runs(r, [&](int64_t a, int64_t e, size_t c) {
          for (int64_t at = a; at < e; ++at) {
            const float v = x[size_t(at)], q = v / scales[c];
            codes[size_t(at)] = uint8_t(std::isfinite(v) ? finite(q) : other(q));
          }
        });
    });
  };
  // The integer RNE path where the format has one (every fp8 format: bit for bit encode's, and
  // encode's dispatch was a third of making a large GEMM's operands), encode elsewhere.
  dispatch(f, [&](auto format) {
    constexpr Format F = decltype(format)::value;
    if constexpr (has_fast_rne<F>()) {
      quantize_with(FastRneCast<F>(Overflow::satfinite), FastRneCast<F>(Overflow::nosat));
    } else {
      const Conversion finite{F, Overflow::satfinite, Rounding::rne}, other{F, Overflow::nosat, Rounding::rne};
      quantize_with([&](float q) { return encode(q, finite); }, [&](float q) { return encode(q, other); });
    }
  });
}

// cancel: the second half of K repeats A's first half and negates B's, so every term of the
// first half meets its negation (the halves quantize alike when K / 2 is a multiple of the block).
void cancel(std::vector<float>& a, std::vector<float>& b, const Spec& s) {
  const int64_t h = s.k / 2;
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t k = h; k < 2 * h; ++k) a[size_t(m * s.k + k)] = a[size_t(m * s.k + k - h)];
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t k = h; k < 2 * h; ++k) b[size_t(n * s.k + k)] = -b[size_t(n * s.k + k - h)];
}

// zero-blocks: A's block kb of row m is zero where (m + kb) % 3 == 0; B's where (n / 128 + kb) is odd.
void zero_blocks(std::vector<float>& a, std::vector<float>& b, const Spec& s) {
  const int64_t kblock = harness_kblock(geometry(s));
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t k = 0; k < s.k; ++k)
      if ((m + k / kblock) % 3 == 0) a[size_t(m * s.k + k)] = 0;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t k = 0; k < s.k; ++k)
      if ((n / 128 + k / kblock) % 2 == 1) b[size_t(n * s.k + k)] = 0;
}

// scale-edges: scales at the edges of their encoding, the codes left as quantized (a decoder that
// gets an edge wrong changes those outputs). A: every K-block of row 0 the smallest scale (so row
// 0 of D is made of tiny terms alone), row 1's first K-block the largest, row 2's NaN; B: every
// K-block of its first scale row the smallest. ue8m0: 0x00 (2^-127), 0xFE (2^127), 0xFF; fp32:
// subnormals (2^-140 for A, 3e-39 for B, no power of two), 2^127 and NaN.
void scale_edges(std::vector<float>& sa, std::vector<float>& sb, const Geometry& g, bool pow2) {
  const float smallest_a = pow2 ? std::ldexp(1.0f, -127) : std::ldexp(1.0f, -140);
  const float smallest_b = pow2 ? std::ldexp(1.0f, -127) : 3e-39f;
  const auto set = [](std::vector<float>& s, const quant::ScaleShape& sh, int64_t row, int64_t blocks, float v) {
    if (row < sh.m)
      for (int64_t kb = 0; kb < std::min(blocks, sh.g); ++kb) s[size_t(row * sh.g + kb)] = v;
  };
  set(sa, g.sa, 0, g.sa.g, smallest_a);
  set(sa, g.sa, 1, 1, std::ldexp(1.0f, 127));
  set(sa, g.sa, 2, 1, std::numeric_limits<float>::quiet_NaN());
  set(sb, g.sb, 0, g.sb.g, smallest_b);
}

}  // namespace

Operands quantized_operands(const Spec& s, const Input& input, const Rng& rng) {
  std::vector<float> a(size_t(s.m * s.k)), b(size_t(s.n * s.k));
  fill(a, input.dist, rng.stream(1));
  fill(b, input.dist, rng.stream(2));
  if (input.structure == Structure::cancel) cancel(a, b, s);
  if (input.structure == Structure::zero_blocks) zero_blocks(a, b, s);
  const Geometry g = geometry(s);
  const int64_t run = g.epilogue_scales() ? std::max<int64_t>(s.k, 1) : g.kblock;  // K's elements a cell
  Operands out;
  quantize(a, s.m, s.k, run, s.a_format, s.pow2_scales(), size_t(g.sa.m * g.sa.g),
           [&](int64_t m, int64_t b) { return g.sa_index(m, b); }, out.a, out.sa);
  quantize(b, s.n, s.k, run, s.b_format, s.pow2_scales(), size_t(g.sb.m * g.sb.g),
           [&](int64_t n, int64_t b) { return g.sb_index(n, b); }, out.b, out.sb);
  if (input.structure == Structure::scale_edges) scale_edges(out.sa, out.sb, g, s.pow2_scales());
  return out;
}

}  // namespace ulpgate::gemm
