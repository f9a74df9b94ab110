// A sample ulpgate plugin: the suite's own host-SIMT kernels behind the C API
// (include/ulpgate/ulpgate.h), claiming every quant, norm, GEMM and MoE profile on the host archs
// (the GEMM rows with the portable kernel's accumulator model, fp32-fma) and the custom all-reduce
// variants (all ranks in one host-SIMT world launch, refusing what the kernels refuse). It shows
// the ABI end to end: a plugin reads its tensors and parameters from the call, runs, and reports
// failure through its return value and message. Its outputs must equal the host backend's, digest
// for digest (suites/plugin/plugin_test.sh).
#include <vector>

#include "examples/plugin/read_call.hpp"
#include "kernels/allreduce/allreduce_host.hpp"
#include "kernels/gemm/gemm_host.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/norm/norm_host.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/quant/quant_host.hpp"

namespace {

using namespace ulpgate;
using namespace ulpgate::sample;

int run_quant(void*, const ulpgate_call* c, char* message, size_t size) {
  return guarded(message, size, [&] {
    const DLTensor* x = in(c, "x");
    quant_kernels::run_quant_host(arch_by_name(c->arch), quant_spec(c), element_format(x->dtype), bytes_of(x),
                                  out_bytes(c, "codes"), out_bytes(c, "scales"));
  });
}

int run_norm(void*, const ulpgate_call* c, char* message, size_t size) {
  return guarded(message, size, [&] {
    const DLTensor* x = in(c, "x");
    norm::Spec s;
    s.op = norm::parse_op(c->op);
    s.profile = &norm::profile(c->profile);
    s.dtype = element_format(x->dtype);
    s.m = x->shape[0], s.h = x->shape[1];
    if (s.quantizes()) {
      read_quantizer(c, s);
      s.scale_ub = float(float_param_or(c, "scale_ub", 0));
      if (s.static_scale != 0) s.gs = 0, s.layout = quant::Layout::token;  // the norm spec's per-tensor form
    }
    const norm::Buffers io{bytes_of(x), bytes_of(in(c, "residual")), bytes_of(in(c, "weight")), bytes_of(out(c, "y")),
                           bytes_of(out(c, "residual_out")), out_bytes(c, "codes"), out_bytes(c, "scales")};
    norm_kernels::run_norm_host(arch_by_name(c->arch), s, io);
  });
}

int run_gemm(void*, const ulpgate_call* c, char* message, size_t size) {
  return guarded(message, size, [&] {
    const DLTensor *a = in(c, "a"), *b = in(c, "b");
    gemm::Spec s;
    s.op = gemm::parse_op(c->op);
    s.profile = &gemm::profile(c->profile);
    s.a_format = parse_format(text_param(c, "a_format"));
    s.b_format = parse_format(text_param(c, "b_format"));
    s.out = parse_format(text_param(c, "out"));
    s.ue8m0 = int_param(c, "ue8m0") != 0;
    s.m = a->shape[0], s.k = a->shape[1], s.n = b->shape[0];
    const gemm::Buffers io{in_bytes(c, "a"), in_bytes(c, "b"), in_bytes(c, "scale_a"), in_bytes(c, "scale_b"),
                           bytes_of(out(c, "d"))};
    gemm_kernels::run_gemm_host(arch_by_name(c->arch), s, io);
  });
}

// A grouped op's rows from its call: the layout, the alignment and the tokens per expert, read
// back from the row map (returned).
std::span<const int32_t> read_rows(const ulpgate_call* c, moe::ExpertRows& rows) {
  rows.layout = moe::parse_group_layout(text_param(c, "layout"));
  rows.align = int_param(c, "align");
  const bool masked = rows.layout == moe::GroupLayout::masked;
  const std::span<const uint8_t> bytes = in_bytes(c, masked ? "masked_m" : "m_indices");
  const std::span<const int32_t> map{reinterpret_cast<const int32_t*>(bytes.data()), bytes.size() / 4};
  rows.tokens.assign(size_t(int_param(c, "experts")), 0);
  if (masked)
    for (size_t e = 0; e < map.size(); ++e) rows.tokens[e] = map[e];
  else
    for (const int32_t e : map)
      if (e >= 0) ++rows.tokens[size_t(e)];
  return map;
}

// moe.gemm: the grouped launch.
int run_moe_gemm(void*, const ulpgate_call* c, char* message, size_t size) {
  return guarded(message, size, [&] {
    const DLTensor *a = in(c, "a"), *b = in(c, "b");
    gemm::GroupedSpec s;
    s.base.op = gemm::parse_grouped_op(c->op);
    s.base.profile = &gemm::profile(c->profile);
    s.base.a_format = parse_format(text_param(c, "a_format"));
    s.base.b_format = parse_format(text_param(c, "b_format"));
    s.base.out = parse_format(text_param(c, "out"));
    s.base.ue8m0 = int_param(c, "ue8m0") != 0;
    s.base.k = a->shape[1], s.base.n = b->shape[1];
    const std::span<const int32_t> map = read_rows(c, s);
    const bool masked = s.layout == moe::GroupLayout::masked;
    const gemm::GroupedBuffers io{in_bytes(c, "a"), in_bytes(c, "b"), in_bytes(c, "scale_a"), in_bytes(c, "scale_b"),
                                  masked ? std::span<const int32_t>{} : map, masked ? map : std::span<const int32_t>{},
                                  bytes_of(out(c, "d"))};
    gemm_kernels::run_grouped_gemm_host(arch_by_name(c->arch), s, io);
  });
}

// moe.quant: the grouped quantization launch.
int run_moe_quant(void*, const ulpgate_call* c, char* message, size_t size) {
  return guarded(message, size, [&] {
    const DLTensor* x = in(c, "x");
    quant::GroupedSpec s;
    s.base.op = quant::parse_grouped_op(c->op);
    s.base.profile = &quant::profile_for(s.base.op, c->profile);
    read_quantizer(c, s.base);
    s.base.k = x->shape[1];
    const std::span<const int32_t> map = read_rows(c, s);
    quant_kernels::run_grouped_quant_host(arch_by_name(c->arch), s, element_format(x->dtype), bytes_of(x), map,
                                          out_bytes(c, "codes"), out_bytes(c, "scales"));
  });
}

// Rank r's storage: x.rR in, y.rR out (in place: y.rR both).
std::vector<allreduce::RankBuffers> rank_buffers(const ulpgate_call* c, int world, bool in_place) {
  std::vector<allreduce::RankBuffers> io;
  for (int r = 0; r < world; ++r) {
    const std::string rank = ".r" + std::to_string(r);
    const std::span<std::byte> y = bytes_of(out(c, ("y" + rank).c_str()));
    io.push_back({in_place ? y : bytes_of(in(c, ("x" + rank).c_str())), y});
  }
  return io;
}

int run_allreduce(void*, const ulpgate_call* c, char* message, size_t size) {
  static allreduce_kernels::HostWorld world;  // the ranks' registered buffers and signals, kept across calls
  bool refused = false;
  const int rc = guarded(message, size, [&] {
    allreduce::Spec s;
    s.variant = &allreduce::variant(c->profile);
    s.world = int(int_param(c, "world"));
    s.in_place = int_param(c, "in_place") != 0;
    const DLTensor* y0 = out(c, "y.r0");
    if (!y0) throw std::runtime_error("no output y.r0");
    s.dtype = element_format(y0->dtype);
    s.view.offset = int_param(c, "offset"), s.view.count = int_param(c, "count");
    s.view.tail = y0->shape[0] - s.view.offset - s.view.count;
    try {
      allreduce_kernels::run_allreduce_host(arch_by_name(c->arch), s, rank_buffers(c, s.world, s.in_place), world);
    } catch (const allreduce_kernels::AllreduceError&) {
      refused = true;
      throw;
    }
  });
  return refused ? ULPGATE_REFUSED : rc;
}

// One row per op and profile the host kernels implement.
const std::vector<ulpgate_op>& table() {
  static const std::vector<ulpgate_op> rows = [] {
    std::vector<ulpgate_op> r;
    static const char* const kArchs = "host-w32,host-w64";
    add_quant_rows(r, kArchs, run_quant);
    for (norm::Op op : {norm::Op::rms, norm::Op::rms_add, norm::Op::rms_quant, norm::Op::rms_add_quant})
      for (const norm::Profile& p : norm::profiles()) r.push_back({norm::op_name(op).data(), p.name.data(), kArchs, run_norm, nullptr});
    for (gemm::Op op : {gemm::Op::tensor, gemm::Op::rowwise, gemm::Op::block, gemm::Op::mx})
      for (const gemm::Profile& p : gemm::profiles())
        r.push_back({gemm::op_name(op).data(), p.name.data(), kArchs, run_gemm, gemm_kernels::kClaimedModel});
    for (const gemm::Profile& p : gemm::profiles())
      for (gemm::Op op : {gemm::Op::block, gemm::Op::mx})
        if (p.supports(op)) r.push_back({gemm::grouped_op_name(op).data(), p.name.data(), kArchs, run_moe_gemm, gemm_kernels::kClaimedModel});
    for (quant::Op op : {quant::Op::group, quant::Op::mx})
      for (const quant::Profile& p : quant::profiles()) r.push_back({quant::grouped_op_name(op).data(), p.name.data(), kArchs, run_moe_quant, nullptr});
    for (const allreduce::Variant& v : allreduce::variants())
      if (v.order != allreduce::Order::per_hop) r.push_back({"allreduce", v.name.data(), kArchs, run_allreduce, nullptr});
    return r;
  }();
  return rows;
}

}  // namespace

extern "C" ULPGATE_EXPORT const ulpgate_plugin* ulpgate_plugin_entry(void) {
  static const ulpgate_plugin plugin{ULPGATE_ABI_VERSION, "sample", "1", table().data(), int32_t(table().size()), nullptr};
  return &plugin;
}
