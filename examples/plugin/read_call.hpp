// Reading an op call (include/ulpgate/ulpgate.h) back into the reference's specs: what the sample
// plugins share. Each throws std::runtime_error naming a missing parameter.
#pragma once

#include <cstdio>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "include/ulpgate/ulpgate.h"
#include "reference/gemm/gemm.hpp"
#include "reference/norm/norm.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::sample {

inline std::span<std::byte> bytes_of(const DLTensor* t) {
  if (!t) return {};
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return {static_cast<std::byte*>(t->data), size_t(n) * t->dtype.bits / 8};
}

inline Format element_format(const DLDataType& d) {
  if (d.code == kDLBfloat) return Format::bf16;
  return d.bits == 16 ? Format::fp16 : Format::fp32;
}

inline const DLTensor* in(const ulpgate_call* c, const char* name) { return ulpgate_find_tensor(c->inputs, c->n_inputs, name); }
inline const DLTensor* out(const ulpgate_call* c, const char* name) { return ulpgate_find_tensor(c->outputs, c->n_outputs, name); }
inline std::span<uint8_t> as_u8(std::span<std::byte> b) { return {reinterpret_cast<uint8_t*>(b.data()), b.size()}; }
inline std::span<uint8_t> out_bytes(const ulpgate_call* c, const char* name) { return as_u8(bytes_of(out(c, name))); }
inline std::span<uint8_t> in_bytes(const ulpgate_call* c, const char* name) { return as_u8(bytes_of(in(c, name))); }

inline int64_t int_param(const ulpgate_call* c, const char* name) {
  const ulpgate_param* p = ulpgate_find_param(c, name);
  if (!p) throw std::runtime_error(std::string("missing parameter ") + name);
  return p->int_value;
}
// A float parameter, or `absent` where the call has none.
inline double float_param_or(const ulpgate_call* c, const char* name, double absent) {
  const ulpgate_param* p = ulpgate_find_param(c, name);
  return p ? p->float_value : absent;
}
inline std::string text_param(const ulpgate_call* c, const char* name) {
  const ulpgate_param* p = ulpgate_find_param(c, name);
  if (!p || !p->text_value) throw std::runtime_error(std::string("missing parameter ") + name);
  return p->text_value;
}

// The C boundary: no exception crosses it; a failure is a return value and a message.
template <class Fn>
inline int guarded(char* message, size_t size, Fn fn) {
  try {
    fn();
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(message, size, "%s", e.what());
    return 1;
  }
}

// The quantizer's parameters (quant ops and the quantizing norm ops) into a spec with those
// fields; a static scale comes as the parameter static_scale.
template <class Spec>
void read_quantizer(const ulpgate_call* c, Spec& s) {
  s.format = parse_format(text_param(c, "format"));
  s.gs = int(int_param(c, "group_size"));
  s.layout = quant::parse_layout(text_param(c, "scale_layout"));
  s.ue8m0 = int_param(c, "ue8m0") != 0;
  s.static_scale = float(float_param_or(c, "static_scale", 0));
}

inline quant::Spec quant_spec(const ulpgate_call* c) {
  const DLTensor* x = in(c, "x");
  quant::Spec s;
  s.op = quant::parse_op(c->op);
  s.profile = &quant::profile_for(s.op, c->profile);
  read_quantizer(c, s);
  s.m = x->shape[0], s.k = x->shape[1] / (s.op == quant::Op::silu_mul ? 2 : 1);  // silu-mul: [M, 2K]
  return s;
}

// One table row per quant op and profile, each running `fn` on `archs`.
inline void add_quant_rows(std::vector<ulpgate_op>& rows, const char* archs, ulpgate_op_fn fn) {
  for (quant::Op op : {quant::Op::group, quant::Op::token, quant::Op::block, quant::Op::mx})
    for (const quant::Profile& p : quant::profiles()) rows.push_back({quant::op_name(op).data(), p.name.data(), archs, fn, nullptr});
  for (const quant::Profile& p : quant::tensor_profiles()) rows.push_back({"quant.tensor", p.name.data(), archs, fn, nullptr});
  for (const quant::Profile& p : quant::silu_mul_profiles())
    rows.push_back({"quant.silu-mul", p.name.data(), archs, fn, nullptr});
}

}  // namespace ulpgate::sample
