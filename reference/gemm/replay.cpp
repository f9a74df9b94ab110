// The model replay (gemm.hpp gemm_model / error_bound): segments, chains and steps of model.hpp,
// then the profile's ScaleRule, every fp32 operation carrying a bound on its distance to the exact
// value it stands for.
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "reference/gemm/detail.hpp"
#include "reference/gemm/gemm.hpp"
#include "reference/gemm/layout.hpp"  // Which
#include "reference/gemm/step.hpp"

namespace ulpgate::gemm {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A computed fp32 value and a bound on its distance to the exact value it stands for.
struct Bounded {
  float v = 0;
  double err = 0;
};

double half_ulp(float r) {  // the most an RN operation that returned r can have moved
  if (!std::isfinite(r)) return kInf;
  const int e = r == 0 ? -126 : std::max(detail::exponent_of(r), -126);
  return detail::pow2(e - 24);
}
Bounded times(Bounded x, Bounded y) {
  const float v = x.v * y.v;
  return {v, std::fabs(x.v) * y.err + std::fabs(y.v) * x.err + x.err * y.err + half_ulp(v)};
}
Bounded fused(Bounded x, Bounded y, Bounded z) {
  const float v = std::fma(x.v, y.v, z.v);
  return {v, std::fabs(x.v) * y.err + std::fabs(y.v) * x.err + x.err * y.err + z.err + half_ulp(v)};
}
Bounded plus(Bounded x, Bounded y) {
  const float v = x.v + y.v;
  return {v, x.err + y.err + half_ulp(v)};
}

// gemm.hpp ScaleRule: G with its scales, into `main` by an FMA or, without one, a multiply.
Bounded scaled(ScaleRule rule, Bounded g, float sa, float sb, const Bounded* main) {
  Bounded x = g, y{sb};
  switch (rule) {
    case ScaleRule::product_first: y = times({sa}, {sb}); break;
    case ScaleRule::a_first: x = times(g, {sa}); break;
    case ScaleRule::b_first: x = times(g, {sb}), y = {sa}; break;
  }
  return main ? fused(x, y, *main) : times(x, y);
}

// The two operand rows of one output, decoded (step.hpp).
struct RowPair {
  const double *av, *bv;
  const int16_t *ae, *be;
};

// The exponent of a power-of-two scale applied inside the MMA (0 otherwise, and for a NaN or Inf
// scale, whose outputs take the IEEE path).
int scale_exp(bool in_mma, const std::vector<float>& scales, int64_t at) {
  const float s = in_mma ? scales[size_t(at)] : 1.0f;
  return std::isfinite(s) ? detail::exponent_of(s) : 0;
}
bool scales_in_mma(const Spec& spec, const AccumModel& model) { return model.scales_in_mma && spec.pow2_scales(); }

// Rows [r0, r1) of A or B decoded as `model` reads them (step.hpp).
void decode(detail::DecodedRows& out, const Spec& spec, const AccumModel& model, const Operands& in, Which which,
            int64_t r0, int64_t r1) {
  const Geometry g = geometry(spec);
  const bool a = which == Which::a;
  const detail::CodeTable& table = detail::code_table(a ? spec.a_format : spec.b_format);
  const uint8_t* codes = (a ? in.a : in.b).data();
  if (!scales_in_mma(spec, model))
    return detail::decode_rows(out, table, codes, r0, r1, spec.k, [](int64_t, int64_t) { return 0; }, model.step.exponents);
  const auto kblock = [&](int64_t k) { return g.epilogue_scales() ? 0 : k / g.kblock; };
  detail::decode_rows(
      out, table, codes, r0, r1, spec.k,
      [&](int64_t r, int64_t k) { return scale_exp(true, a ? in.sa : in.sb, a ? g.sa_index(r, kblock(k)) : g.sb_index(r, kblock(k))); },
      model.step.exponents);
}

// One model over checked operands: A decoded as it reads them, the non-finite outputs, and all of
// B decoded (batches of models) or none (then B is decoded tile by tile).
class Replayer {
 public:
  Replayer(const Spec& spec, const AccumModel& model, const Operands& in, const detail::NonFinite& nonfinite,
           const detail::DecodedRows& a, const detail::DecodedRows* b)
      : spec_(spec), model_(model), in_(in), g_(geometry(spec)), nonfinite_(nonfinite),
        in_mma_(scales_in_mma(spec, model)), a_(a), b_all_(b) {
    if (!detail::valid(model.step) || model.promote_k % model.step.k != 0)
      throw UsageError("accumulator model '" + std::string(model.name) + "': bad step or promotion size");
    if (model.split < 1 || model.part_k < 0)
      throw UsageError("accumulator model '" + std::string(model.name) + "': split below 1 or a negative part length");
  }

