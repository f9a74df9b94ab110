// Host side of the RMSNorm kernels: checks a case before launch, turns its profile into the
// kernels' runtime data, chooses how rows are spread over threads, and launches through any
// launcher (the host-SIMT emulator or the GPU). Plain C++: included by .cpp and .cu files alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/norm/norm_kernels.hpp"
#include "kernels/quant/quant_plan.hpp"
#include "reference/norm/norm.hpp"

namespace ulpgate {
struct Arch;
}

namespace ulpgate::norm_kernels {

// A case the kernels cannot run (dtype, shape, buffer sizes): raised before launch.
struct NormError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr unsigned kSmallRowBlock = 256;  // block size when a block holds several rows
inline constexpr unsigned kMaxBlocks = 65535;    // the kernel grid-strides beyond this

// Buffer sizes in bytes. The op's inputs and outputs must have exactly the case's sizes; the
// buffers an op does not use are ignored (residual and residual_out but for rms-add, y for
// rms-quant, codes and scales but for rms-quant).
struct NormSizes {
  std::size_t x = 0, residual = 0, weight = 0, y = 0, residual_out = 0, codes = 0, scales = 0;
  static NormSizes of(const norm::Buffers& io);
};
// The sizes a case needs (unused buffers 0). Throws NormError for an invalid spec.
NormSizes required_sizes(const norm::Spec& spec);

// Device pointers of one launch (the unused ones may be null).
struct NormPointers {
  const void *x = nullptr, *residual = nullptr, *weight = nullptr;
  void *y = nullptr, *residual_out = nullptr;
  uint8_t *codes = nullptr, *scales = nullptr;
  static NormPointers of(const norm::Buffers& io);
};

struct NormPlan {
  norm::Op op;
  Format dtype;
  int64_t m, h;
  NormMath math;
  RowGeometry geo;
  LaunchConfig main;
  // rms-quant: the quantizer's arithmetic, element path and scale storage (base filled in at
  // launch), as quant_kernels::plan_quant makes them for the same quant spec.
  quant_kernels::QuantMath quant;
  quant_kernels::ElementPath path;
  quant_kernels::ScaleStore scales;
  quant_kernels::ScaleSteps steps;
  bool has_padding;
  LaunchConfig padding;
};

// Validates (spec, buffer sizes) and plans the launch for a device of `arch`'s warp size and
// conversion instructions. Throws NormError naming the problem. m == 0 plans no launch.
NormPlan plan_norm(const norm::Spec& spec, const Arch& arch, const NormSizes& sizes);

// Rows up to this many elements fit the registers of one block (kMaxSlots chunks per thread).
int64_t max_hidden_size(Format dtype);

// Whether every chunk of every row is a whole, 16-byte aligned vector (Form::vectors): rows of
// a multiple of 8 elements in buffers that start aligned (codes: each chunk's 8 codes one word).
inline bool whole_vectors(const NormPlan& p, const NormPointers& io) {
  auto aligned = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  bool ok = p.h % kChunkElems == 0 && aligned(io.x) && aligned(io.weight);
  if (adds_residual(p.op)) ok = ok && aligned(io.residual) && aligned(io.residual_out);
  return p.op == norm::Op::rms_quant || p.op == norm::Op::rms_add_quant
             ? ok && reinterpret_cast<uintptr_t>(io.codes) % 8 == 0
             : ok && aligned(io.y);
}

template <Form K>
using FormC = std::integral_constant<Form, K>;

// Launches the plan's kernels with launch(cfg, kernel) on device pointers. Reduce is the warp
// reduction (tests substitute faulty ones).
//
// One kernel per element type and Form, and per quantizer path: rms-quant's codes take the
// element path plan_quant chose where it is one of the two that the common profiles take on
// NVIDIA archs (multiply or divide, clamp NaN to -max, the satfinite cast clamping the top:
// vLLM's and AITER's on sm90/sm100) and the rows are whole vectors; anything else is evaluated
// per element from the profile (the same bits, slower). A kernel holding every path is too large
// for the compilers (HIP clang takes many minutes) and the instruction cache, and needs the
// registers of its most demanding path.
// What a launcher compiles in: every op with weights of the input type (the norm family), or only
// the residual ops of allreduce.rms's norm stage, with T or fp32 weights.
struct Kernels {
  bool residual_ops_only = false;
  bool fp32_weight = false;
};

template <class Reduce = ButterflyReduce, Kernels Ks = Kernels{}, class Launch>
void launch_norm(const NormPlan& p, const NormPointers& io, Launch&& launch) {
  static_assert(Ks.residual_ops_only || !Ks.fp32_weight, "fp32 weights: the fused stage's kernels only");
  using quant_kernels::Clamp;
  using quant_kernels::ElementPath;
  using quant_kernels::NativeCodes;
  using norm::Op;
  if (p.m == 0) return;  // no rows: nothing to write
  quant_kernels::ScaleStore scales = p.scales;
  scales.base = io.scales;
  if (p.has_padding) launch(p.padding, quant_kernels::ScalePadding{scales});
  auto run = [&](auto in, auto path, auto form) {
    constexpr Format F = decltype(in)::value;
    constexpr Form K0 = decltype(form)::value;
    using T = typename Elem<F>::T;
    using Kernel = RmsNorm<F, Reduce, decltype(path), Form{K0.op, K0.fp32_z, K0.vectors, K0.quant_in, Ks.fp32_weight}>;
    launch(p.main, Kernel{static_cast<const T*>(io.x), static_cast<const T*>(io.residual),
                          static_cast<const typename Kernel::W::Elem*>(io.weight), static_cast<T*>(io.y),
                          static_cast<T*>(io.residual_out), io.codes, p.m, p.h, p.math, p.geo, p.quant, scales, p.steps});
  };
  const bool vectors = whole_vectors(p, io);
  // The fused all-reduce's norm stage: its profile (FlashInfer's) rounds the residual, so z stays T
  // chunks, and quantizes T(z r w), which stays T bits (QuantIn::t_once: fp32 values held 32 more
  // registers a thread, kernels/norm/PERF.md); the codes take the native element path where the
  // profile's is one: five kernels per element and weight type.
  auto fused_stage = [&](auto in) {
    if (!p.math.round_residual || (p.math.round_twice && p.math.quantize_rounded))
      throw NormError("the fused kernels take a profile that rounds the residual and quantizes y before it is rounded twice");
    if (p.op == Op::rms_add)
      return vectors ? run(in, NoQuant{}, FormC<Form{Op::rms_add, false, true}>{})
                     : run(in, NoQuant{}, FormC<Form{Op::rms_add, false, false}>{});
    if (p.op != Op::rms_add_quant) throw NormError("the fused kernels run norm.rms-add and norm.rms-add-quant only");
    if (!p.math.quantize_rounded) throw NormError("the fused kernels quantize the rounded y, T(z r w)");
    if (!vectors) return run(in, quant_kernels::ProfileCodes{}, FormC<Form{Op::rms_add_quant, false, false, QuantIn::t_once}>{});
    constexpr FormC<Form{Op::rms_add_quant, false, true, QuantIn::t_once}> t_z;
    if (p.path == ElementPath::divide_clamp_low) return run(in, NativeCodes<true, Clamp::nan_to_min_low, false>{}, t_z);
    run(in, quant_kernels::ProfileCodes{}, t_z);
  };
  auto with_path = [&](auto in) {
    if constexpr (Ks.residual_ops_only) {
      return fused_stage(in);
    } else {
      if (p.op == Op::rms)
        return vectors ? run(in, NoQuant{}, FormC<Form{Op::rms, false, true}>{})
                       : run(in, NoQuant{}, FormC<Form{Op::rms, false, false}>{});
      if (p.op == Op::rms_add && p.math.round_residual)
        return vectors ? run(in, NoQuant{}, FormC<Form{Op::rms_add, false, true}>{})
                       : run(in, NoQuant{}, FormC<Form{Op::rms_add, false, false}>{});
      if (p.op == Op::rms_add)
        return vectors ? run(in, NoQuant{}, FormC<Form{Op::rms_add, true, true}>{})
                       : run(in, NoQuant{}, FormC<Form{Op::rms_add, true, false}>{});
      // rms-add-quant: z in fp32 registers (RowValues rounds it or not at run time), the
      // profile's element path.
      auto add_quant_form = [&](auto rounded) {
        constexpr QuantIn Q = decltype(rounded)::value ? QuantIn::t_twice : QuantIn::fp32;
        return vectors ? run(in, quant_kernels::ProfileCodes{}, FormC<Form{Op::rms_add_quant, true, true, Q}>{})
                       : run(in, quant_kernels::ProfileCodes{}, FormC<Form{Op::rms_add_quant, true, false, Q}>{});
      };
      const bool rounded_y = p.math.round_twice && p.math.quantize_rounded;
      if (p.op == Op::rms_add_quant) return rounded_y ? add_quant_form(std::true_type{}) : add_quant_form(std::false_type{});
      // rms-quant: the quantizer's input as T bits or fp32 (Form::quant_in), then its element path.
      auto quant_form = [&](auto rounded) {
        constexpr QuantIn Q = decltype(rounded)::value ? QuantIn::t_twice : QuantIn::fp32;
        if (!vectors) return run(in, quant_kernels::ProfileCodes{}, FormC<Form{Op::rms_quant, false, false, Q}>{});
        constexpr FormC<Form{Op::rms_quant, false, true, Q}> quant_vectors;
        if (p.path == ElementPath::multiply_clamp_low)
          return run(in, NativeCodes<false, Clamp::nan_to_min_low, false>{}, quant_vectors);
        if (p.path == ElementPath::divide_clamp_low)
          return run(in, NativeCodes<true, Clamp::nan_to_min_low, false>{}, quant_vectors);
        run(in, quant_kernels::ProfileCodes{}, quant_vectors);
      };
      if (rounded_y) return quant_form(std::true_type{});
      quant_form(std::false_type{});
    }
  };
  if (p.dtype == Format::fp16) return with_path(std::integral_constant<Format, Format::fp16>{});
  with_path(std::integral_constant<Format, Format::bf16>{});
}

}  // namespace ulpgate::norm_kernels
