// What the device RMSNorm reference's tests share (reference_kernels_test.cpp,
// reference_fast_test.cpp): a case's inputs as the reference takes them, and the first difference
// between its result and the host reference's.
#pragma once

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "harness/norm/catalog.hpp"
#include "kernels/norm/reference_plan.hpp"

namespace ulpgate::norm::testing {

inline norm_kernels::RawInputs raw(const Tensors& t) {
  const auto halves = [](const std::vector<std::byte>& b) {
    return std::span<const uint16_t>(reinterpret_cast<const uint16_t*>(b.data()), b.size() / 2);
  };
  return {halves(t.x), halves(t.residual), t.values.weight};
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// The first difference between the device's result and the host's, or "": the profile's y,
// residual and r, the ideal's y and r, and rms-quant's quantizer inputs, codes and scales.
inline std::string difference(const Expected& host, const norm_kernels::ReferenceResult& dev) {
  const auto at = [](const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
    if (a.size() != b.size()) return std::string(" (sizes ") + std::to_string(a.size()) + " and " + std::to_string(b.size()) + ")";
    return " at " + std::to_string(std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin());
  };
  if (host.profile.y != dev.profile.y) return "profile y differs" + at(host.profile.y, dev.profile.y);
  if (host.profile.residual != dev.profile.residual) return "residual differs" + at(host.profile.residual, dev.profile.residual);
  if (!same_bits(host.profile.r, dev.profile.r)) return "profile r differs";
  if (host.ideal.y != dev.ideal.y) return "ideal y differs" + at(host.ideal.y, dev.ideal.y);
  if (!same_bits(host.ideal.r, dev.ideal.r)) return "ideal r differs";
  if (!same_bits(host.profile.v, dev.profile.v)) return "the quantizer's inputs differ";
  const quant::Result &hq = host.profile.quant, &dq = dev.profile.quant;
  if (hq.codes != dq.codes) return "codes differ";
  if (!same_bits(hq.scales, dq.scales)) return "scales differ";
  if (hq.storage != dq.storage) return "scale storage differs";
  return "";
}

}  // namespace ulpgate::norm::testing
