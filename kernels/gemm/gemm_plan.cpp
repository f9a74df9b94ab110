#include "kernels/gemm/gemm_plan.hpp"

#include <algorithm>
#include <string>

#include "reference/gemm/layout.hpp"

namespace ulpgate::gemm_kernels {
namespace {

void check_size(const std::string& what, std::size_t got, int64_t want) {
  if (int64_t(got) != want)
    throw GemmError(what + " has " + std::to_string(got) + " bytes, the case needs " + std::to_string(want));
}

// A scale operand's storage: its layout's size over the logical shape.
quant_kernels::ScaleStore scale_store(const gemm::Spec& s, gemm::Which w, std::size_t bytes) {
  const quant::Layout l = gemm::scale_layout(s, w);
  const quant::ScaleShape shape = gemm::scale_shape(s, w);
  check_size(std::string(w == gemm::Which::a ? "A" : "B") + " scale storage (" + std::string(quant::layout_name(l)) +
                 " over [" + std::to_string(shape.m) + ", " + std::to_string(shape.g) + "])",
             bytes, quant::storage_bytes(l, shape));
  return {l, shape.m, shape.g, nullptr};
}

}  // namespace

Fp8Format fp8_format(Format f) {
  const FormatInfo fi = info(f);
  return {fi.mbits, fi.bias, fi.family == Family::fnuz, fi.family == Family::ieee};
}

GemmPointers GemmPointers::of(const gemm::Buffers& io) {
  return {io.a.data(), io.b.data(), io.sa.data(), io.sb.data(), reinterpret_cast<uint8_t*>(io.d.data())};
}

GemmPlan plan_gemm(const gemm::Spec& s, const gemm::Buffers& io, unsigned max_blocks) {
  if (const std::string why = s.problem(); !why.empty()) throw GemmError(why);
  check_size("A", io.a.size(), s.m * s.k);
  check_size("B", io.b.size(), s.n * s.k);
  check_size("D", io.d.size(), s.m * s.n * (s.out == Format::bf16 ? 2 : 4));
  const gemm::Geometry g = gemm::geometry(s);
  const gemm::Profile& p = *s.profile;
  GemmPlan plan{};
  GemmMath& m = plan.math;
  m.m = s.m, m.n = s.n, m.k = s.k;
  m.kblock = g.kblock, m.kblocks = g.kblocks;
  m.a_rows = g.a_rows, m.b_rows = g.b_rows;
  m.a_format = fp8_format(s.a_format), m.b_format = fp8_format(s.b_format);
  m.rule = s.op == gemm::Op::tensor ? p.tensor : s.op == gemm::Op::rowwise ? p.rowwise : p.block;
  m.weights = p.weights;
  m.bf16_out = s.out == Format::bf16;
  m.sa_map = scale_store(s, gemm::Which::a, io.sa.size());
  m.sb_map = scale_store(s, gemm::Which::b, io.sb.size());
  const int64_t blocks = (s.m * s.n + kBlockThreads - 1) / kBlockThreads;
  plan.config = LaunchConfig{{unsigned(std::clamp<int64_t>(blocks, 1, max_blocks))}, {kBlockThreads}, 0};
  return plan;
}

}  // namespace ulpgate::gemm_kernels
