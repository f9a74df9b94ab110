#include "harness/gemm/inputs.hpp"

#include <algorithm>
#include <bit>
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

// One operand of [rows, K] values quantized per scale cell: cell(r, b) is the cell of row r's
// elements [b * run, (b + 1) * run) along K (run = K: one cell a row); cells are numbered
// row-major, each spanning `band` rows (0: every row, per tensor). make(r0, r1, x) writes rows
// [r0, r1)'s values into x. Each worker makes whole bands into a buffer of its own and quantizes
// them at once (their cells are theirs alone), so the values never go to memory: writing them
// whole and reading them back twice was a fifth of the time of making a moe.gemm case's operands.
// Per tensor they are held whole until the amax of every row is known.
template <class Cell, class Make, class Finite, class Other>
void quantize_cast(int64_t rows, int64_t k, int64_t run, int64_t band, Format f, bool pow2, size_t cells, Cell cell,
                   Make make, Finite finite, Other other, std::vector<uint8_t>& codes, std::vector<float>& scales) {
  codes.resize(size_t(rows * k));
  scales.assign(cells, scale_of(0.0f, f, pow2));  // what a cell without values gets (K = 0)
  if (k <= 0 || rows <= 0) return;
  // fn(a, e, c): each run of row r, as offsets [a, e) into x holding rows from r0 on, with its cell.
  // Each cell found once per run, not per element: its index divides, and the divisions were half
  // of generating a GEMM's operands (the ci tier's 1 x 7168 x 18432 case: 132 M elements of B).
  const auto for_runs = [&](int64_t r0, int64_t r, auto&& fn) {
    for (int64_t i0 = 0, b = 0; i0 < k; i0 += run, ++b) fn((r - r0) * k + i0, (r - r0) * k + std::min(k, i0 + run), size_t(cell(r, b)));
  };
  // The amax of the cells rows [r0, r1) touch, from cell lo on.
  const auto amax_of = [&](const float* x, int64_t r0, int64_t r1, size_t lo) {
    std::vector<float> m(size_t(cell(r1 - 1, (k - 1) / run)) - lo + 1, 0.0f);
    for (int64_t r = r0; r < r1; ++r)
      for_runs(r0, r, [&](int64_t a, int64_t e, size_t c) {
        // On the bits of |x|, which order finite magnitudes as their values do: an integer max,
        // which vectorizes (a float compare kept the loop scalar; Inf and NaN count as 0).
        auto top = std::bit_cast<int32_t>(m[c - lo]);
        for (int64_t at = a; at < e; ++at) {
          const int32_t v = std::bit_cast<int32_t>(x[at]) & 0x7FFFFFFF;
          top = std::max(top, v < 0x7F800000 ? v : 0);
        }
        m[c - lo] = std::bit_cast<float>(top);
      });
    return m;
  };
  const auto codes_of = [&](const float* x, int64_t r0, int64_t r1) {
    uint8_t* out = codes.data() + r0 * k;
    for (int64_t r = r0; r < r1; ++r)
      for_runs(r0, r, [&](int64_t a, int64_t e, size_t c) {
        // The casts and the scale as locals: read through references, any byte stored might have
        // changed them, and the loads kept the loop from vectorizing.
        const Finite to_finite = finite;
        const Other to_other = other;
        const float scale = scales[c];
        for (int64_t at = a; at < e; ++at) {
          const float v = x[at], q = v / scale;
          out[at] = uint8_t(std::isfinite(v) ? to_finite(q) : to_other(q));
        }
      });
  };
  // Workers take whole bands, about 2^16 values or more at a time, fn(r0, r1, its buffer).
  const int64_t unit = band > 0 ? band * std::max<int64_t>(1, (int64_t(1) << 16) / (band * k)) : std::max<int64_t>(1, (int64_t(1) << 16) / k);
  const auto units = [&](auto&& fn) {
    parallel_for_large((rows + unit - 1) / unit, 2, [&](int64_t u0, int64_t u1) {
      std::vector<float> buffer;
      for (int64_t u = u0; u < u1; ++u) fn(u * unit, std::min(rows, (u + 1) * unit), buffer);
    });
  };
  if (band > 0) {
    units([&](int64_t r0, int64_t r1, std::vector<float>& x) {
      x.resize(size_t((r1 - r0) * k));
      make(r0, r1, x.data());
      const auto lo = size_t(cell(r0, 0));
      const std::vector<float> m = amax_of(x.data(), r0, r1, lo);
      for (size_t c = 0; c < m.size(); ++c) scales[lo + c] = scale_of(m[c], f, pow2);
      codes_of(x.data(), r0, r1);
    });
    return;
  }
  std::vector<float> x(size_t(rows * k)), amax(cells, 0.0f);
  std::mutex merging;
  units([&](int64_t r0, int64_t r1, std::vector<float>&) {
    make(r0, r1, x.data() + r0 * k);
    const std::vector<float> m = amax_of(x.data() + r0 * k, r0, r1, 0);
    const std::lock_guard<std::mutex> hold(merging);
    for (size_t c = 0; c < m.size(); ++c) amax[c] = std::max(amax[c], m[c]);
  });
  for (size_t c = 0; c < cells; ++c) scales[c] = scale_of(amax[c], f, pow2);
  units([&](int64_t r0, int64_t r1, std::vector<float>&) { codes_of(x.data() + r0 * k, r0, r1); });
}

