// What the device quantization reference hands back (reference_pipeline.hpp): its results whole,
// or left on the device and fetched by rows. Apart from reference_plan.hpp so that the harness
// takes them without the kernels' headers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "reference/quant/quant.hpp"

namespace ulpgate::quant_kernels {

// quant::Expected's two results, from the device.
struct ReferenceResult {
  quant::Result profile;       // codes, scales, scale storage
  std::vector<uint8_t> ideal;  // the exact quotients' codes with the profile's scales
};

// A case's results left on the device (issue 30: a 2^31-element case's two codes are 4 GB): the
// scales here, both codes fetched a range of rows at a time, so that a judge holds a slab of them.
class HeldReference {
 public:
  virtual ~HeldReference() = default;
  // The profile's scales and their storage; its codes are empty.
  const quant::Result& scales() const { return scales_; }
  // Both codes of rows [row0, row1) into `codes` and `ideal` ((row1 - row0) K bytes each).
  virtual void rows(int64_t row0, int64_t row1, std::span<uint8_t> codes, std::span<uint8_t> ideal) = 0;
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

}  // namespace ulpgate::quant_kernels
