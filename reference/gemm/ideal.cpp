// The ideal: D exact, rounded once. Block sums are exact fp64 GEMMs (Eigen) of the codes in units
// of their format's quantum; each term sa sb G is an exact integer product; the terms meet in a
// wide fixed-point accumulator; the sum is rounded to double twice (RNE for the exact value, round
// to odd for the output, whose RNE to bf16 or fp32 is then the exact sum's: 53 >= 24 + 2 bits).
#include <Eigen/Core>
#include <array>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "reference/formats/exact_sum.hpp"
#include "reference/gemm/detail.hpp"
#include "reference/gemm/gemm.hpp"

namespace ulpgate::gemm {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using detail::CodeTable;

}  // namespace

namespace detail {

SplitOperand split_operand(Format f) {
  const CodeTable& t = code_table(f);
  SplitOperand o{{}, {}, t.emin - t.mbits};
  double maxint = 0;
  for (int c = 0; c < 256; ++c)
    if (t.finite[c]) maxint = std::max(maxint, std::fabs(t.value[c]) * pow2(-o.unit_exp));
  const int span = exponent_of(maxint) + 1;
  if (span <= 20) {  // e4m3fn, e4m3fnuz: 2^17.8 and 2^17.9
    o.parts = {{0, HUGE_VAL, 1, maxint}};
  } else {  // e5m2 (2^31.8), e5m2fnuz: below and above T, the part above has quantum T / 2^mbits
    const int split = (span + t.mbits + 1) / 2;
    const double tsplit = pow2(split);
    o.parts = {{0, tsplit, 1, tsplit}, {tsplit, HUGE_VAL, pow2(split - t.mbits), maxint}};
  }
  for (size_t p = 0; p < o.parts.size(); ++p) {
    std::array<double, 256> v{};
    for (int c = 0; c < 256; ++c) {
      const double units = t.value[c] * pow2(-o.unit_exp), mag = std::fabs(units);
      const bool last = p + 1 == o.parts.size();
      v[c] = (mag >= o.parts[p].from && mag < o.parts[p].to) || (last && !t.finite[c]) ? units : 0;
    }
    o.value.push_back(v);
  }
  return o;
}

int64_t exact_sum_length(const SplitOperand& a, const SplitOperand& b) {
  double shortest = HUGE_VAL;
  for (const ExactPart& pa : a.parts)
    for (const ExactPart& pb : b.parts)
      shortest = std::min(shortest, std::floor(pow2(53) * pa.quantum * pb.quantum / (pa.max * pb.max)));
  return int64_t(shortest);
}

}  // namespace detail

namespace {

using detail::SplitOperand;

constexpr int64_t kChunk = 128;  // K per exact fp64 block sum (spec/gemm.md: exact for K <= 171,196
                                 // for e4m3; here at most 2^47 for every pair of parts, checked)
constexpr int64_t kTileM = 32, kTileN = 128;

// The K ranges summed exactly, each inside one scale block.
struct Chunk {
  int64_t kb, begin, end;
};
std::vector<Chunk> chunks(const Geometry& g) {
  std::vector<Chunk> out;
  for (int64_t kb = 0; kb < g.kblocks; ++kb)
    for (int64_t k = g.block_begin(kb); k < g.block_end(kb); k += kChunk)
      out.push_back({kb, k, std::min(k + kChunk, g.block_end(kb))});
  return out;
}

class IdealGemm {
 public:
  IdealGemm(const Spec& spec, const Operands& in)
      : spec_(spec), in_(in), g_(geometry(spec)), a_(detail::split_operand(spec.a_format)), b_(detail::split_operand(spec.b_format)),
        chunks_(chunks(g_)), nonfinite_(spec, in) {
    if (kChunk > detail::exact_sum_length(a_, b_))
      throw std::logic_error("gemm ideal: an fp64 block sum would not be exact");
    for (float s : in.sa) sa_.push_back(dyadic(s));
    for (float s : in.sb) sb_.push_back(dyadic(s));
  }

