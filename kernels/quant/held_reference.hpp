// What the device quantization reference hands back (reference_pipeline.hpp): its results whole,
// or left on the device and fetched by rows; and what a kernel under test leaves on its device
// (HeldOutputs). Apart from reference_plan.hpp so that the harness takes them without the
// kernels' headers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/portable/guard.hpp"
#include "kernels/portable/input_rows.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate::quant_kernels {

// quant::Expected's two results, from the device.
struct ReferenceResult {
  quant::Result profile;       // codes, scales, scale storage
  std::vector<uint8_t> ideal;  // the exact quotients' codes with the profile's scales
};

// A kernel's codes counted against both of the reference's (HeldReference::count_codes): equal to
// the profile's where that is the ideal's, equal to it where it is not (a proven tie flip), not
// the profile's, and the NaN codes among them.
struct CodeCounts {
  int64_t as_ideal = 0, tie_flips = 0, other = 0, nan = 0;
};

// A case's results left on the device (issue 30: a 2^31-element case's two codes are 4 GB): the
// scales here, both codes fetched a range of rows at a time, so that a judge holds a slab of them;
// with the input it read, which the kernel under test may read there too (quant_held).
class HeldReference {
 public:
  virtual ~HeldReference() = default;
  // The profile's scales and their storage; its codes are empty.
  const quant::Result& scales() const { return scales_; }
  // Both codes of rows [row0, row1) into `codes` and `ideal` ((row1 - row0) K bytes each).
  virtual void rows(int64_t row0, int64_t row1, std::span<uint8_t> codes, std::span<uint8_t> ideal) = 0;
  // The raw input's rows [row0, row1) into `out`, from the device's copy.
  virtual void input(int64_t row0, int64_t row1, std::span<std::byte> out) = 0;
  // That copy: a pointer in the device's memory, for kernels that run there.
  virtual const void* input_on_device() const = 0;
  // Rows [row0, row1) of a kernel's codes, `actual` in this device's memory (all of the case's
  // codes: HeldOutputs::codes_on_device), counted on the device.
  virtual CodeCounts count_codes(int64_t row0, int64_t row1, const uint8_t* actual) = 0;
  // Every row: the ReferenceResult.
  ReferenceResult whole(int64_t m, int64_t k) {
    ReferenceResult r{scales_, std::vector<uint8_t>(size_t(m * k))};
    r.profile.codes.resize(size_t(m * k));
    rows(0, m, r.profile.codes, r.ideal);
    return r;
  }

 protected:
  quant::Result scales_;
};

// A quantization kernel's outputs left on its device (issue 30: a 2^31-element case's codes are
// 2 GB): the codes fetched a range of rows at a time, the scale storage here (small).
class HeldOutputs {
 public:
  virtual ~HeldOutputs() = default;
  // The codes of rows [row0, row1) into `out` ((row1 - row0) K bytes).
  virtual void codes(int64_t row0, int64_t row1, std::span<uint8_t> out) = 0;
  virtual std::span<const uint8_t> storage() const = 0;
  // The codes where a reference on the same device reads them (count_codes); null where none can.
  virtual const uint8_t* codes_on_device() const { return nullptr; }
  // Writes past either output (their guard regions), found when the kernel had run.
  virtual const std::vector<guard::Violation>& violations() const = 0;
};

}  // namespace ulpgate::quant_kernels