// The same with the format's casts: the integer RNE path where the format has one (every fp8
// format: bit for bit encode's, and encode's dispatch was a third of making a large GEMM's
// operands), encode elsewhere.
template <class Cell, class Make>
void quantize(int64_t rows, int64_t k, int64_t run, int64_t band, Format f, bool pow2, size_t cells, Cell cell,
              Make make, std::vector<uint8_t>& codes, std::vector<float>& scales) {
  dispatch(f, [&](auto format) {
    constexpr Format F = decltype(format)::value;
    if constexpr (has_fast_rne<F>()) {
      quantize_cast(rows, k, run, band, f, pow2, cells, cell, make, FastRneCast<F>(Overflow::satfinite),
                    FastRneCast<F>(Overflow::nosat), codes, scales);
    } else {
      const Conversion finite{F, Overflow::satfinite, Rounding::rne}, other{F, Overflow::nosat, Rounding::rne};
      quantize_cast(rows, k, run, band, f, pow2, cells, cell, make, [&](float q) { return encode(q, finite); },
                    [&](float q) { return encode(q, other); }, codes, scales);
    }
  });
}

// Rows [r0, r1) of A's values (B's where `b`) into x, shaped by the input's structure.
// cancel: the second half of K repeats A's first half and negates B's, so every term of the
// first half meets its negation (the halves quantize alike when K / 2 is a multiple of the block).
// zero-blocks: A's block kb of row m is zero where (m + kb) % 3 == 0; B's where (n / 128 + kb) is odd.
struct OperandValues {
  const Input& input;
  Rng stream;
  bool b;
  int64_t k, kblock;

  void operator()(int64_t r0, int64_t r1, float* x) const {
    fill_here(std::span(x, size_t((r1 - r0) * k)), input.dist, stream, uint64_t(r0 * k));
    if (input.structure == Structure::cancel)
      for (int64_t r = 0, h = k / 2; r < r1 - r0; ++r)
        for (int64_t i = h; i < 2 * h; ++i) x[r * k + i] = b ? -x[r * k + i - h] : x[r * k + i - h];
    if (input.structure == Structure::zero_blocks)
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t i = 0; i < k; ++i)
          if (b ? (r / 128 + i / kblock) % 2 == 1 : (r + i / kblock) % 3 == 0) x[(r - r0) * k + i] = 0;
  }
};

// scale-edges: scales at the edges of their encoding, the codes left as quantized (a decoder that
// gets an edge wrong changes those outputs). A: every K-block of row 0 the smallest scale (so row
// 0 of D is made of tiny terms alone), row 1's first K-block the largest, row 2's NaN; B: every
// K-block of its first scale row the smallest. ue8m0: 0x00 (2^-127), 0xFE (2^127), 0xFF; fp32:
// subnormals (2^-140 for A, 3e-39 for B, no power of two), 2^127 and NaN.
void scale_edges(std::vector<float>& s, Which which, const Geometry& g, bool pow2) {
  const auto set = [&](const quant::ScaleShape& sh, int64_t row, int64_t blocks, float v) {
    if (row < sh.m)
      for (int64_t kb = 0; kb < std::min(blocks, sh.g); ++kb) s[size_t(row * sh.g + kb)] = v;
  };
  if (which == Which::b) return set(g.sb, 0, g.sb.g, pow2 ? std::ldexp(1.0f, -127) : 3e-39f);
  set(g.sa, 0, g.sa.g, pow2 ? std::ldexp(1.0f, -127) : std::ldexp(1.0f, -140));
  set(g.sa, 1, 1, std::ldexp(1.0f, 127));
  set(g.sa, 2, 1, std::numeric_limits<float>::quiet_NaN());
}

}  // namespace

Quantized quantized_operand(const Spec& s, const Input& input, const Rng& rng, Which which) {
  const Geometry g = geometry(s);
  const int64_t run = g.epilogue_scales() ? std::max<int64_t>(s.k, 1) : g.kblock;  // K's elements a cell
  const int64_t kblock = input.structure == Structure::zero_blocks ? harness_kblock(g) : 0;
  const bool b = which == Which::b;
  const quant::ScaleShape& shape = b ? g.sb : g.sa;
  Quantized out;
  quantize(b ? s.n : s.m, s.k, run, b ? g.b_rows : g.a_rows, b ? s.b_format : s.a_format, s.pow2_scales(),
           size_t(shape.m * shape.g), [&](int64_t r, int64_t kb) { return b ? g.sb_index(r, kb) : g.sa_index(r, kb); },
           OperandValues{input, rng.stream(b ? 2 : 1), b, s.k, kblock}, out.codes, out.scales);
  if (input.structure == Structure::scale_edges) scale_edges(out.scales, which, g, s.pow2_scales());
  return out;
}

Operands quantized_operands(const Spec& s, const Input& input, const Rng& rng) {
  Quantized a = quantized_operand(s, input, rng, Which::a), b = quantized_operand(s, input, rng, Which::b);
  return {std::move(a.codes), std::move(b.codes), std::move(a.scales), std::move(b.scales)};
}

}  // namespace ulpgate::gemm