  Ideal run() {
    Ideal r{{spec_.out, std::vector<uint32_t>(size_t(spec_.m * spec_.n))}, std::vector<double>(size_t(spec_.m * spec_.n))};
    const int64_t tiles_m = (spec_.m + kTileM - 1) / kTileM, tiles_n = (spec_.n + kTileN - 1) / kTileN;
    detail::parallel_for(tiles_m * tiles_n, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) tile(r, (t / tiles_n) * kTileM, (t % tiles_n) * kTileN);
    });
    return r;
  }

 private:
  const Spec& spec_;
  const Operands& in_;
  Geometry g_;
  SplitOperand a_, b_;
  std::vector<Chunk> chunks_;
  detail::NonFinite nonfinite_;
  std::vector<Dyadic> sa_, sb_;

  // Rows [r0, r0 + rows) of an operand's codes, part p, in units.
  Matrix decoded(const SplitOperand& o, const std::vector<uint8_t>& codes, size_t p, int64_t r0, int64_t rows) const {
    Matrix x(rows, spec_.k);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < spec_.k; ++k) x(r, k) = o.value[p][codes[size_t((r0 + r) * spec_.k + k)]];
    return x;
  }

  void tile(Ideal& r, int64_t m0, int64_t n0) const {
    const int64_t tm = std::min(kTileM, spec_.m - m0), tn = std::min(kTileN, spec_.n - n0);
    std::vector<Matrix> pa, pb;
    for (size_t p = 0; p < a_.parts.size(); ++p) pa.push_back(decoded(a_, in_.a, p, m0, tm));
    for (size_t p = 0; p < b_.parts.size(); ++p) pb.push_back(decoded(b_, in_.b, p, n0, tn));
    std::vector<Matrix> sums;  // per chunk, per pair of parts: the exact block sums (units)
    for (const Chunk& c : chunks_)
      for (const Matrix& x : pa)
        for (const Matrix& y : pb)
          sums.push_back(x.middleCols(c.begin, c.end - c.begin) * y.middleCols(c.begin, c.end - c.begin).transpose());
    ExactSum acc;
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t j = 0; j < tn; ++j) {
        const int64_t m = m0 + i, n = n0 + j;
        const size_t at = size_t(m * spec_.n + n);
        if (nonfinite_.touches(m, n)) {
          r.exact[at] = nonfinite_.ieee_value(m, n);
          r.out.bits[at] = detail::round_to(spec_.out, r.exact[at]);
          continue;
        }
        accumulate(acc, sums, m, n, i, j);
        const ExactSum::Rounded d = acc.take();
        r.exact[at] = d.nearest;
        r.out.bits[at] = detail::round_to(spec_.out, d.odd);
      }
  }

  // sum over chunks and pairs of parts of sa sb G, each term an exact integer product.
  void accumulate(ExactSum& acc, const std::vector<Matrix>& sums, int64_t m, int64_t n, int64_t i, int64_t j) const {
    const size_t pairs = a_.parts.size() * b_.parts.size();
    const int unit = a_.unit_exp + b_.unit_exp;
    for (size_t c = 0; c < chunks_.size(); ++c) {
      const Dyadic sa = sa_[size_t(g_.sa_index(m, chunks_[c].kb))], sb = sb_[size_t(g_.sb_index(n, chunks_[c].kb))];
      const uint64_t s = sa.mant * sb.mant;  // < 2^48: fp32 scales
      if (s == 0) continue;
      for (size_t p = 0; p < pairs; ++p) {
        const Dyadic gd = dyadic(sums[c * pairs + p](i, j));
        if (gd.mant) acc.add(sa.neg ^ sb.neg ^ gd.neg, u128(s) * gd.mant, sa.exp + sb.exp + gd.exp + unit);
      }
    }
  }
};

}  // namespace

Ideal gemm_ideal(const Spec& spec, const Operands& in) {
  check(spec, in);
  return IdealGemm(spec, in).run();
}

}  // namespace ulpgate::gemm
