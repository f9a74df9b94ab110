// One op call as the C API describes it (include/ulpgate/ulpgate.h): DLPack tensors over the
// harness's buffers and the op's parameters. One description per family, written once here, serves
// every caller of the C API (the plugin backend). An OpCall owns every name, shape and string the
// C structs point at.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "include/ulpgate/ulpgate.h"
#include "kernels/portable/device_copies.hpp"
#include "reference/allreduce/allreduce.hpp"
#include "reference/gemm/gemm.hpp"
#include "reference/gemm/grouped.hpp"
#include "reference/norm/norm.hpp"
#include "reference/quant/grouped.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::plugin {

class OpCall {
 public:
  OpCall(std::string op, std::string profile, std::string arch);
  OpCall(const OpCall&) = delete;
  OpCall& operator=(const OpCall&) = delete;

  // An element tensor of `format` (fp8 formats and scale storage travel as bytes).
  void input(const std::string& name, Format format, std::vector<int64_t> shape, std::span<const std::byte> data);
  void output(const std::string& name, Format format, std::vector<int64_t> shape, std::span<std::byte> data);
  void bytes_input(const std::string& name, std::span<const uint8_t> data);
  void bytes_output(const std::string& name, std::span<uint8_t> data);
  void param(const std::string& name, int64_t value);
  void param(const std::string& name, double value);
  void param(const std::string& name, const std::string& value);

  // Moves every tensor to device memory (`copies`: uploads inputs, guards outputs), on its stream.
  void to_device(DeviceCopies& copies);

  const ulpgate_call& c();

 private:
  DLTensor tensor(Format format, std::vector<int64_t> shape, void* data);
  const char* keep(std::string s) { return strings_.emplace_back(std::move(s)).c_str(); }

  std::deque<std::string> strings_;
  std::deque<std::vector<int64_t>> shapes_;
  std::vector<ulpgate_tensor> inputs_, outputs_;
  std::vector<std::span<std::byte>> output_bytes_;  // the host buffers behind outputs_
  std::vector<ulpgate_param> params_;
  ulpgate_call call_{};
};

// quant.*: x in; codes and the scale storage out (quant::Spec says the layout).
void describe_quant(OpCall& call, const quant::Spec& spec, Format input, std::span<const std::byte> x,
                    std::span<uint8_t> codes, std::span<uint8_t> scales);
// norm.*: the op's inputs and outputs (norm::Buffers), eps and the fused quantizer's parameters.
void describe_norm(OpCall& call, const norm::Spec& spec, const norm::Buffers& io);
// gemm.*: A, B and their scale storage in; D out.
void describe_gemm(OpCall& call, const gemm::Spec& spec, const gemm::Buffers& io);
// moe.gemm: A [rows, K], B [G, N, K], both scale storages, the row map as int32 bytes (m_indices or
// masked_m) in; D [rows, N] out (rows that are not tokens must stay as they are); the layout,
// experts, align and slot_rows as parameters.
void describe_grouped_gemm(OpCall& call, const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io);
// moe.quant: x [rows, K] and the row map in (the same row parameters); codes [rows, K] and the
// scale storage, part by part, out (rows that are not tokens must stay as they are); the
// quantizer's parameters as quant.*'s.
void describe_grouped_quant(OpCall& call, const quant::GroupedSpec& spec, Format input, std::span<const std::byte> x,
                            std::span<const int32_t> row_map, std::span<uint8_t> codes, std::span<uint8_t> scales);
// allreduce: every rank's storage in (x.rR, out of place) and out (y.rR); the view and the world.
void describe_allreduce(OpCall& call, const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io);

}  // namespace ulpgate::plugin
