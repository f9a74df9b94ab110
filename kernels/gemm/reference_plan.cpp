#include "kernels/gemm/reference_plan.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "reference/gemm/detail.hpp"
#include "reference/gemm/step.hpp"  // is_fmaf

namespace ulpgate::gemm_kernels {

static_assert(kCompareBins == kUlpBins, "the API's histogram is the kernel's");

namespace {

using gemm::Geometry;

int64_t ceil_div(int64_t x, int64_t d) { return (x + d - 1) / d; }

// Each part's exact values (detail::split_operand's units times the unit), part-major.
std::vector<double> part_table(const gemm::detail::SplitOperand& s) {
  std::vector<double> t;
  for (const auto& part : s.value)
    for (double units : part) t.push_back(units * gemm::detail::pow2(s.unit_exp));
  return t;
}

StepTable step_table(Format f, int exp_bias) {
  const gemm::detail::CodeTable& t = gemm::detail::code_table(f);
  StepTable s{};
  for (int c = 0; c < 256; ++c) {
    const bool nonzero = t.finite[c] && t.value[c] != 0;  // NaN/Inf outputs are the host's
    s.value[c] = t.finite[c] ? float(t.value[c]) : 0.0f;
    s.exp[c] = nonzero ? int16_t(t.exponent[c] + exp_bias) : kZeroExp;
  }
  return s;
}

[[noreturn]] void unsupported(const gemm::AccumModel& model, const std::string& why) {
  throw ReferenceGpuError("replay_gpu: accumulator model '" + std::string(model.name) + "' " + why);
}

// What the Replay kernel's arithmetic proves itself for (replay_kernels.hpp mma_step), or the
// fp32-fma model's step (IEEE fmaf: fma_step).
void check_step(const gemm::AccumModel& model) {
  const gemm::MmaStep& s = model.step;
  if (model.split != 1 || model.part_k) unsupported(model, "splits K");
  if (gemm::detail::is_fmaf(s)) return;
  if (s.k != kStepK || s.groups != 1 || s.align != gemm::Align::toward_zero || s.sum_rounding != Rounding::rz ||
      s.join != gemm::Join::fused || s.exponents != gemm::Exponents::fp8 || s.k_run)
    unsupported(model, "is not an sm90-style step (k = 32, one group, truncating alignment and sum, c fused, fp8 "
                       "exponents) or fp32 fmaf");
  if (s.frac_bits < 0 || s.frac_bits > 15 || s.sum_bits < 1 || s.sum_bits > 24)
    unsupported(model, "keeps more bits than the step's integer sum holds (frac_bits <= 15, sum_bits <= 24)");
  if (s.e_floor != gemm::kNoFloor && s.e_floor < -149) unsupported(model, "has an exponent floor below fp32's");
  if (model.promote_k % kStepK) unsupported(model, "promotes at a K that is not a multiple of 32");
}

// code -> its three signed 7-bit digits of v / q (q the smallest nonzero |v|), or empty where some
// finite value is not such an integer below 2^21 (NaN and Inf codes get 0: the host's).
std::vector<uint32_t> digits_of(Format f, double& q) {
  const gemm::detail::CodeTable& t = gemm::detail::code_table(f);
  q = 0;
  for (int c = 0; c < 256; ++c)
    if (t.finite[c] && t.value[c] != 0 && (q == 0 || std::fabs(t.value[c]) < q)) q = std::fabs(t.value[c]);
  std::vector<uint32_t> d(256);
  for (int c = 0; c < 256; ++c) {
    const double v = t.finite[c] ? t.value[c] / q : 0;
    const double mag = std::fabs(v);
    if (mag >= 0x1p21 || mag != std::floor(mag)) return {};
    const auto u = uint32_t(mag);
    for (int p = 0; p < 3; ++p) {
      const int digit = int(u >> 7 * p & 127u);
      d[size_t(c)] |= uint32_t(uint8_t(int8_t(v < 0 ? -digit : digit))) << 8 * p;
    }
  }
  return d;
}

TensorCoreDigits tensor_core_digits(const gemm::Spec& spec, const IdealPlan& p) {
  const Geometry g = geometry(spec);
  if (p.pairs() != 1 || (!g.epilogue_scales() && g.kblock % kTensorFoldK)) return {};
  TensorCoreDigits t;
  t.a = digits_of(spec.a_format, t.quantum_a), t.b = digits_of(spec.b_format, t.quantum_b);
  if (t.a.empty() || t.b.empty()) return {};
  t.folds_per_scale = g.epilogue_scales() ? INT64_MAX : g.kblock / kTensorFoldK;
  t.integer_sum = g.epilogue_scales() && ceil_div(spec.k, kTensorFoldK) < (int64_t(1) << 13);
  return t;
}

}  // namespace

ScaleIndex scale_index(const gemm::Spec& spec) {
  const Geometry g = geometry(spec);
  return {g.a_rows, g.b_rows, g.kblocks};
}

std::vector<uint8_t> nonfinite_codes(Format f) {
  const gemm::detail::CodeTable& t = gemm::detail::code_table(f);
  std::vector<uint8_t> v(256);
  for (int c = 0; c < 256; ++c) v[size_t(c)] = !t.finite[c];
  return v;
}

IdealPlan plan_ideal(const gemm::Spec& spec, std::size_t scratch_bytes) {
  const Geometry g = geometry(spec);
  const auto a = gemm::detail::split_operand(spec.a_format), b = gemm::detail::split_operand(spec.b_format);
  IdealPlan p;
  p.parts_a = int(a.parts.size()), p.parts_b = int(b.parts.size());
  p.table_a = part_table(a), p.table_b = part_table(b);
  p.nonfinite_a = nonfinite_codes(spec.a_format), p.nonfinite_b = nonfinite_codes(spec.b_format);
  const int64_t longest = gemm::detail::exact_sum_length(a, b);
  if (g.epilogue_scales()) {
    p.chunks = ceil_div(spec.k, longest);
    p.chunk_k = p.chunks ? ceil_div(spec.k, p.chunks) : 0;
    p.chunks_per_block = std::max<int64_t>(p.chunks, 1);
  } else {
    if (g.kblock > longest) throw std::logic_error("ideal_gpu: a scale block longer than an exact fp64 sum");
    p.chunk_k = g.kblock, p.chunks = g.kblocks, p.chunks_per_block = 1;
  }
  p.kpad = p.chunks * p.chunk_k;
  const auto per_row = std::size_t(p.pairs() * p.chunks * spec.n) * sizeof(double);
  const int64_t rows = std::max<int64_t>(spec.m, 1);
  // A slab's rows are the fold's grid y (at most 65535).
  p.slab_rows = std::min<int64_t>(per_row ? std::clamp<int64_t>(int64_t(scratch_bytes / per_row), 1, rows) : rows, 65535);
  p.scale = scale_index(spec);
  p.tensor_cores = tensor_core_digits(spec, p);
  return p;
}

ReplayPlan plan_replay(const gemm::Spec& spec, const gemm::AccumModel& model) {
  check_step(model);
  if (model.scales_in_mma && spec.pow2_scales()) unsupported(model, "applies the scales inside the MMA");
  const Geometry g = geometry(spec);
  const bool blocks = !g.epilogue_scales();
  if (blocks && (g.kblock % kStepK || (model.promote_k && model.promote_k < g.kblock)))
    unsupported(model, "promotes inside a scale block");
  const int c_bias = 150 - model.step.frac_bits;
  ReplayPlan p{step_table(spec.a_format, c_bias), step_table(spec.b_format, 0), nonfinite_codes(spec.a_format),
               nonfinite_codes(spec.b_format), {}};
  ReplayParams& r = p.params;
  r.m = spec.m, r.n = spec.n, r.k = spec.k;
  r.scale = scale_index(spec);
  r.rule = blocks ? spec.profile->block : spec.op == gemm::Op::tensor ? spec.profile->tensor : spec.profile->rowwise;
  r.block_scaled = blocks;
  r.steps_per_block = blocks ? int(g.kblock / kStepK) : INT_MAX;
  r.steps_per_chain = blocks ? r.steps_per_block : model.promote_k ? model.promote_k / kStepK : INT_MAX;
  r.c_bias = c_bias;
  r.e_low = std::max(model.step.e_floor, kLowestE) + c_bias;
  r.sum_mask = ~((1u << (24 - model.step.sum_bits)) - 1);
  r.sum_quantum = std::ldexp(1.0, 1 - model.step.sum_bits);
  p.fma = gemm::detail::is_fmaf(model.step);
  return p;
}

std::string replay_declines(const gemm::Spec& spec, const gemm::AccumModel& model) {
  try {
    plan_replay(spec, model);
    return "";
  } catch (const ReferenceGpuError& e) {
    return e.what();
  }
}

std::vector<int64_t> touched_elements(std::span<const uint8_t> flags_a, std::span<const uint8_t> flags_b) {
  const auto n = int64_t(flags_b.size());
  std::vector<int64_t> cols, out;
  for (int64_t j = 0; j < n; ++j)
    if (flags_b[size_t(j)]) cols.push_back(j);
  for (int64_t i = 0; i < int64_t(flags_a.size()); ++i)
    if (flags_a[size_t(i)])
      for (int64_t j = 0; j < n; ++j) out.push_back(i * n + j);
    else
      for (int64_t j : cols) out.push_back(i * n + j);
  return out;
}

namespace {

// N of the one-element problem: row n of B repeated, so that a weight layout tiling N by 16
// (bpreshuffle) takes it.
constexpr int64_t kElementCols = 16;

struct ElementProblem {
  gemm::Spec spec;
  gemm::Operands in;
};

// Output (m, n) as a problem of its own: its value depends on row m of A, row n of B and their
// scales only, which keep their scale blocks.
ElementProblem element_problem(const gemm::Spec& spec, const gemm::Operands& in, int64_t m, int64_t n) {
  ElementProblem e{spec, {}};
  e.spec.m = 1, e.spec.n = kElementCols;
  const Geometry g = geometry(spec), h = geometry(e.spec);
  const auto k = size_t(spec.k);
  e.in.a.assign(in.a.begin() + std::ptrdiff_t(size_t(m) * k), in.a.begin() + std::ptrdiff_t(size_t(m + 1) * k));
  for (int64_t j = 0; j < kElementCols; ++j)
    e.in.b.insert(e.in.b.end(), in.b.begin() + std::ptrdiff_t(size_t(n) * k), in.b.begin() + std::ptrdiff_t(size_t(n + 1) * k));
  e.in.sa.resize(size_t(h.sa.m * h.sa.g));
  e.in.sb.resize(size_t(h.sb.m * h.sb.g));
  for (int64_t kb = 0; kb < h.kblocks; ++kb) {
    e.in.sa[size_t(h.sa_index(0, kb))] = in.sa[size_t(g.sa_index(m, kb))];
    for (int64_t j = 0; j < kElementCols; ++j) e.in.sb[size_t(h.sb_index(j, kb))] = in.sb[size_t(g.sb_index(n, kb))];
  }
  return e;
}

template <class Fn>
void for_elements(const gemm::Spec& spec, const gemm::Operands& in, std::span<const int64_t> at, Fn fn) {
  gemm::detail::parallel_for(int64_t(at.size()), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const ElementProblem e = element_problem(spec, in, at[size_t(i)] / spec.n, at[size_t(i)] % spec.n);
      fn(size_t(i), e.spec, e.in);
    }
  });
}

}  // namespace

