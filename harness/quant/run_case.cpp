#include "harness/quant/run_case.hpp"

#include <algorithm>
#include <chrono>

#include "harness/core/family.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/catalog.hpp"
#include "harness/quant/device_reference.hpp"
#include "harness/quant/silu_compare.hpp"

namespace ulpgate::quant {
namespace {

// A grid-wide reduction (quant.tensor's dynamic amax) is run twice: atomics whose result depends
// on the blocks' timing show as runs that disagree (R23). "" when both runs gave the same bits.
std::string repeat_difference(const Case& c, const Inputs& in, Backend& backend, std::span<const uint8_t> codes,
                              std::span<const uint8_t> storage) {
  std::vector<uint8_t> codes2(codes.size(), kPoison), storage2(storage.size(), kPoison);
  backend.quant(c.spec, c.input, in.raw, codes2, storage2);
  size_t n = 0;
  for (size_t i = 0; i < codes.size(); ++i) n += codes[i] != codes2[i];
  const bool scale = !std::ranges::equal(storage, storage2);
  if (n == 0 && !scale) return "";
  return "not deterministic: a repeated run gave " + std::to_string(n) + " different codes" +
         (scale ? " and another scale" : "");
}

}  // namespace

CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseRun run;
  // The device reference reads the raw input: its fp32 values (4 bytes an element, twice the
  // input's) are made only where the comparator needs them. Its results stay on the device, and
  // are judged a slab at a time, where slab_elements > 0.
  DeviceReference* device = reference_for(backend, c);
  const bool held = device && slab_elements > 0 && c.spec.op != Op::silu_mul;  // silu-mul: its own comparator
  run.inputs = device ? c.raw_inputs() : c.inputs();
  if (!held) run.expected = device ? device->expected(c, run.inputs) : expected(c, run.inputs);
  // The digest covers codes then scale storage (both may be empty: M = 0).
  run.codes = run.outputs.add("codes", size_t(c.spec.m * c.spec.k), kPoison);
  run.storage = run.outputs.add("scales", size_t(c.spec.scale_bytes()), kPoison);
  std::string repeat;
  run.result = judged(
      c.id(), "quant", c.spec.profile->name, run.outputs,
      [&] {
        backend.quant(c.spec, c.input, run.inputs.raw, run.codes, run.storage);
        if (c.spec.op == Op::tensor && c.spec.writes_scales())
          repeat = repeat_difference(c, run.inputs, backend, run.codes, run.storage);
      },
      [&] {
        const Observed o{run.codes, run.storage};
        if (held) return compare_held(c, run.inputs, *device->held(c, run.inputs), o, default_budgets(), slab_elements);
        if (c.spec.op == Op::silu_mul) return compare_silu_mul(c, run.inputs, run.expected, o, default_budgets());
        return compare(c, run.inputs, run.expected, o, default_budgets());
      });
  worsen(run.result, Verdict::over_budget, repeat);
  stamp(run.result, run.outputs, backend, t0);
  if (device) run.result.note = "references on " + device->name();
  return run;
}

std::vector<std::string> catalog_ids(Tier tier) { return case_ids(catalog(tier)); }

namespace {

std::vector<BundleTensor> bundle_tensors(const Case& c, const CaseRun& run) {
  const Spec& sp = c.spec;
  const ScaleShape ss = sp.scale_shape();
  const std::string fp8(format_name(sp.format));
  const int64_t storage = int64_t(run.storage.size());
  return {
      bundle_tensor("x", "input", std::string(format_name(c.input)), {sp.m, sp.input_cols()}, std::span<const std::byte>(run.inputs.raw)),
      bundle_tensor("codes_expected", "expected", fp8, {sp.m, sp.k}, std::span<const uint8_t>(run.expected.profile.codes)),
      bundle_tensor("codes_ideal", "expected-ideal", fp8, {sp.m, sp.k}, std::span<const uint8_t>(run.expected.ideal)),
      bundle_tensor("codes_actual", "actual", fp8, {sp.m, sp.k}, std::span<const uint8_t>(run.codes)),
      bundle_tensor("scales_expected", "expected", "fp32", {ss.m, ss.g}, std::span<const float>(run.expected.profile.scales)),
      bundle_tensor("scale_storage_expected", "expected", "uint8", {storage},
                    std::span<const uint8_t>(run.expected.profile.storage)),
      bundle_tensor("scale_storage_actual", "actual", "uint8", {storage}, std::span<const uint8_t>(run.storage)),
  };
}

}  // namespace

// A bundle holds the references whole: its case is judged whole.
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors) {
  const auto run = [&](const Case& c, Backend& b) { return run_case(c, b, tensors ? 0 : kSlabElements); };
  return ulpgate::run_case_id<Case>(id, backend, tensors, run, bundle_tensors);
}

// Held per input element: the input (2 bytes) and its fp32 values (4), expected, ideal and actual
// codes (3): 9 bytes; 14.6 measured at 2048 x 7168 on the host emulation (with the emulated
// kernel's own buffers). 16 covers both, and a more-than-2^31-element case stays within half of a
// 128 GB host; a failing case's diagnosis may add a few alternative results. With a device
// reference a passing case holds the input, the codes (twice for a dynamic per-tensor scale: the
// repeated run) and one slab, 4-5 bytes; a failing one fetches every reference and widens the
// input to diagnose it, as the host reference holds them.
double host_bytes(std::string_view id) {
  const Case c = Case::parse(id);
  return double(c.spec.m) * double(c.spec.input_cols()) * 16 + double(c.spec.scale_bytes());
}

}  // namespace ulpgate::quant
