#include "harness/quant/run_case.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "harness/core/family.hpp"
#include "harness/core/input_witness.hpp"
#include "harness/golden/golden_file.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/catalog.hpp"
#include "harness/quant/device_reference.hpp"
#include "harness/quant/silu_compare.hpp"

namespace ulpgate::quant {
namespace {

// What a repeated run of a grid-wide reduction (quant.tensor's dynamic amax) that disagrees says:
// atomics whose result depends on the blocks' timing (R23). "" when both gave the same bits.
std::string repeat_words(size_t codes, bool scale) {
  if (codes == 0 && !scale) return "";
  return "not deterministic: a repeated run gave " + std::to_string(codes) + " different codes" +
         (scale ? " and another scale" : "");
}
bool runs_twice(const Spec& s) { return s.op == Op::tensor && s.writes_scales(); }

std::string repeat_difference(const Case& c, const Inputs& in, Backend& backend, std::span<const uint8_t> codes,
                              std::span<const uint8_t> storage) {
  std::vector<uint8_t> codes2(codes.size(), kPoison), storage2(storage.size(), kPoison);
  backend.quant(c.spec, c.input, in.raw, codes2, storage2);
  size_t n = 0;
  for (size_t i = 0; i < codes.size(); ++i) n += codes[i] != codes2[i];
  return repeat_words(n, !std::ranges::equal(storage, storage2));
}

// The outputs' digest (codes, then scale storage) fetched a slab of rows at a time, and how a
// repeated run's outputs differ where there is one.
struct Fetched {
  uint64_t digest;
  std::string repeat;
};
Fetched fetched(const Case& c, quant_kernels::HeldOutputs& out, quant_kernels::HeldOutputs* again,
                int64_t slab_elements) {
  OutputDigest digest;
  const int64_t per = std::max<int64_t>(1, slab_elements / std::max<int64_t>(1, c.spec.k));
  std::vector<uint8_t> codes, codes2;
  size_t n = 0;
  for (int64_t row0 = 0; row0 < c.spec.m; row0 += per) {
    const int64_t row1 = std::min(c.spec.m, row0 + per);
    codes.resize(size_t((row1 - row0) * c.spec.k));
    out.codes(row0, row1, codes);
    digest.add(std::as_bytes(std::span(codes)));
    if (!again) continue;
    codes2.resize(codes.size());
    again->codes(row0, row1, codes2);
    for (size_t i = 0; i < codes.size(); ++i) n += codes[i] != codes2[i];
  }
  digest.add(std::as_bytes(out.storage()));
  return {digest.value(), again ? repeat_words(n, !std::ranges::equal(out.storage(), again->storage())) : ""};
}

// Runs the backend into `out`: on its device, from the reference's copy of the input there, with
// the outputs left there (Backend::quant_held); else from the input made whole here (`whole`, once)
// into guarded buffers here, set before the kernel runs so that a failed run is digested as it
// left them. Returns whether the outputs stayed on the device.
bool run_into(const Case& c, Backend& backend, const quant_kernels::HeldReference& held, size_t x_bytes, Inputs& whole,
              std::unique_ptr<quant_kernels::HeldOutputs>& out) {
  if ((out = backend.quant_held(c.spec, c.input, held.input_on_device(), x_bytes))) return true;
  if (whole.raw.empty()) whole = c.raw_inputs();
  auto here = std::make_unique<HostOutputs>(c.spec);
  HostOutputs& h = *here;
  out = std::move(here);
  backend.quant(c.spec, c.input, whole.raw, h.codes_out(), h.storage_out());
  h.ran();
  return false;
}

// A case with a device reference: its input made a slab at a time on the reference's device, its
// results there, and the backend's outputs (there too where the backend leaves them there) judged,
// compared with a repeated run and digested a slab at a time.
CaseResult run_held(const Case& c, Backend& backend, DeviceReference& device, int64_t slab_elements) {
  const auto t0 = std::chrono::steady_clock::now();
  const InputRows rows = c.input_rows();
  InputWitness witness;  // the kernel reads the reference's copy of the input, and so does the judge
  const std::unique_ptr<quant_kernels::HeldReference> held = device.held(c, witness.witnessed(rows));
  const size_t x_bytes = size_t(rows.m) * rows.row_bytes;
  std::unique_ptr<quant_kernels::HeldOutputs> out, again;
  bool on_device = false;
  CaseResult r = judged(
      c.id(), "quant", c.spec.profile->name, GuardedOutputs{},
      [&] {
        Inputs whole;  // only for a backend without quant_held
        on_device = run_into(c, backend, *held, x_bytes, whole, out);
        if (runs_twice(c.spec)) run_into(c, backend, *held, x_bytes, whole, again);
        if (!out->violations().empty()) throw guard::OutOfBounds(out->violations());
      },
      [&] { return compare_held(c, *held, *out, default_budgets(), slab_elements); });
  // Outputs a failed device run never handed over are digested as the poison they would hold.
  const Fetched f = out ? fetched(c, *out, again.get(), slab_elements)
                        : Fetched{repeated_byte_digest(std::byte{kPoison}, c.spec.m * c.spec.k + c.spec.scale_bytes()), ""};
  worsen(r, Verdict::over_budget, f.repeat);
  worsen(r, Verdict::out_of_bounds,
         witness.changed("x", [&](int64_t row0, int64_t row1, std::span<std::byte> b) { held->input(row0, row1, b); }));
  stamp(r, f.digest, backend, t0);
  r.note = (on_device ? "references and outputs on " : "references on ") + device.name();
  return r;
}

}  // namespace

HostOutputs::HostOutputs(const Spec& s)
    : k_(s.k),
      codes_(outputs_.add("codes", size_t(s.m * s.k), kPoison)),
      storage_(outputs_.add("scales", size_t(s.scale_bytes()), kPoison)) {}

void HostOutputs::codes(int64_t row0, int64_t row1, std::span<uint8_t> out) {
  const auto rows = codes_.subspan(size_t(row0 * k_), size_t((row1 - row0) * k_));
  if (out.size() != rows.size()) throw std::logic_error("HostOutputs::codes: a slab of another size");
  std::ranges::copy(rows, out.begin());
}

CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseRun run;
  // The device reference reads the raw input: its fp32 values (4 bytes an element, twice the
  // input's) are made only where the comparator needs them. Where slab_elements > 0 the input is
  // made on its device a slab at a time and stays there with its results, and both are judged a
  // slab at a time beside the outputs (run.inputs stays empty).
  DeviceReference* device = reference_for(backend, c);
  const bool held = device && slab_elements > 0 && c.spec.op != Op::silu_mul;  // silu-mul: its own comparator
  if (held) {
    run.result = run_held(c, backend, *device, slab_elements);
    return run;
  }
  run.inputs = device ? c.raw_inputs() : c.inputs();
  run.expected = device ? device->expected(c, run.inputs) : expected(c, run.inputs);
  // The digest covers codes then scale storage (both may be empty: M = 0).
  run.codes = run.outputs.add("codes", size_t(c.spec.m * c.spec.k), kPoison);
  run.storage = run.outputs.add("scales", size_t(c.spec.scale_bytes()), kPoison);
  std::string repeat;
  run.result = judged(
      c.id(), "quant", c.spec.profile->name, run.outputs,
      [&] {
        backend.quant(c.spec, c.input, run.inputs.raw, run.codes, run.storage);
        if (runs_twice(c.spec)) repeat = repeat_difference(c, run.inputs, backend, run.codes, run.storage);
      },
      [&] {
        const Observed o{run.codes, run.storage};
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
// reference a passing case holds a slab of each where the backend keeps its input and outputs on
// its device (the CUDA backend: 0.4-0.5 GB at 2^31 elements on an H200), else the input and the
// codes (twice for a dynamic per-tensor scale: the repeated run), 4-5 bytes; a failing one
// fetches every reference, code and input byte and widens the input to diagnose it, as the host
// reference holds them. The estimate, from the id alone, covers every backend.
double host_bytes(std::string_view id) {
  const Case c = Case::parse(id);
  return double(c.spec.m) * double(c.spec.input_cols()) * 16 + double(c.spec.scale_bytes());
}

}  // namespace ulpgate::quant