void resolve_ideal(const gemm::Spec& spec, const gemm::Operands& in, std::span<const int64_t> at,
                   std::span<uint32_t> bits, std::span<double> exact) {
  for_elements(spec, in, at, [&](size_t i, const gemm::Spec& s, const gemm::Operands& x) {
    const gemm::Ideal r = gemm_ideal(s, x);
    bits[i] = r.out.bits[0], exact[i] = r.exact[0];
  });
}

void resolve_model(const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in,
                   std::span<const int64_t> at, std::span<uint32_t> bits) {
  for_elements(spec, in, at, [&](size_t i, const gemm::Spec& s, const gemm::Operands& x) {
    bits[i] = gemm_model(s, model, x).bits[0];
  });
}

std::vector<Run> runs_of(std::span<const int64_t> sorted) {
  std::vector<Run> runs;
  for (int64_t i : sorted)
    if (!runs.empty() && runs.back().first + runs.back().count == i)
      ++runs.back().count;
    else
      runs.push_back({i, 1});
  return runs;
}

std::vector<uint8_t> stored(const gemm::Output& d) {
  const std::size_t width = d.format == Format::bf16 ? 2 : 4;
  std::vector<uint8_t> bytes(d.bits.size() * width);
  for (std::size_t i = 0; i < d.bits.size(); ++i) std::memcpy(bytes.data() + i * width, &d.bits[i], width);  // little-endian
  return bytes;
}

