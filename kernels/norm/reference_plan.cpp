#include "kernels/norm/reference_plan.hpp"

#include <atomic>
#include <optional>

#include "kernels/norm/reference_kernels.hpp"
#include "kernels/quant/reference_plan.hpp"
#include "reference/parallel.hpp"

namespace ulpgate::norm_kernels {
namespace {

norm::ExactSum row_sum(std::span<const uint64_t> limbs, std::span<const uint32_t> flags, int64_t row) {
  return norm::ExactSum::from(limbs.data() + row * norm::ExactSum::kLimbs, flags[size_t(row)]);
}

// A row's exact sum made here, where the device made none (RefRowsFast).
norm::ExactSum row_sum_here(const norm::Spec& spec, const RawInputs& in, int64_t row) {
  const norm::element::Steps steps = spec.steps();
  norm::ExactSum s;
  for (int64_t i = row * spec.h; i < (row + 1) * spec.h; ++i)
    s.add_square(z_at(steps, in.x.data(), in.residual.empty() ? nullptr : in.residual.data(), i));
  return s;
}

}  // namespace

std::string reference_declines(const norm::Spec& spec) {
  if (!spec.quantizes()) return {};
  const quant::Profile qp = spec.quant_row();
  const std::string why = quant_kernels::reference_declines(spec.quant_spec(qp), Format::fp32);
  return why.empty() ? why : "its quantization step: " + why;
}

norm::ExactSum eps_term(const norm::Spec& spec) {
  norm::ExactSum e;
  e.add_scaled(spec.profile->eps_added, spec.h);
  return e;
}

int64_t resolve_near_boundary(const norm::Spec& spec, const RawInputs& in, std::span<const uint64_t> limbs,
                              std::span<const uint32_t> flags, std::span<uint16_t> ideal) {
  const norm::element::Steps steps = spec.steps();
  std::atomic<int64_t> resolved{0};
  parallel_for_each(spec.m, std::max<int64_t>(1, (int64_t(1) << 16) / spec.h), [&](int64_t row) {
    std::optional<norm::IdealRow> exact;  // made for a row with such an element only
    for (int64_t c = 0; c < spec.h; ++c) {
      const auto i = size_t(row * spec.h + c);
      if (ideal[i] != kNearMark) continue;
      if (!exact) exact.emplace(limbs.empty() ? row_sum_here(spec, in, row) : row_sum(limbs, flags, row), *spec.profile, spec.h);
      const float z = z_at(steps, in.x.data(), in.residual.empty() ? nullptr : in.residual.data(), int64_t(i));
      ideal[i] = exact->y(spec.dtype, z, in.weight[size_t(c)]);
      ++resolved;
    }
  });
  return resolved;
}

}  // namespace ulpgate::norm_kernels