  template <bool kBound>
  Replay run() const {
    const size_t size = size_t(spec_.m * spec_.n);
    Replay r{{spec_.out, std::vector<uint32_t>(size)}, std::vector<double>(kBound ? size : 0)};
    constexpr int64_t kTileN = 16;  // rows of B kept in cache while every row of A passes
    const int64_t tiles = (spec_.n + kTileN - 1) / kTileN;
    detail::parallel_for(tiles, [&](int64_t begin, int64_t end) {
      detail::DecodedRows tile;
      for (int64_t n0 = begin * kTileN; n0 < std::min(end * kTileN, spec_.n); n0 += kTileN) {
        const int64_t n1 = std::min(n0 + kTileN, spec_.n);
        if (!b_all_) decode(tile, spec_, model_, in_, Which::b, n0, n1);
        const detail::DecodedRows& b = b_all_ ? *b_all_ : tile;
        const int64_t first = b_all_ ? 0 : n0;  // B's row in b
        for (int64_t m = 0; m < spec_.m; ++m)
          for (int64_t n = n0; n < n1; ++n) {
            const size_t at = size_t(m * spec_.n + n);
            const Bounded d = nonfinite_.touches(m, n)
                                  ? Bounded{float(nonfinite_.ieee_value(m, n)), kInf}
                                  : element<kBound>(m, n, {a_.v(m), b.v(n - first), a_.e(m), b.e(n - first)});
            r.out.bits[at] = detail::round_to(spec_.out, d.v);  // bf16: RN of the fp32 result
            if constexpr (kBound) r.bound[at] = d.err * (1 + 0x1p-30);  // the bound's own roundings
          }
      }
    });
    return r;
  }

 private:
  const Spec& spec_;
  const AccumModel& model_;
  const Operands& in_;
  Geometry g_;
  const detail::NonFinite& nonfinite_;
  bool in_mma_;
  bool fmaf_ = detail::is_fmaf(model_.step) && !in_mma_;  // float operands hold unscaled fp8 values
  const detail::DecodedRows& a_;
  const detail::DecodedRows* b_all_;

  template <bool kBound>
  Bounded element(int64_t m, int64_t n, const RowPair& rows) const {
    const auto sa = [&](int64_t kb) { return in_.sa[size_t(g_.sa_index(m, kb))]; };
    const auto sb = [&](int64_t kb) { return in_.sb[size_t(g_.sb_index(n, kb))]; };
    if (in_mma_) return split<kBound>(spec_.k, [&](int64_t u0, int64_t u1) { return segment<kBound>(rows, u0, u1); });
    if (g_.epilogue_scales()) {
      const ScaleRule rule = spec_.op == Op::tensor ? spec_.profile->tensor : spec_.profile->rowwise;
      const Bounded g = split<kBound>(spec_.k, [&](int64_t k0, int64_t k1) { return segment<kBound>(rows, k0, k1); });
      return scaled(rule, g, sa(0), sb(0), nullptr);
    }
    // gemm.block: split-K cuts the K-blocks; each part's main starts at +0.
    return split<kBound>(g_.kblocks, [&](int64_t b0, int64_t b1) {
      Bounded main;
      for (int64_t kb = b0; kb < b1; ++kb)
        main = scaled(spec_.profile->block, segment<kBound>(rows, g_.block_begin(kb), g_.block_end(kb)), sa(kb),
                      sb(kb), &main);
      return main;
    });
  }

