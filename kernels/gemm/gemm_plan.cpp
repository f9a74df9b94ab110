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

GemmPointers GemmPointers::of(const gemm::GroupedBuffers& io) {
  return {io.a.data(), io.b.data(), io.sa.data(), io.sb.data(), reinterpret_cast<uint8_t*>(io.d.data()),
          io.m_indices.data(), io.masked_m.data()};
}

namespace {

// Everything but the scale maps, for a dense spec.
GemmMath math_of(const gemm::Spec& s) {
  const gemm::Geometry g = gemm::geometry(s);
  const gemm::Profile& p = *s.profile;
  GemmMath m{};
  m.m = s.m, m.n = s.n, m.k = s.k;
  m.kblock = g.kblock, m.kblocks = g.kblocks;
  m.a_rows = g.a_rows, m.b_rows = g.b_rows;
  m.a_format = fp8_format(s.a_format), m.b_format = fp8_format(s.b_format);
  m.rule = s.op == gemm::Op::tensor ? p.tensor : s.op == gemm::Op::rowwise ? p.rowwise : p.block;
  m.weights = p.weights;
  m.bf16_out = s.out == Format::bf16;
  return m;
}

LaunchConfig config_of(int64_t outputs, unsigned max_blocks) {
  const int64_t blocks = (outputs + kBlockThreads - 1) / kBlockThreads;
  return LaunchConfig{{unsigned(std::clamp<int64_t>(blocks, 1, max_blocks))}, {kBlockThreads}, 0};
}

int64_t out_bytes(const gemm::Spec& s) { return s.out == Format::bf16 ? 2 : 4; }

}  // namespace

GemmPlan plan_gemm(const gemm::Spec& s, const gemm::Buffers& io, unsigned max_blocks) {
  if (const std::string why = s.problem(); !why.empty()) throw GemmError(why);
  check_size("A", io.a.size(), s.m * s.k);
  check_size("B", io.b.size(), s.n * s.k);
  check_size("D", io.d.size(), s.m * s.n * out_bytes(s));
  GemmPlan plan{math_of(s), config_of(s.m * s.n, max_blocks)};
  plan.math.sa_map = scale_store(s, gemm::Which::a, io.sa.size());
  plan.math.sb_map = scale_store(s, gemm::Which::b, io.sb.size());
  return plan;
}

GemmPlan plan_grouped_gemm(const gemm::GroupedSpec& gs, const gemm::GroupedBuffers& io, unsigned max_blocks,
                           const gemm::ExpertWeights* streamed) {
  if (const std::string why = gs.problem(); !why.empty()) throw GemmError(why);
  const bool masked = gs.layout == moe::GroupLayout::masked;
  gemm::Spec s = gs.base;
  s.m = gs.rows();
  const int64_t experts = gs.experts();
  check_size("A", io.a.size(), s.m * s.k);
  if (!streamed) check_size("B (" + std::to_string(experts) + " experts)", io.b.size(), experts * s.n * s.k);
  check_size("D", io.d.size(), s.m * s.n * out_bytes(s));
  check_size(masked ? "masked_m (int32 per expert)" : "m_indices (int32 per row)",
             (masked ? io.masked_m.size() : io.m_indices.size()) * 4, (masked ? experts : s.m) * 4);
  GemmPlan plan{math_of(s), config_of(s.m * s.n, max_blocks)};
  GemmMath& m = plan.math;
  m.grouped = true;
  m.slot_rows = masked ? gs.slot_rows() : 0;
  m.b_expert_bytes = s.n * s.k;
  gemm::Spec a_part = s;  // what one A scale storage covers: all rows, or one slot
  if (masked) a_part.m = m.slot_rows;
  const quant::ScaleShape sa_shape = gemm::scale_shape(a_part, gemm::Which::a), sb_shape = gemm::scale_shape(s, gemm::Which::b);
  const int64_t sa_bytes = quant::storage_bytes(gemm::scale_layout(a_part, gemm::Which::a), sa_shape);
  m.sb_expert_bytes = quant::storage_bytes(gemm::scale_layout(s, gemm::Which::b), sb_shape);
  m.sa_slot_bytes = masked ? sa_bytes : 0;
  check_size("A scale storage", io.sa.size(), masked ? experts * sa_bytes : sa_bytes);
  check_size("B scale storage (" + std::to_string(experts) + " experts)", streamed ? size_t(experts * streamed->sb_bytes) : io.sb.size(),
             experts * m.sb_expert_bytes);
  m.sa_map = scale_store(a_part, gemm::Which::a, std::size_t(sa_bytes));
  m.sb_map = scale_store(s, gemm::Which::b, std::size_t(m.sb_expert_bytes));
  return plan;
}

}  // namespace ulpgate::gemm_kernels
