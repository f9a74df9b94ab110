// Host side of the quantization kernels: checks a case before launch, turns its profile into the
// kernels' runtime data, sizes the grid, and launches the kernels through any launcher (the
// host-SIMT emulator or the GPU). Plain C++: included by .cpp and .cu files alike.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/portable/device.hpp"
#include "kernels/quant/quant_kernels.hpp"
#include "kernels/quant/silu_kernels.hpp"
#include "kernels/quant/tensor_kernels.hpp"
#include "kernels/quant/tile_kernels.hpp"
#include "reference/quant/grouped.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate {
struct Arch;
}

namespace ulpgate::quant_kernels {

// A case the kernels cannot run (bad shape, buffer sizes, input dtype): raised before launch.
struct QuantError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// 128 threads a block: blocks that fit by registers come in smaller steps (at 56 registers a
// thread, 36 resident warps per H200 SM instead of 32 with 256-thread blocks).
inline constexpr unsigned kBlockThreads = 128;
inline constexpr unsigned kMaxBlocks = 65535;  // the kernels grid-stride beyond this
// Fewer blocks, each thread striding over several groups, where that measured faster on the H200
// (kernels/quant/PERF.md, "The grid"): the kernels whose group spans 2-8 lanes on a native element
// path (gs128 row 86 -> 92 % of copy, deepgemm 91 -> 96, silu-mul 64 -> 67) and quant.tensor's amax
// pass (dynamic 87 -> 97 %). One lane a group (MX), ProfileCodes and quant.tensor's codes pass were
// fastest at kMaxBlocks (MX swizzle 96 % there, 75 % at this cap).
inline constexpr unsigned kStridingBlocks = 16384;
// Rows a warp of a grouped launch walks (for_each_token_row). Measured on the H200 at DeepSeek-V3's
// prefill (fp32 / MXFP8 scales, % of copy) and decode batch: a warp a row 74 / 87 %, 32 us; four
// rows a warp, the next entry read ahead, 70 / 65 %, 46 us; a row over seven warps 49 / 74 %, 41 us.
inline constexpr int64_t kRowsPerWarp = 1;

// GroupQuant's element path (quant_kernels.hpp): the profile as runtime data, or one of the
// NativeCodes instantiations that the profile, the arch's cast and the register layout allow.
enum class ElementPath : uint8_t {
  profile,             // ProfileCodes
  multiply_clamp,      // NativeCodes<false, Clamp::nan_to_min, false>: q = x * f, NaN -> -max
  divide_clamp,        // NativeCodes<true, Clamp::nan_to_min, false>: q = x / s, NaN -> -max
  multiply_clamp_low,  // the same two where the satfinite cast clamps the top (Clamp::nan_to_min_low)
  divide_clamp_low,
  multiply_propagate,  // NativeCodes<false, Clamp::none, true>: q = x * f, NaN amax propagates
  multiply_clamp_max,  // NativeCodes<false, Clamp::nan_to_max, false>: q = x * f, NaN -> +max
  multiply_unclamped,  // NativeCodes<false, Clamp::none, false>: q = x * f, the cast decides
  multiply_nosat,      // NativeCodes<false, Clamp::none, false, true>: the same, a nosat cast
  divide_nosat,        // NativeCodes<true, Clamp::none, false, true>: q = x / s, a nosat cast
};

// Whether quant.silu-mul on this input and path reads t from the SiLU table in its staged loop
// (bf16 gates, vLLM's form: a native path), which holds four chunks a lane (lane_chunks).
inline constexpr bool silu_staged(Format input, ElementPath path) {
  return input == Format::bf16 && path != ElementPath::profile;
}

struct QuantPlan {
  quant::Op op;
  Format input;
  int64_t m, k, gs;
  int lanes;            // lanes per group (GroupQuant)
  ElementPath path;     // GroupQuant's, where the buffers fit the register layout
  QuantMath math;
  ScaleStore scales;    // base filled in at launch; a grouped op's: one part's
  LaunchConfig main, padding;
  LaunchConfig amax;    // quant.tensor's amax pass
  bool has_padding;
  // A grouped op's: its row map (m_indices or masked_m, int32) and scale storage in parts.
  enum class RowMap : uint8_t { none, m_indices, masked_m } row_map = RowMap::none;
  int64_t parts = 1, part_bytes = 0;
  int64_t row_map_entries() const { return row_map == RowMap::masked_m ? parts : row_map == RowMap::m_indices ? m : 0; }
};

// The NativeCodes instantiation that computes exactly what the quantizer's arithmetic asks on
// `arch`, whatever the layout; ElementPath::profile where none does.
ElementPath choose_path(const QuantMath& m, const Arch& arch);

// Validates (spec, input, buffer sizes) and plans the launch for a device of `arch`'s warp size
// and conversion instructions. Throws QuantError naming the problem. m == 0 plans no launch.
QuantPlan plan_quant(const quant::Spec& spec, Format input, const Arch& arch, std::size_t x_bytes,
                     std::size_t codes_bytes, std::size_t scale_bytes);

// A grouped op (reference/quant/grouped.hpp): the dense op's plan over every row, its scales
// part by part; row_map_entries: m_indices' (contiguous) or masked_m's (masked) length.
QuantPlan plan_grouped_quant(const quant::GroupedSpec& spec, Format input, const Arch& arch, std::size_t x_bytes,
                             std::size_t codes_bytes, std::size_t scale_bytes, std::size_t row_map_entries);
// A grouped plan's row map for its kernels, on a device pointer to the int32 entries.
inline ExpertRowMap expert_row_map(const QuantPlan& p, const int32_t* entries) {
  const bool masked = p.row_map == QuantPlan::RowMap::masked_m;
  return {masked ? nullptr : entries, masked ? entries : nullptr, p.scales.m, p.part_bytes};
}

// The lanes that share a group of gs elements: enough for one chunk each, at most a warp.
int lanes_per_group(int64_t gs, int chunk_elems, int warp_size);

// The lanes of GroupQuant's register layout (each holding `chunks` chunks of chunk_elems), or 0
// when gs does not split into a power of two of them within a warp.
int register_lanes(int64_t gs, int chunk_elems, int chunks, int warp_size);

// Calls fn with the element path's type (ProfileCodes or a NativeCodes instantiation).
template <class Fn>
void with_element_path(ElementPath path, Fn&& fn) {
  switch (path) {
    case ElementPath::multiply_clamp: return fn(NativeCodes<false, Clamp::nan_to_min, false>{});
    case ElementPath::divide_clamp: return fn(NativeCodes<true, Clamp::nan_to_min, false>{});
    case ElementPath::multiply_clamp_low: return fn(NativeCodes<false, Clamp::nan_to_min_low, false>{});
    case ElementPath::divide_clamp_low: return fn(NativeCodes<true, Clamp::nan_to_min_low, false>{});
    case ElementPath::multiply_propagate: return fn(NativeCodes<false, Clamp::none, true>{});
    case ElementPath::multiply_clamp_max: return fn(NativeCodes<false, Clamp::nan_to_max, false>{});
    case ElementPath::multiply_unclamped: return fn(NativeCodes<false, Clamp::none, false>{});
    case ElementPath::multiply_nosat: return fn(NativeCodes<false, Clamp::none, false, true>{});
    default: break;  // divide_nosat: no group or tensor profile divides without saturating
  }
  fn(ProfileCodes{});
}

// quant.silu-mul's paths: its profiles (vLLM's) divide, or multiply by a power-of-two
// reciprocal, with a nosat cast; plan_quant plans the others as ElementPath::profile.
template <class Fn>
void with_silu_path(ElementPath path, Fn&& fn) {
  if (path == ElementPath::divide_nosat) return fn(NativeCodes<true, Clamp::none, false, true>{});
  if (path == ElementPath::multiply_nosat) return fn(NativeCodes<false, Clamp::none, false, true>{});
  fn(ProfileCodes{});
}

// quant.tensor's launches (tensor_kernels.hpp): the grid-wide amax into the scale slot, the
// codes, then the scale; a static scale launches the codes only.
template <Format F, class Amax, class Launch>
void launch_tensor(const QuantPlan& p, const typename Input<F>::T* x, uint8_t* codes, uint8_t* scale_bytes,
                   Launch&& launch) {
  const bool dynamic = p.math.given_scale == 0;
  // TransformerEngine's static form writes its scale_inv (group_scale); the others none.
  const bool writes = dynamic || p.math.quant_op == quant::QuantOp::ratio;
  uint32_t* slot = writes ? reinterpret_cast<uint32_t*>(scale_bytes) : nullptr;
  const int64_t n = p.m * p.k;
  const LaunchConfig one{{1}, {32}, 0};
  if (dynamic) {
    launch(one, ZeroSlot{slot});
    launch(p.amax, TensorAmax<F, Amax>{x, codes, n, p.math, slot});
  }
  with_element_path(p.path, [&](auto path) {
    launch(p.main, TensorQuant<F, decltype(path)>{x, codes, n, p.math, dynamic ? slot : nullptr});
  });
  if (slot) launch(one, TensorScale{p.math, slot});
}

// Launches the plan's kernels with launch(cfg, kernel) on device pointers. Reduce is the group
// amax reduction, Amax quant.tensor's grid-wide one (tests substitute faulty ones); rows: a
// grouped plan's ExpertRowMap (tests substitute faulty ones).
template <class Reduce = ShuffleAmax, class Amax = GridAmax, class Launch, class Rows = AllRows>
void launch_quant(const QuantPlan& p, const void* x, uint8_t* codes, uint8_t* scale_bytes, Launch&& launch,
                  const Rows& rows = {}) {
  if (p.m == 0) return;  // no rows: nothing to write, never a division by zero
  ScaleStore scales = p.scales;
  scales.base = scale_bytes;
  if (p.has_padding) launch(p.padding, ScalePadding{scales, p.parts, p.part_bytes});
  auto run = [&](auto in) {
    constexpr Format F = decltype(in)::value;
    using T = typename Input<F>::T;
    const T* xs = static_cast<const T*>(x);
    if (p.op == quant::Op::tensor) return launch_tensor<F, Amax>(p, xs, codes, scale_bytes, launch);
    int lane_bits = 0;
    while ((1 << lane_bits) < p.lanes) ++lane_bits;
    const bool silu = p.op == quant::Op::silu_mul;
    const int chunks = lane_chunks(int(sizeof(T)), silu, silu && silu_staged(F, p.path));
    const ElementPath path = register_layout<F>(p.gs, p.lanes, chunks, x, codes) ? p.path : ElementPath::profile;
    if (p.op == quant::Op::silu_mul)
      return with_silu_path(path, [&](auto path) {
        launch(p.main,
               SiluMulQuant<F, Reduce, decltype(path)>{xs, codes, p.m, p.k, p.gs, p.lanes, lane_bits, p.math, scales,
                                                       ScaleSteps::of(scales)});
      });
    if (p.op == quant::Op::block) return launch(p.main, TileQuant<F, Reduce>{xs, codes, p.m, p.k, p.math, scales});
    // The native paths run on the register layout only (these buffers' alignment included).
    with_element_path(path, [&](auto path) {
      launch(p.main, GroupQuant<F, Reduce, decltype(path), Rows>{xs, codes, p.m, p.k, p.gs, p.lanes,
                                                                 lane_bits, p.math, scales, rows});
    });
  };
  switch (p.input) {
    case Format::bf16: return run(std::integral_constant<Format, Format::bf16>{});
    case Format::fp16: return run(std::integral_constant<Format, Format::fp16>{});
    default: return run(std::integral_constant<Format, Format::fp32>{});
  }
}

}  // namespace ulpgate::quant_kernels
