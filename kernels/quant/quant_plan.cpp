#include "kernels/quant/quant_plan.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/portable/arch.hpp"

namespace ulpgate::quant_kernels {
namespace {

int64_t input_bytes(Format input) {
  switch (input) {
    case Format::bf16:
    case Format::fp16: return 2;
    case Format::fp32: return 4;
    default:
      throw QuantError("input dtype " + std::string(format_name(input)) + " is not supported (bf16, fp16, fp32)");
  }
}

void check_size(const char* what, std::size_t got, int64_t want) {
  if (int64_t(got) != want)
    throw QuantError(std::string(what) + " buffer has " + std::to_string(got) + " bytes, the case needs " +
                     std::to_string(want));
}

bool is_e4m3(Format f) { return f == Format::e4m3fn || f == Format::e4m3fnuz; }

// The arch's conversion instruction may replace the profile's cast when it is the same
// conversion, or when the profile clamps with fminf/fmaxf first: then only finite values within
// +-max reach the cast, where every overflow policy agrees.
Fp8Cast choose_cast(const quant::Profile& p, Format format, const Arch& arch) {
  const Conversion& native = is_e4m3(format) ? arch.e4m3 : arch.e5m2;
  const bool in_range_only = p.clamp && p.nan == quant::NanPolicy::ignore;
  if (native.format == format && (native.overflow == p.cast || in_range_only)) return {format, p.cast, true};
  // nosat through a satfinite instruction: the two agree below max + ulp/2 (its tie rounds to
  // max or overflows, as the reference says); from there on, and for NaN, the software cast.
  if (native.format == format && native.overflow == Overflow::satfinite && p.cast == Overflow::nosat &&
      format == Format::e4m3fn) {
    const double max = decode(format, info(format).max_mag), below = decode(format, info(format).max_mag - 1);
    const Conversion nosat{format, Overflow::nosat};
    float at = float(max + (max - below) / 2);  // the midpoint: its tie may round down to max
    if (encode(double(at), nosat) == info(format).max_mag) at = std::nextafter(at, INFINITY);
    return {format, p.cast, true, at};
  }
  return {format, p.cast, false};
}

QuantMath make_math(const quant::Spec& s, const Arch& arch) {
  const quant::Profile& p = *s.profile;
  QuantMath m{};
  m.max = s.fp8_max();
  m.amax_floor = p.amax_floor;
  m.scale_floor = p.scale_floor;
  m.scale_op = p.scale_op;
  m.pow2 = s.pow2_scales();
  m.pow2_rule = p.pow2;
  m.exp_clamp = p.exp_clamp;
  m.quant_op = p.quant_op;
  m.clamp = p.clamp;
  m.nan_propagate = p.nan == quant::NanPolicy::propagate;
  m.nan_to_max = p.nan_to_max;
  m.given_scale = s.static_scale;
  m.amax_cap = s.amax_cap;
  m.fp32_scale_floor = p.fp32_scale_floor;
  m.mx = s.mx_scales() ? p.mx : quant::MxRule::none;
  m.mx_emax = s.format == Format::e5m2 ? emax<Format::e5m2>() : emax<Format::e4m3fn>();
  m.cast = choose_cast(p, s.format, arch);
  m.silu_divides = p.silu_divides;
  m.ftz = p.ftz;
  m.approx_division = p.approx_division;
  m.y_store = m.amax_y_store = Format::fp32;  // plan_quant sets the input dtype where the profile stores y
  return m;
}

unsigned blocks_for(int64_t threads, unsigned cap = kMaxBlocks) {
  return unsigned(std::clamp<int64_t>((threads + kBlockThreads - 1) / kBlockThreads, 1, cap));
}

}  // namespace

// The NativeCodes instantiation that computes exactly what the profile asks, if any: the cast
// must be the arch's instruction, the factor a division or a multiplication, and the clamp and
// NaN policy one of the instantiated pairs. A satfinite cast to a format whose max is the clamp's
// does the top of the clamp itself (every finite value above max, and +Inf, becomes max): then
// the NaN-ignoring clamp keeps only its lower side and the finite-only clamp is not needed.
ElementPath choose_path(const QuantMath& m, const Arch& arch) {
  if (!m.cast.native) return ElementPath::profile;  // NativeCodes casts natively only
  const Conversion& native = is_e4m3(m.cast.format) ? arch.e4m3 : arch.e5m2;
  const bool divide = !m.pow2 && m.mx == quant::MxRule::none && m.quant_op == quant::QuantOp::divide;
  if (m.cast.overflow_at > 0)  // a nosat cast through the satfinite instruction
    return m.clamp || m.nan_propagate ? ElementPath::profile
                                      : (divide ? ElementPath::divide_nosat : ElementPath::multiply_nosat);
  const bool cast_clamps = native.overflow == Overflow::satfinite &&
                           double(m.max) == decode(m.cast.format, info(m.cast.format).max_mag);
  if (m.clamp && !m.nan_propagate && m.nan_to_max)
    return divide ? ElementPath::profile : ElementPath::multiply_clamp_max;
  if (!m.clamp && !m.nan_propagate && !divide) return ElementPath::multiply_unclamped;
  if (m.clamp && !m.nan_propagate) {
    if (cast_clamps) return divide ? ElementPath::divide_clamp_low : ElementPath::multiply_clamp_low;
    return divide ? ElementPath::divide_clamp : ElementPath::multiply_clamp;
  }
  if (m.nan_propagate && !divide && (!m.clamp || cast_clamps)) return ElementPath::multiply_propagate;
  return ElementPath::profile;
}

namespace {

constexpr uint32_t path_bit(ElementPath path) { return 1u << unsigned(path); }

// The element paths an op's launcher instantiates (quant_plan.hpp: with_silu_path for
// quant.silu-mul, with_element_path for the others); plan_quant plans any other as profile.
uint32_t instantiated_paths(quant::Op op) {
  constexpr uint32_t silu = path_bit(ElementPath::divide_nosat) | path_bit(ElementPath::multiply_nosat);
  return path_bit(ElementPath::profile) | (op == quant::Op::silu_mul ? silu : ~path_bit(ElementPath::divide_nosat));
}

}  // namespace

int lanes_per_group(int64_t gs, int chunk_elems, int warp_size) {
  const int64_t chunks = (gs + chunk_elems - 1) / chunk_elems;
  int lanes = 1;
  while (lanes < chunks && lanes < warp_size) lanes *= 2;
  return lanes;
}

int register_lanes(int64_t gs, int chunk_elems, int chunks, int warp_size) {
  const int64_t per_lane = int64_t(chunk_elems) * chunks;
  if (gs % per_lane != 0) return 0;
  const int64_t lanes = gs / per_lane;
  return lanes <= warp_size && (lanes & (lanes - 1)) == 0 ? int(lanes) : 0;
}

QuantPlan plan_quant(const quant::Spec& spec, Format input, const Arch& arch, std::size_t x_bytes,
                     std::size_t codes_bytes, std::size_t scale_bytes) {
  if (const std::string why = spec.problem(); !why.empty()) throw QuantError(why);
  const int64_t elem = input_bytes(input);
  const int64_t gs = spec.tile_cols();
  if (spec.op != quant::Op::block && gs <= 0) throw QuantError("group size " + std::to_string(gs) + " must be positive");
  const quant::ScaleShape shape = spec.scale_shape();
  check_size("input", x_bytes, spec.m * spec.input_cols() * elem);
  check_size("codes", codes_bytes, spec.m * spec.k);
  check_size("scales", scale_bytes, spec.scale_bytes());

  QuantPlan p{};
  p.op = spec.op;
  p.input = input;
  p.m = spec.m;
  p.k = spec.k;
  p.gs = gs;
  const bool silu = spec.op == quant::Op::silu_mul;
  // quant.silu-mul's lanes follow its path: the staged loop's four chunks a lane or two (lane_chunks).
  const auto lanes_with = [&](bool staged) {
    return register_lanes(gs, 16 / int(elem), lane_chunks(int(elem), silu, staged), arch.warp_size);
  };
  int in_registers = lanes_with(silu && input == Format::bf16);  // the staged loop's, if the path is native
  p.math = make_math(spec, arch);
  // quant.tensor's kernel checks its buffers' alignment itself (whole chunks, then a tail).
  p.path = in_registers || spec.op == quant::Op::tensor ? choose_path(p.math, arch) : ElementPath::profile;
  if (silu && spec.profile->codes_from_stored_y) p.math.y_store = input;
  if (silu && spec.profile->amax_from_stored_y) p.math.amax_y_store = input;
  if (!(instantiated_paths(spec.op) & path_bit(p.path)) || !p.math.silu_as_vllm()) p.path = ElementPath::profile;
  if (silu && !silu_staged(input, p.path)) in_registers = lanes_with(false);
  p.lanes = in_registers ? in_registers : lanes_per_group(gs, 16 / int(elem), arch.warp_size);
  p.scales = ScaleStore{spec.layout, shape.m, shape.g, nullptr};
  const int64_t work = spec.op == quant::Op::block    ? shape.m * shape.g * kBlockThreads
                       : spec.op == quant::Op::tensor ? (spec.m * spec.k + 7) / 8  // a thread per 16-byte chunk
                                                      : spec.m * (spec.k / gs) * p.lanes;
  const bool lane_groups = spec.op != quant::Op::tensor && spec.op != quant::Op::block;  // GroupQuant, SiluMulQuant
  const bool strides = lane_groups && p.lanes > 1 && p.path != ElementPath::profile;
  p.main = LaunchConfig{{blocks_for(work, strides ? kStridingBlocks : kMaxBlocks)}, {kBlockThreads}, 0};
  p.amax = LaunchConfig{{blocks_for(work, kStridingBlocks)}, {kBlockThreads}, 0};
  const int64_t padded = p.scales.padded_rows() * p.scales.padded_cols();
  p.has_padding = padded > shape.m * shape.g;
  p.padding = LaunchConfig{{blocks_for(padded)}, {kBlockThreads}, 0};
  return p;
}

QuantPlan plan_grouped_quant(const quant::GroupedSpec& spec, Format input, const Arch& arch, std::size_t x_bytes,
                             std::size_t codes_bytes, std::size_t scale_bytes, std::size_t row_map_entries) {
  if (const std::string why = spec.problem(); !why.empty()) throw QuantError(why);
  const bool masked = spec.layout == moe::GroupLayout::masked;
  check_size(masked ? "masked_m" : "m_indices", row_map_entries, masked ? spec.experts() : spec.rows());
  check_size("scales", scale_bytes, spec.scale_bytes());
  quant::Spec every_row = spec.base;
  every_row.m = spec.rows();
  QuantPlan p = plan_quant(every_row, input, arch, x_bytes, codes_bytes, std::size_t(every_row.scale_bytes()));
  const quant::Spec part = spec.part_spec();
  p.scales = ScaleStore{part.layout, part.scale_shape().m, part.scale_shape().g, nullptr};
  p.main.grid.x = blocks_for(p.m * arch.warp_size / kRowsPerWarp);  // for_each_token_row
  p.row_map = masked ? QuantPlan::RowMap::masked_m : QuantPlan::RowMap::m_indices;
  p.parts = spec.parts(), p.part_bytes = spec.part_bytes();
  const int64_t padded = p.scales.padded_rows() * p.scales.padded_cols();
  p.has_padding = padded > p.scales.m * p.scales.g;
  p.padding = LaunchConfig{{blocks_for(p.parts * padded)}, {kBlockThreads}, 0};
  return p;
}

}  // namespace ulpgate::quant_kernels
