// What an RMSNorm kernel under test leaves on its device (issue 30: a 2^31-element case's x and
// y are 4.3 GB each): its inputs, y or the fused quantizer's codes, and the written-back residual,
// fetched a range of rows at a time by a judge that holds a slab of them; the scales' storage
// (a 128th of the codes or less) whole. Plain C++, so that the harness takes it without the
// kernels' headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/portable/guard.hpp"

namespace ulpgate::norm_kernels {

class HeldOutputs {
 public:
  virtual ~HeldOutputs() = default;
  // Rows [row0, row1) of y, or of the written-back residual, into `out` ((row1 - row0) H elements).
  virtual void y(int64_t row0, int64_t row1, std::span<uint16_t> out) = 0;
  virtual void residual(int64_t row0, int64_t row1, std::span<uint16_t> out) = 0;
  // rms-quant: rows [row0, row1) of the codes ((row1 - row0) H bytes), and the scale storage.
  virtual void codes(int64_t row0, int64_t row1, std::span<uint8_t> out) = 0;
  virtual std::span<const uint8_t> storage() = 0;
  // The raw inputs' rows [row0, row1) as the kernel read them, or as it left them: x, and the
  // residual where the op has one (an empty span: that input not fetched).
  virtual void inputs(int64_t row0, int64_t row1, std::span<std::byte> x, std::span<std::byte> residual) = 0;
  // Writes past any output (their guard regions), found when the kernel had run.
  virtual const std::vector<guard::Violation>& violations() const = 0;
};

}  // namespace ulpgate::norm_kernels