  // Split-K (model.hpp): [0, size) in units of K (or of K-blocks for gemm.block) cut into
  // contiguous parts of whole chains, each part(begin, end), combined in fp32.
  template <bool kBound, class Part>
  Bounded split(int64_t size, Part part) const {
    const bool over_k = g_.epilogue_scales() || in_mma_;
    const int64_t unit = over_k ? chain_k() : 1, units = size == 0 ? 0 : (size + unit - 1) / unit;
    const int64_t per = units_per_part(model_, units, over_k ? unit : g_.kblock);
    if (per == 0 || size == 0) return part(int64_t(0), size);
    std::vector<Bounded> partials;
    for (int64_t u = 0; u < units; u += per) partials.push_back(part(u * unit, std::min((u + per) * unit, size)));
    if (model_.combine == Combine::sequential) {
      Bounded sum = partials[0];
      for (size_t i = 1; i < partials.size(); ++i) sum = plus(sum, partials[i]);
      return sum;
    }
    while (partials.size() > 1) {  // pairwise: neighbours, level by level
      std::vector<Bounded> next;
      for (size_t i = 0; i + 1 < partials.size(); i += 2) next.push_back(plus(partials[i], partials[i + 1]));
      if (partials.size() % 2) next.push_back(partials.back());
      partials = std::move(next);
    }
    return partials[0];
  }
  // The K of one chain: promote_k, or one step where a chain runs over all of K.
  int64_t chain_k() const { return model_.promote_k && !in_mma_ ? model_.promote_k : model_.step.k; }

  // K in [k0, k1): chains from zero every promote_k K, each added into the fp32 sum with RN.
  template <bool kBound>
  Bounded segment(const RowPair& rows, int64_t k0, int64_t k1) const {
    const int64_t every = model_.promote_k && !in_mma_ ? model_.promote_k : std::max<int64_t>(k1 - k0, 1);
    Bounded sum;
    for (int64_t c = k0; c < k1; c += every) {
      const Bounded chain = this->chain<kBound>(rows, c, std::min(c + every, k1));
      sum = c == k0 ? chain : plus(sum, chain);
    }
    return sum;
  }

  template <bool kBound>
  Bounded chain(const RowPair& r, int64_t k0, int64_t k1) const {
    if (fmaf_) {  // the product is exact: each fmaf adds half an ulp of its result to c's bound
      Bounded c;
      for (int64_t k = k0; k < k1; ++k) {
        c.v = std::fma(float(r.av[k]), float(r.bv[k]), c.v);  // exact fp8 values
        if constexpr (kBound) c.err += half_ulp(c.v);
      }
      return c;
    }
    Bounded c;
    detail::for_each_step(model_.step, {r.av + k0, r.bv + k0, r.ae + k0, r.be + k0, int(k1 - k0)},
                          [&](const detail::Products& p) { c.v = detail::run_step(model_.step, p, c.v, kBound ? &c.err : nullptr); });
    return c;
  }
};

template <bool kBound>
Replay replay(const Spec& spec, const AccumModel& model, const Operands& in) {
  check(spec, in);
  const detail::NonFinite nonfinite(spec, in);
  detail::DecodedRows a;
  decode(a, spec, model, in, Which::a, 0, spec.m);
  return Replayer(spec, model, in, nonfinite, a, nullptr).run<kBound>();
}

}  // namespace

Replay gemm_replay(const Spec& spec, const AccumModel& model, const Operands& in) { return replay<true>(spec, model, in); }

Output gemm_model(const Spec& spec, const AccumModel& model, const Operands& in) { return replay<false>(spec, model, in).out; }

std::vector<Output> gemm_models(const Spec& spec, std::span<const AccumModel* const> models, const Operands& in) {
  check(spec, in);
  const detail::NonFinite nonfinite(spec, in);
  std::map<std::pair<Exponents, bool>, std::pair<detail::DecodedRows, detail::DecodedRows>> decoded;  // A, B
  std::vector<Output> out;
  for (const AccumModel* m : models) {
    const auto [at, fresh] = decoded.try_emplace({m->step.exponents, scales_in_mma(spec, *m)});
    auto& [a, b] = at->second;
    if (fresh) decode(a, spec, *m, in, Which::a, 0, spec.m), decode(b, spec, *m, in, Which::b, 0, spec.n);
    out.push_back(Replayer(spec, *m, in, nonfinite, a, &b).run<false>().out);
  }
  return out;
}

std::vector<double> error_bound(const Spec& spec, const AccumModel& model, const Operands& in) {
  return gemm_replay(spec, model, in).bound;
}

}  // namespace ulpgate::gemm