GpuComparison reduce_tiles(std::span<const TileStats> tiles, int64_t m, int64_t n) {
  GpuComparison r;
  r.tiles_m = ceil_div(m, kTile), r.tiles_n = ceil_div(n, kTile);
  r.tile_over.reserve(tiles.size()), r.tile_max_ulp.reserve(tiles.size());
  for (int64_t tm = 0; tm < r.tiles_m; ++tm) {
    // Each tile lists its first over-budget elements in its own row-major order, which is the
    // global order restricted to the tile: the first kFirstBad overall are among the lists, and
    // among those of the first tile rows that list kFirstBad (later rows come after them all).
    const bool listing = r.first_bad.size() < size_t(kFirstBad);
    for (int64_t tn = 0; tn < r.tiles_n; ++tn) {
      const TileStats& t = tiles[size_t(tm * r.tiles_n + tn)];
      r.exact += t.exact, r.within += t.within, r.over += t.over;
      for (int b = 0; b < kUlpBins; ++b) r.ulp_histogram[size_t(b)] += t.hist[b];
      r.max_ulp_error = std::max(r.max_ulp_error, t.max_ulp_error);
      r.tile_over.push_back(int32_t(t.over));
      r.tile_max_ulp.push_back(float(t.max_ulp_error));
      for (uint32_t i = 0; listing && i < t.listed; ++i)
        r.first_bad.push_back({tm * kTile + t.first_bad[i] / kTile, tn * kTile + t.first_bad[i] % kTile});
    }
  }
  std::sort(r.first_bad.begin(), r.first_bad.end(),
            [](const BadElement& x, const BadElement& y) { return x.m != y.m ? x.m < y.m : x.n < y.n; });
  if (r.first_bad.size() > size_t(kFirstBad)) r.first_bad.resize(size_t(kFirstBad));
  return r;
}

}  // namespace ulpgate::gemm_kernels
