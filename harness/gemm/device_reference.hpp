// The GEMM reference computed on a device (kernels/gemm/reference_gpu.hpp): the exact ideal, and a
// model's replay with its error bound, each bit for bit what reference/gemm computes on the host
// (the kernels' tests hold them to it on the host-SIMT emulator). A backend whose kernels run on a
// GPU offers one (Backend::gemm_reference); run_case, and moe.gemm's per expert, then judge
// production shapes in seconds where the host takes minutes to hours, and keep the host reference
// for what the device does not replay (a model it declines) and for identification's samples
// (identify.hpp replays its surviving candidates on all of D here).
#pragma once

#include <memory>
#include <string>

#include "harness/core/backend.hpp"
#include "harness/core/case_result.hpp"
#include "kernels/gemm/reference_gpu.hpp"  // HeldOperands: plain C++
#include "reference/gemm/gemm.hpp"

namespace ulpgate::gemm {

class DeviceReference {
 public:
  virtual ~DeviceReference() = default;
  virtual std::string name() const = 0;  // "cuda", "host-simt (sm90)"
  // Why it does not replay `model` on this spec (empty: it does).
  virtual std::string declines(const Spec& spec, const AccumModel& model) const = 0;
  virtual Ideal ideal(const Spec& spec, const Operands& in) = 0;
  virtual Replay replay(const Spec& spec, const AccumModel& model, const Operands& in) = 0;
  // The case's operands held on the device while slabs of D's rows get their references there.
  virtual std::unique_ptr<gemm_kernels::HeldOperands> hold(const Spec& spec, const Operands& in) = 0;
};

// The backend's device reference where it replays `model` (null: the ideal alone), else null.
DeviceReference* device_for(Backend& backend, const Spec& spec, const AccumModel* model);

// gemm_ideal and gemm_replay, on the backend's device where it has a reference that replays the
// model (`where`, when given, gets its name), else here.
Ideal ideal_of(Backend& backend, const Spec& spec, const Operands& in);
Replay replay_of(Backend& backend, const Spec& spec, const AccumModel& model, const Operands& in,
                 std::string* where = nullptr);

// Rows [m0, m1) of D (`got`, as stored) judged on the device that holds the case's operands, as a
// bit-exact claim of `model` (HeldOperands::judge, the budget's factor of the bound): what compare
// makes of them when every element is exact; else a failing result whose counts are not compare's
// (the caller judges those rows here for their story).
CaseResult judged_on_device(gemm_kernels::HeldOperands& held, const Spec& spec, const AccumModel& model, int64_t m0,
                            int64_t m1, std::span<const std::byte> got);

}  // namespace ulpgate::gemm
