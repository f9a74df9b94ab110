#include "kernels/norm/norm_plan.hpp"

#include <algorithm>

#include "kernels/portable/arch.hpp"
#include "kernels/quant/quant_plan.hpp"

namespace ulpgate::norm_kernels {
namespace {

constexpr int kChunk = 8;  // elements per 16-byte chunk of bf16/fp16

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t element_bytes(Format dtype) {
  if (dtype != Format::bf16 && dtype != Format::fp16)
    throw NormError("dtype " + std::string(format_name(dtype)) + " is not supported (bf16, fp16)");
  return 2;
}

void check_spec(const norm::Spec& spec) {
  if (!spec.profile) throw NormError("no norm profile");
  element_bytes(spec.dtype);
  if (const std::string why = spec.problem(); !why.empty()) throw NormError(why);
  if (spec.m < 0 || spec.h <= 0)
    throw NormError("shape " + std::to_string(spec.m) + "x" + std::to_string(spec.h) + " is empty");
  if (spec.h > max_hidden_size(spec.dtype))
    throw NormError("H = " + std::to_string(spec.h) + " exceeds the kernels' largest row, " +
                    std::to_string(max_hidden_size(spec.dtype)) + " elements");
  if (spec.quantizes() && !spec.profile->quantizes())
    throw NormError("norm profile " + std::string(spec.profile->name) + " does not quantize");
}

void check_size(const char* what, std::size_t got, std::size_t want) {
  if (got != want)
    throw NormError(std::string(what) + " buffer has " + std::to_string(got) + " bytes, the case needs " +
                    std::to_string(want));
}

NormMath make_math(const norm::Spec& s) {
  const norm::Profile& p = *s.profile;
  return {p.eps_added, p.mean == norm::MeanOp::reciprocal, p.rounding == norm::Rounding::twice, s.rounds_residual(),
          p.quantize_rounded};
}

// Lanes sharing a quant group's run of chunks (0: not grouped): kMaxSlots chunks each, an
// aligned power-of-two group of a warp.
int group_lanes(const norm::Spec& spec, int warp) {
  if (!spec.quantizes() || spec.gs == 0) return 0;
  const int run = kChunk * kMaxSlots, lanes = spec.gs / run;
  if (spec.gs % run != 0 || lanes > warp || (lanes & (lanes - 1)) != 0)
    throw NormError("group size " + std::to_string(spec.gs) + " is not supported (" + std::to_string(run) + " to " +
                    std::to_string(run * warp) + " elements, a power of two)");
  return lanes;
}

// Enough threads that none holds more than kMaxSlots chunks. Up to a warp: a power of two,
// several rows per block. Wider: whole warps, one row per block. `lanes` (a quant group's, a
// power of two up to a warp) divides either.
int log2_of(int pow2) {
  int bits = 0;
  while ((1 << bits) < pow2) ++bits;
  return bits;
}

RowGeometry choose_geometry(int64_t h, int warp, int lanes) {
  const int64_t need = std::max<int64_t>({ceil_div(ceil_div(h, kChunk), kMaxSlots), lanes, 1});
  RowGeometry g{};
  if (need <= warp) {
    g.row_threads = 1;
    while (g.row_threads < need) g.row_threads *= 2;
    g.rows_per_block = int(kSmallRowBlock) / g.row_threads;
  } else {
    g.row_threads = int(ceil_div(need, warp) * warp);
    g.rows_per_block = 1;
  }
  g.grouped = lanes > 0;
  g.lanes = g.grouped ? lanes : g.row_threads;  // a run is a quant group, or the whole row
  g.row_bits = g.rows_per_block > 1 ? log2_of(g.row_threads) : 0;
  g.lane_bits = g.grouped ? log2_of(g.lanes) : 0;
  return g;
}

// How far ahead of its own row a block asks L2 for input (RmsNorm::prefetch_row): about this many
// bytes of rows. On the H200, 3.7-4.6 MB of rows ahead gave the fastest rms-quant and rms at
// H = 7168 (+5.5 and +1.9 points of copy); 7 MB and more made them slower than no prefetch, the
// rows evicted from L2 before their blocks read them. rms-add reads two rows and writes one, and
// its prefetch measured between -1 and +3 points: none (kernels/norm/PERF.md).
constexpr int64_t kPrefetchBytes = int64_t(4) << 20;

int64_t prefetch_rows(const norm::Spec& spec) {
  if (spec.has_residual()) return 0;
  return std::max<int64_t>(1, kPrefetchBytes / (spec.h * element_bytes(spec.dtype)));
}

unsigned blocks_for(int64_t units) { return unsigned(std::clamp<int64_t>(units, 1, kMaxBlocks)); }

}  // namespace

int64_t max_hidden_size(Format dtype) { return int64_t(kMaxRowThreads) * kMaxSlots * (16 / element_bytes(dtype)); }

NormSizes NormSizes::of(const norm::Buffers& io) {
  return {io.x.size(), io.residual.size(), io.weight.size(), io.y.size(), io.residual_out.size(),
          io.codes.size(), io.scales.size()};
}

NormPointers NormPointers::of(const norm::Buffers& io) {
  return {io.x.data(), io.residual.data(), io.weight.data(), io.y.data(), io.residual_out.data(),
          io.codes.data(), io.scales.data()};
}

NormSizes required_sizes(const norm::Spec& spec) {
  check_spec(spec);
  const std::size_t row = std::size_t(spec.h * element_bytes(spec.dtype)), all = row * std::size_t(spec.m);
  NormSizes s;
  s.x = all;
  s.weight = spec.fp32_weight ? std::size_t(spec.h) * 4 : row;
  if (spec.has_residual()) s.residual = s.residual_out = all;
  if (!spec.quantizes()) {
    s.y = all;
    return s;
  }
  const quant::Profile qp = spec.quant_row();
  const quant::Spec qs = spec.quant_spec(qp);
  s.codes = std::size_t(spec.m * spec.h);
  s.scales = std::size_t(qs.scale_bytes());
  return s;
}

NormPlan plan_norm(const norm::Spec& spec, const Arch& arch, const NormSizes& sizes) {
  const NormSizes want = required_sizes(spec);
  check_size("x", sizes.x, want.x);
  check_size("weight", sizes.weight, want.weight);
  if (spec.has_residual()) {
    check_size("residual", sizes.residual, want.residual);
    check_size("residual_out", sizes.residual_out, want.residual_out);
  }
  if (!spec.quantizes()) check_size("y", sizes.y, want.y);

  NormPlan p{};
  p.op = spec.op;
  p.dtype = spec.dtype;
  p.m = spec.m;
  p.h = spec.h;
  p.math = make_math(spec);
  p.geo = choose_geometry(spec.h, arch.warp_size, group_lanes(spec, arch.warp_size));
  p.geo.ahead = prefetch_rows(spec);
  const unsigned block = unsigned(p.geo.row_threads * p.geo.rows_per_block);
  p.main = LaunchConfig{{blocks_for(ceil_div(spec.m, p.geo.rows_per_block))}, {block}, 0};
  if (spec.quantizes()) {
    // The quantization kernels' own plan of the same quant spec: its checks (format, layout,
    // codes and scale sizes), its arithmetic and its scale storage, padding included.
    const quant::Profile qp = spec.quant_row();
    try {
      const quant_kernels::QuantPlan q =
          quant_kernels::plan_quant(spec.quant_spec(qp), spec.dtype, arch, want.x, sizes.codes, sizes.scales);
      p.quant = q.math;
      p.path = quant_kernels::choose_path(q.math, arch);  // the row is in registers whatever the layout
      p.scales = q.scales;
      p.steps = quant_kernels::ScaleSteps::of(q.scales);
      p.has_padding = q.has_padding;
      p.padding = q.padding;
    } catch (const quant_kernels::QuantError& e) {
      throw NormError(e.what());
    }
  }
  return p;
}

}  // namespace ulpgate::norm_kernels
