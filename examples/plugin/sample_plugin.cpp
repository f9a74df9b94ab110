// A sample ulpgate plugin: the suite's own host-SIMT kernels behind the C API
// (include/ulpgate/ulpgate.h), claiming every quant, norm and GEMM profile on the host archs (the
// GEMM rows with the portable kernel's accumulator model, fp32-fma). It shows
// the ABI end to end: a plugin reads its tensors and parameters from the call, runs, and reports
// failure through its return value and message. Its outputs must equal the host backend's, digest
// for digest (suites/plugin/plugin_test.sh).
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "include/ulpgate/ulpgate.h"
#include "kernels/gemm/gemm_host.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/norm/norm_host.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/quant/quant_host.hpp"

namespace {

using namespace ulpgate;

std::span<std::byte> bytes_of(const DLTensor* t) {
  if (!t) return {};
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return {static_cast<std::byte*>(t->data), size_t(n) * t->dtype.bits / 8};
}

Format element_format(const DLDataType& d) {
  if (d.code == kDLBfloat) return Format::bf16;
  return d.bits == 16 ? Format::fp16 : Format::fp32;
}

const DLTensor* in(const ulpgate_call* c, const char* name) { return ulpgate_find_tensor(c->inputs, c->n_inputs, name); }
const DLTensor* out(const ulpgate_call* c, const char* name) { return ulpgate_find_tensor(c->outputs, c->n_outputs, name); }
std::span<uint8_t> as_u8(std::span<std::byte> b) { return {reinterpret_cast<uint8_t*>(b.data()), b.size()}; }
std::span<uint8_t> out_bytes(const ulpgate_call* c, const char* name) { return as_u8(bytes_of(out(c, name))); }
std::span<uint8_t> in_bytes(const ulpgate_call* c, const char* name) { return as_u8(bytes_of(in(c, name))); }

int64_t int_param(const ulpgate_call* c, const char* name) {
  const ulpgate_param* p = ulpgate_find_param(c, name);
  if (!p) throw std::runtime_error(std::string("missing parameter ") + name);
  return p->int_value;
}
std::string text_param(const ulpgate_call* c, const char* name) {
  const ulpgate_param* p = ulpgate_find_param(c, name);
  if (!p || !p->text_value) throw std::runtime_error(std::string("missing parameter ") + name);
  return p->text_value;
}

// The C boundary: no exception crosses it; a failure is a return value and a message.
template <class Fn>
int guarded(char* message, size_t size, Fn fn) {
  try {
    fn();
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(message, size, "%s", e.what());
    return 1;
  }
}

// The quantizer's parameters (quant ops and norm.rms-quant) into a spec with those fields.
template <class Spec>
void read_quantizer(const ulpgate_call* c, Spec& s) {
  s.format = parse_format(text_param(c, "format"));
  s.gs = int(int_param(c, "group_size"));
  s.layout = quant::parse_layout(text_param(c, "scale_layout"));
  s.ue8m0 = int_param(c, "ue8m0") != 0;
}

int run_quant(void*, const ulpgate_call* c, char* message, size_t size) {
  return guarded(message, size, [&] {
    const DLTensor* x = in(c, "x");
    quant::Spec s;
    s.op = quant::parse_op(c->op);
    s.profile = &quant::profile(c->profile);
    read_quantizer(c, s);
    s.m = x->shape[0], s.k = x->shape[1];
    quant_kernels::run_quant_host(arch_by_name(c->arch), s, element_format(x->dtype), bytes_of(x), out_bytes(c, "codes"),
                                  out_bytes(c, "scales"));
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
    if (s.quantizes()) read_quantizer(c, s);
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

// One row per op and profile the host kernels implement.
const std::vector<ulpgate_op>& table() {
  static const std::vector<ulpgate_op> rows = [] {
    std::vector<ulpgate_op> r;
    static const char* const kArchs = "host-w32,host-w64";
    for (quant::Op op : {quant::Op::group, quant::Op::token, quant::Op::block, quant::Op::mx})
      for (const quant::Profile& p : quant::profiles()) r.push_back({quant::op_name(op).data(), p.name.data(), kArchs, run_quant});
    for (norm::Op op : {norm::Op::rms, norm::Op::rms_add, norm::Op::rms_quant})
      for (const norm::Profile& p : norm::profiles()) r.push_back({norm::op_name(op).data(), p.name.data(), kArchs, run_norm});
    for (gemm::Op op : {gemm::Op::tensor, gemm::Op::rowwise, gemm::Op::block, gemm::Op::mx})
      for (const gemm::Profile& p : gemm::profiles())
        r.push_back({gemm::op_name(op).data(), p.name.data(), kArchs, run_gemm, gemm_kernels::kClaimedModel});
    return r;
  }();
  return rows;
}

}  // namespace

extern "C" ULPGATE_EXPORT const ulpgate_plugin* ulpgate_plugin_entry(void) {
  static const ulpgate_plugin plugin{ULPGATE_ABI_VERSION, "sample", "1", table().data(), int32_t(table().size()), nullptr};
  return &plugin;
}
