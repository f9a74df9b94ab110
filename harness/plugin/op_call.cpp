#include "harness/plugin/op_call.hpp"

namespace ulpgate::plugin {
namespace {

DLDataType dl_type(Format f) {
  if (f == Format::bf16) return {kDLBfloat, 16, 1};
  if (f == Format::fp16 || f == Format::fp32) return {kDLFloat, uint8_t(info(f).bits), 1};
  return {kDLUInt, 8, 1};  // fp8 codes, ue8m0 bytes
}

// The quantizer's parameters, shared by quant.* and norm.rms-quant.
void quantizer_params(OpCall& call, Format format, int gs, quant::Layout layout, bool ue8m0, double fp8_max) {
  call.param("format", std::string(format_name(format)));
  call.param("group_size", int64_t(gs));
  call.param("scale_layout", std::string(quant::layout_name(layout)));
  call.param("ue8m0", int64_t(ue8m0));
  call.param("fp8_max", fp8_max);
}

}  // namespace

OpCall::OpCall(std::string op, std::string profile, std::string arch) {
  call_.op = keep(std::move(op));
  call_.profile = keep(std::move(profile));
  call_.arch = keep(std::move(arch));
}

DLTensor OpCall::tensor(Format format, std::vector<int64_t> shape, void* data) {
  DLTensor t{};
  t.data = data;
  t.device = {kDLCPU, 0};
  t.ndim = int(shape.size());
  t.dtype = dl_type(format);
  t.shape = shapes_.emplace_back(std::move(shape)).data();
  return t;
}

void OpCall::input(const std::string& name, Format format, std::vector<int64_t> shape, std::span<const std::byte> data) {
  inputs_.push_back({keep(name), tensor(format, std::move(shape), const_cast<std::byte*>(data.data()))});
}
void OpCall::output(const std::string& name, Format format, std::vector<int64_t> shape, std::span<std::byte> data) {
  outputs_.push_back({keep(name), tensor(format, std::move(shape), data.data())});
  output_bytes_.push_back(data);
}
void OpCall::bytes_input(const std::string& name, std::span<const uint8_t> data) {
  input(name, Format::e4m3fn, {int64_t(data.size())}, std::as_bytes(data));
}
void OpCall::bytes_output(const std::string& name, std::span<uint8_t> data) {
  output(name, Format::e4m3fn, {int64_t(data.size())}, std::as_writable_bytes(data));
}

namespace {
size_t bytes_of(const DLTensor& t) {
  size_t n = t.dtype.bits / 8;
  for (int i = 0; i < t.ndim; ++i) n *= size_t(t.shape[i]);
  return n;
}
}  // namespace

void OpCall::to_device(DeviceCopies& copies) {
  const DLDevice gpu{kDLCUDA, copies.device()};
  for (ulpgate_tensor& t : inputs_)
    t.tensor.data = copies.input({static_cast<const std::byte*>(t.tensor.data), bytes_of(t.tensor)}), t.tensor.device = gpu;
  for (size_t i = 0; i < outputs_.size(); ++i)
    outputs_[i].tensor.data = copies.output(outputs_[i].name, output_bytes_[i]), outputs_[i].tensor.device = gpu;
  call_.stream = copies.stream();
}
void OpCall::param(const std::string& name, int64_t value) {
  params_.push_back({keep(name), ULPGATE_PARAM_INT, value, 0, nullptr});
}
void OpCall::param(const std::string& name, double value) {
  params_.push_back({keep(name), ULPGATE_PARAM_FLOAT, 0, value, nullptr});
}
void OpCall::param(const std::string& name, const std::string& value) {
  params_.push_back({keep(name), ULPGATE_PARAM_TEXT, 0, 0, keep(value)});
}

const ulpgate_call& OpCall::c() {
  call_.inputs = inputs_.data(), call_.n_inputs = int32_t(inputs_.size());
  call_.outputs = outputs_.data(), call_.n_outputs = int32_t(outputs_.size());
  call_.params = params_.data(), call_.n_params = int32_t(params_.size());
  return call_;
}

void describe_quant(OpCall& call, const quant::Spec& spec, Format input, std::span<const std::byte> x,
                    std::span<uint8_t> codes, std::span<uint8_t> scales) {
  call.input("x", input, {spec.m, spec.input_cols()}, x);  // silu-mul: [M, 2K], gate then up
  // quant.tensor with a static scale: the scale is an input (and the parameter static_scale, which a
  // plugin can read wherever its tensors live), and "scales" has no bytes unless the profile writes
  // one (TransformerEngine's scale_inv).
  if (spec.static_scale != 0) {
    call.input("scale", Format::fp32, {1}, std::as_bytes(std::span(&spec.static_scale, 1)));
    call.param("static_scale", double(spec.static_scale));
  }
  call.output("codes", spec.format, {spec.m, spec.k}, std::as_writable_bytes(codes));
  call.bytes_output("scales", scales);
  quantizer_params(call, spec.format, spec.gs, spec.layout, spec.ue8m0, double(spec.fp8_max()));
}

void describe_norm(OpCall& call, const norm::Spec& spec, const norm::Buffers& io) {
  call.input("x", spec.dtype, {spec.m, spec.h}, io.x);
  call.input("weight", spec.dtype, {spec.h}, io.weight);
  if (spec.has_residual()) call.input("residual", spec.dtype, {spec.m, spec.h}, io.residual);
  if (!io.y.empty()) call.output("y", spec.dtype, {spec.m, spec.h}, io.y);
  if (spec.has_residual()) call.output("residual_out", spec.dtype, {spec.m, spec.h}, io.residual_out);
  call.param("eps", double(spec.profile->eps));
  if (!spec.quantizes()) return;
  // A static per-tensor scale is an input ("scales" then has no bytes); scale_ub a parameter.
  if (spec.static_scale != 0) {
    call.input("scale", Format::fp32, {1}, std::as_bytes(std::span(&spec.static_scale, 1)));
    call.param("static_scale", double(spec.static_scale));
  }
  if (spec.scale_ub != 0) call.param("scale_ub", double(spec.scale_ub));
  call.output("codes", spec.format, {spec.m, spec.h}, std::as_writable_bytes(io.codes));
  call.bytes_output("scales", io.scales);
  const quant::Profile qp = spec.quant_row();
  const quant::Spec qs = spec.quant_spec(qp);
  quantizer_params(call, spec.format, spec.gs, qs.layout, spec.ue8m0, double(qp.fp8_max(spec.format)));
}

void describe_gemm(OpCall& call, const gemm::Spec& spec, const gemm::Buffers& io) {
  call.input("a", spec.a_format, {spec.m, spec.k}, std::as_bytes(io.a));
  call.input("b", spec.b_format, {spec.n, spec.k}, std::as_bytes(io.b));
  call.bytes_input("scale_a", io.sa);
  call.bytes_input("scale_b", io.sb);
  call.output("d", spec.out, {spec.m, spec.n}, io.d);
  call.param("a_format", std::string(format_name(spec.a_format)));
  call.param("b_format", std::string(format_name(spec.b_format)));
  call.param("out", std::string(format_name(spec.out)));
  call.param("ue8m0", int64_t(spec.ue8m0));
}

namespace {

// A grouped op's rows: its int32 row map as bytes (m_indices [rows], -1: not a token; or masked_m
// [experts]) and the parameters that place the experts' rows.
void describe_rows(OpCall& call, const moe::ExpertRows& rows, std::span<const int32_t> map) {
  const bool masked = rows.layout == moe::GroupLayout::masked;
  call.bytes_input(masked ? "masked_m" : "m_indices", {reinterpret_cast<const uint8_t*>(map.data()), map.size_bytes()});
  call.param("layout", std::string(moe::group_layout_name(rows.layout)));
  call.param("experts", rows.experts());
  call.param("align", rows.align);
  call.param("slot_rows", masked ? rows.slot_rows() : int64_t(0));
}

}  // namespace

void describe_grouped_gemm(OpCall& call, const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io) {
  const gemm::Spec& b = spec.base;
  const int64_t rows = spec.rows();
  call.input("a", b.a_format, {rows, b.k}, std::as_bytes(io.a));
  call.input("b", b.b_format, {spec.experts(), b.n, b.k}, std::as_bytes(io.b));
  call.bytes_input("scale_a", io.sa);
  call.bytes_input("scale_b", io.sb);
  describe_rows(call, spec, spec.layout == moe::GroupLayout::masked ? io.masked_m : io.m_indices);
  call.output("d", b.out, {rows, b.n}, io.d);
  call.param("a_format", std::string(format_name(b.a_format)));
  call.param("b_format", std::string(format_name(b.b_format)));
  call.param("out", std::string(format_name(b.out)));
  call.param("ue8m0", int64_t(b.ue8m0));
}

void describe_grouped_quant(OpCall& call, const quant::GroupedSpec& spec, Format input, std::span<const std::byte> x,
                            std::span<const int32_t> row_map, std::span<uint8_t> codes, std::span<uint8_t> scales) {
  const quant::Spec& b = spec.base;
  call.input("x", input, {spec.rows(), b.k}, x);
  describe_rows(call, spec, row_map);
  call.output("codes", b.format, {spec.rows(), b.k}, std::as_writable_bytes(codes));
  call.bytes_output("scales", scales);  // part by part (reference/quant/grouped.hpp)
  quantizer_params(call, b.format, b.gs, b.layout, b.ue8m0, double(b.fp8_max()));
}

void describe_allreduce(OpCall& call, const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) {
  const int64_t storage = spec.view.storage();
  for (size_t r = 0; r < io.size(); ++r) {
    const std::string rank = ".r" + std::to_string(r);
    if (!spec.in_place) call.input("x" + rank, spec.dtype, {storage}, io[r].input);
    call.output("y" + rank, spec.dtype, {storage}, io[r].output);
  }
  call.param("world", int64_t(spec.world));
  call.param("offset", spec.view.offset);
  call.param("count", spec.view.count);
  call.param("in_place", int64_t(spec.in_place));
}

}  // namespace ulpgate::plugin
