#include "harness/norm/divergence.hpp"

#include <cmath>
#include <cstring>
#include <set>

namespace ulpgate::norm {
namespace {

Divergence compare_twins(const Case& a, const Case& b, float threshold) {
  const Tensors in = a.inputs();  // b's are the same: inputs do not depend on the profile
  const Result ra = normalize_profile(a.spec, in.values), rb = normalize_profile(b.spec, in.values);
  quant::Profile qp = a.spec.quant_row();
  const quant::Spec qs = a.spec.quant_spec(qp);
  const int64_t groups = qs.scale_shape().g, cols = qs.tile_cols();
  Divergence d{a.id(), b.id(), a.spec.m * groups, 0, 0, 0};
  for (int64_t row = 0; row < a.spec.m; ++row)
    for (int64_t g = 0; g < groups; ++g) {
      const size_t si = size_t(row / qs.tile_rows() * groups + g), i0 = size_t(row * a.spec.h + g * cols);
      bool same = std::memcmp(&ra.quant.scales[si], &rb.quant.scales[si], 4) == 0;
      float amax = 0;
      for (size_t i = i0; i < i0 + size_t(cols); ++i) {
        same = same && ra.quant.codes[i] == rb.quant.codes[i];
        amax = std::fmax(amax, std::fabs(ra.v[i]));
      }
      if (same) continue;
      ++d.differing;
      d.unexplained += !(amax < threshold);
      d.max_amax = std::fmax(d.max_amax, amax);
    }
  return d;
}

}  // namespace

std::vector<Divergence> profile_divergences(const std::vector<Case>& cases, const DivergencePair& pair) {
  std::set<std::string> ids;
  for (const Case& c : cases) ids.insert(c.id());
  std::vector<Divergence> out;
  for (const Case& a : cases) {
    if (!a.spec.quantizes() || a.spec.profile->name != pair.a) continue;
    Case b = a;
    b.spec.profile = &profile(pair.b);
    // Twins whose z differs too (vLLM's fused dynamic rms-add-quant keeps x + residual in fp32,
    // the unfused norm rounds it) may differ in any group: not the floors' divergence.
    if (a.spec.rounds_residual() != b.spec.rounds_residual()) continue;
    if (ids.contains(b.id())) out.push_back(compare_twins(a, b, pair.amax_below));
  }
  return out;
}

}  // namespace ulpgate::norm
