#include "harness/norm/run_case.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "harness/core/chunked_judge.hpp"
#include "harness/core/family.hpp"
#include "harness/core/input_witness.hpp"
#include "harness/golden/golden_file.hpp"
#include "harness/norm/device_reference.hpp"
#include "harness/norm/catalog.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/compare.hpp"

namespace ulpgate::norm {
namespace {

// The fused quantizer's scale storage: its layout, the [M, G] scales it stores and its bytes (0:
// a static scale, an input), and whether each row has scales of its own or none are written.
struct ScaleStorage {
  quant::Layout layout;
  quant::ScaleShape shape;
  int64_t bytes;
  bool rows_apart;
};
ScaleStorage scale_storage(const Spec& s) {
  const quant::Profile qp = s.quant_row();
  const quant::Spec qs = s.quant_spec(qp);
  return {qs.layout, qs.scale_shape(), qs.scale_bytes(), qs.tile_rows() == 1 || !qs.writes_scales()};
}


// The outputs' bytes, in the digest's order (the golden rows'): y (rms, rms-add), the written-back
// residual, the codes and the scale storage (rms-quant).
int64_t output_bytes(const Spec& s) {
  const int64_t elements = s.m * s.h;
  return (s.quantizes() ? elements + scale_storage(s).bytes : 2 * elements) + (s.has_residual() ? 2 * elements : 0);
}

// Rows [row0, row1) of a case as a case of its own: the rows' raw inputs as the kernel read them
// and their fp32 values, the whole weight.
struct Slab {
  Case c;
  Tensors in;
};
Slab slab_of(const Case& c, norm_kernels::HeldOutputs& out, const RowInputs& in, int64_t row0, int64_t row1) {
  const size_t bytes = size_t((row1 - row0) * c.spec.h) * 2;
  Slab s{c, {std::vector<std::byte>(bytes), std::vector<std::byte>(c.spec.has_residual() ? bytes : 0), in.weight, {}}};
  out.inputs(row0, row1, s.in.x, s.in.residual);
  s.c.spec.m = row1 - row0;
  s.in.values = {widened(s.in.x, c.spec.dtype), widened(s.in.residual, c.spec.dtype), in.weight_values};
  return s;
}

// The outputs' rows [row0, row1), fetched from where the backend left them; the scales of those
// rows as a kernel run on them alone stores them (the whole storage, padding included, for all
// rows).
struct ObservedRows {
  std::vector<uint16_t> y, residual;
  std::vector<uint8_t> codes, storage;
  Observed observed() const { return {y, residual, codes, storage}; }
};
ObservedRows observed_rows(const Spec& s, norm_kernels::HeldOutputs& out, int64_t row0, int64_t row1) {
  const size_t n = size_t((row1 - row0) * s.h);
  ObservedRows o;
  if (s.quantizes()) {
    o.codes.resize(n), out.codes(row0, row1, o.codes);
    const ScaleStorage st = scale_storage(s);
    const std::span<const uint8_t> whole = out.storage();
    if (row0 == 0 && row1 == s.m) o.storage.assign(whole.begin(), whole.end());
    else if (st.bytes > 0) o.storage = quant::storage_rows(st.layout, st.shape, whole, row0, row1);
  } else {
    o.y.resize(n), out.y(row0, row1, o.y);
  }
  if (s.has_residual()) o.residual.resize(n), out.residual(row0, row1, o.residual);
  return o;
}

// Whether the bytes of the scale storage that hold no scale hold what the layout defines (a
// slab's storage is cut from the scales alone).
bool padding_as_defined(const Spec& s, norm_kernels::HeldOutputs& out) {
  if (!s.quantizes()) return true;
  const ScaleStorage st = scale_storage(s);
  return st.bytes == 0 || quant::padding_as_defined(st.layout, st.shape, out.storage());
}

}  // namespace

// Judged a slab of rows at a time where a row's results depend on that row alone: a slab's inputs
// and outputs are fetched from where the kernel read and wrote them, its references computed,
// judged and dropped, where whole references held 20-30 bytes an element (a 2^31-element case
// 64 GB). Scales that span rows (128-row blocks, TransformerEngine's static scale written back)
// are judged whole.
bool judged_in_slabs(const Spec& s) { return !s.quantizes() || scale_storage(s).rows_apart; }

int64_t scale_storage_bytes(const Spec& s) { return s.quantizes() ? scale_storage(s).bytes : 0; }

SlabCounts count_in_slabs(const Case& c, Backend& backend, const RowInputs& in, norm_kernels::HeldOutputs& out,
                          int64_t slab_elements, std::string* device) {
  SlabCounts n;
  n.first_bad = judge_rows_in_slabs(c.spec.m, c.spec.h, slab_elements, kFirstBad, n.result, [&](int64_t row0, int64_t row1) {
    const Slab s = slab_of(c, out, in, row0, row1);
    return judge(s.c, s.in.values, expected_on(backend, s.c, s.in, device), observed_rows(c.spec, out, row0, row1).observed(),
                 quant::default_budgets(), row0);
  });
  CaseResult& r = n.result;
  r.case_id = c.id(), r.family = "norm", r.profile = std::string(c.spec.profile->name);
  r.verdict = verdict_of_counts(r);
  if (passes(r.verdict) && !padding_as_defined(c.spec, out)) r.verdict = Verdict::layout;
  return n;
}

// A failing rms or rms-add is diagnosed on its first slab with a bad element, whose references
// are computed again (a slab is what the case holds at most); a failing rms-quant, or one whose
// storage's padding is not the layout's, is judged and diagnosed whole, as the quantization
// family does: its layout hypotheses read the whole storage.
CaseResult judge_in_slabs(const Case& c, Backend& backend, const RowInputs& in, norm_kernels::HeldOutputs& out,
                          int64_t slab_elements, std::string* device) {
  const BudgetTable& budgets = quant::default_budgets();
  SlabCounts n = count_in_slabs(c, backend, in, out, slab_elements, device);
  CaseResult& r = n.result;
  if (passes(r.verdict)) return r;
  if (c.spec.quantizes()) {
    const Slab s = slab_of(c, out, in, 0, c.spec.m);
    return compare(s.c, s.in.values, expected_on(backend, s.c, s.in), observed_rows(c.spec, out, 0, c.spec.m).observed(),
                   budgets);
  }
  const auto [bad0, bad1] = n.first_bad;
  const Slab s = slab_of(c, out, in, bad0, bad1);
  const CaseResult d =
      compare(s.c, s.in.values, expected_on(backend, s.c, s.in), observed_rows(c.spec, out, bad0, bad1).observed(), budgets);
  if (d.verdict == Verdict::layout) r.verdict = Verdict::layout;
  r.message = d.message;
  if (bad1 - bad0 < c.spec.m)
    r.message += " (diagnosed on rows [" + std::to_string(bad0) + ", " + std::to_string(bad1) + ") of " +
                 std::to_string(c.spec.m) + ", the first slab with a bad element)";
  return r;
}

namespace {

// The digest of the outputs in their order (output_bytes), fetched a slab of rows at a time.
uint64_t fetched_digest(const Spec& s, norm_kernels::HeldOutputs& out, int64_t slab_elements) {
  OutputDigest digest;
  const int64_t per = std::max<int64_t>(1, slab_elements / std::max<int64_t>(1, s.h));
  const auto each_slab = [&]<class T>(std::vector<T>& rows, auto fetch) {
    for (int64_t row0 = 0; row0 < s.m; row0 += per) {
      const int64_t row1 = std::min(s.m, row0 + per);
      rows.resize(size_t((row1 - row0) * s.h));
      fetch(row0, row1, std::span(rows));
      digest.add(std::as_bytes(std::span(rows)));
    }
  };
  std::vector<uint16_t> rows;
  std::vector<uint8_t> codes;
  if (!s.quantizes()) each_slab(rows, [&](int64_t row0, int64_t row1, std::span<uint16_t> to) { out.y(row0, row1, to); });
  if (s.has_residual())
    each_slab(rows, [&](int64_t row0, int64_t row1, std::span<uint16_t> to) { out.residual(row0, row1, to); });
  if (s.quantizes()) {
    each_slab(codes, [&](int64_t row0, int64_t row1, std::span<uint8_t> to) { out.codes(row0, row1, to); });
    digest.add(std::as_bytes(out.storage()));
  }
  return digest.value();
}

// Runs the backend into `out`: on its device, its inputs copied there a slab at a time and kept
// with the outputs (Backend::norm_held); else on the inputs made whole here into guarded buffers
// here, set before the kernel runs so that a failed run is digested as it left them. Returns
// whether the outputs stayed on the device.
bool run_into(const Case& c, Backend& backend, const RowInputs& in, std::unique_ptr<norm_kernels::HeldOutputs>& out) {
  if ((out = backend.norm_held(c.spec, in.x, in.residual, in.weight))) return true;
  auto here = std::make_unique<HostOutputs>(c.spec, in.whole());
  HostOutputs& h = *here;
  out = std::move(here);
  backend.norm(c.spec, h.buffers());
  h.ran();
  return false;
}

// The inputs and outputs where the backend leaves them (its device, else here), judged against
// references made a slab at a time and digested a slab at a time.
CaseResult run_in_slabs(const Case& c, Backend& backend, const RowInputs& rows, int64_t slab_elements) {
  const auto t0 = std::chrono::steady_clock::now();
  // The judge reads the inputs back from where the kernel read them.
  InputWitness x_made, residual_made;
  RowInputs in = rows;
  in.x = x_made.witnessed(rows.x), in.residual = residual_made.witnessed(rows.residual);
  std::unique_ptr<norm_kernels::HeldOutputs> out;
  bool on_device = false;
  std::string device;  // where the references ran, when not here
  CaseResult r = judged(
      c.id(), "norm", c.spec.profile->name, GuardedOutputs{},
      [&] {
        on_device = run_into(c, backend, in, out);
        if (!out->violations().empty()) throw guard::OutOfBounds(out->violations());
      },
      [&] { return judge_in_slabs(c, backend, in, *out, slab_elements, &device); });
  // Outputs a failed device run never handed over are digested as the poison they would hold.
  const uint64_t digest = out ? fetched_digest(c.spec, *out, slab_elements)
                               : repeated_byte_digest(std::byte{quant::kPoison}, output_bytes(c.spec));
  if (out) {
    worsen(r, Verdict::out_of_bounds, residual_made.changed("residual", [&](int64_t row0, int64_t row1, std::span<std::byte> b) {
      out->inputs(row0, row1, {}, b);
    }));
    worsen(r, Verdict::out_of_bounds,
           x_made.changed("x", [&](int64_t row0, int64_t row1, std::span<std::byte> b) { out->inputs(row0, row1, b, {}); }));
  }
  stamp(r, digest, backend, t0);
  if (!device.empty()) r.note = (on_device ? "references and outputs on " : "references on ") + device;
  return r;
}

}  // namespace

HostOutputs::HostOutputs(const Spec& s, Tensors inputs)
    : h_(s.h),
      inputs_(std::move(inputs)),
      y_(outputs_.add("y", s.quantizes() ? 0 : size_t(s.m * s.h), kPoison16)),
      residual_(outputs_.add("residual", s.has_residual() ? size_t(s.m * s.h) : 0, kPoison16)),
      codes_(outputs_.add("codes", s.quantizes() ? size_t(s.m * s.h) : 0, quant::kPoison)),
      storage_(outputs_.add("scales", s.quantizes() ? size_t(scale_storage(s).bytes) : 0, quant::kPoison)) {}

Buffers HostOutputs::buffers() {
  return {inputs_.x, inputs_.residual, inputs_.weight, std::as_writable_bytes(y_), std::as_writable_bytes(residual_), codes_, storage_};
}

void HostOutputs::inputs(int64_t row0, int64_t row1, std::span<std::byte> x, std::span<std::byte> residual) {
  if (!x.empty()) rows(std::as_bytes(std::span(inputs_.x)), 2, row0, row1, x);
  if (!residual.empty()) rows(std::as_bytes(std::span(inputs_.residual)), 2, row0, row1, residual);
}

void HostOutputs::rows(std::span<const std::byte> from, size_t element, int64_t row0, int64_t row1,
                       std::span<std::byte> out) const {
  if (from.empty() && out.empty()) return;  // no such output
  const size_t row = size_t(h_) * element;
  if (row0 < 0 || row1 < row0 || size_t(row1) * row > from.size() || out.size() != size_t(row1 - row0) * row)
    throw std::logic_error("norm::HostOutputs: a slab of another size");
  std::ranges::copy(from.subspan(size_t(row0) * row, out.size()), out.begin());
}

CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseRun run;
  if (slab_elements > 0 && judged_in_slabs(c.spec)) {
    run.result = run_in_slabs(c, backend, c.input_rows(), slab_elements);
    return run;
  }
  run.inputs = c.inputs();
  std::string device;  // where the references ran, when not here
  run.expected = expected_on(backend, c, run.inputs, &device);
  // Outputs the op has, poisoned, in the digest's order: y, residual, codes, scale storage (the
  // others are empty).
  const Result& p = run.expected.profile;
  run.y = run.outputs.add("y", p.y.size(), kPoison16);
  run.residual = run.outputs.add("residual", p.residual.size(), kPoison16);
  run.codes = run.outputs.add("codes", p.quant.codes.size(), quant::kPoison);
  run.storage = run.outputs.add("scales", p.quant.storage.size(), quant::kPoison);
  run.result = judged(
      c.id(), "norm", c.spec.profile->name, run.outputs,
      [&] {
        backend.norm(c.spec, Buffers{run.inputs.x, run.inputs.residual, run.inputs.weight, std::as_writable_bytes(run.y),
                                     std::as_writable_bytes(run.residual), run.codes, run.storage});
      },
      [&] {
        return compare(c, run.inputs.values, run.expected, {run.y, run.residual, run.codes, run.storage},
                       quant::default_budgets());
      });
  stamp(run.result, run.outputs, backend, t0);
  if (!device.empty()) run.result.note = "references on " + device;
  return run;
}

std::vector<std::string> catalog_ids(Tier tier) { return case_ids(catalog(tier)); }

namespace {

std::vector<BundleTensor> bundle_tensors(const Case& c, const CaseRun& run) {
  const Spec& s = c.spec;
  const std::string t(format_name(s.dtype));
  std::vector<BundleTensor> out = {
      bundle_tensor("x", "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.x)),
      bundle_tensor("weight", "input", t, {s.h}, std::span<const std::byte>(run.inputs.weight)),
      bundle_tensor("r_expected", "expected", "fp32", {s.m}, std::span<const float>(run.expected.profile.r)),
  };
  if (s.has_residual()) {
    out.push_back(bundle_tensor("residual", "input", t, {s.m, s.h}, std::span<const std::byte>(run.inputs.residual)));
    out.push_back(bundle_tensor("residual_expected", "expected", t, {s.m, s.h},
                                std::span<const uint16_t>(run.expected.profile.residual)));
    out.push_back(bundle_tensor("residual_actual", "actual", t, {s.m, s.h}, std::span<const uint16_t>(run.residual)));
  }
  if (!s.quantizes()) {
    out.push_back(bundle_tensor("y_expected", "expected", t, {s.m, s.h}, std::span<const uint16_t>(run.expected.profile.y)));
    out.push_back(bundle_tensor("y_ideal", "expected-ideal", t, {s.m, s.h}, std::span<const uint16_t>(run.expected.ideal.y)));
    out.push_back(bundle_tensor("y_actual", "actual", t, {s.m, s.h}, std::span<const uint16_t>(run.y)));
    return out;
  }
  const std::string fp8(format_name(s.format));
  const auto& q = run.expected.profile.quant;
  const int64_t storage = int64_t(run.storage.size());
  out.push_back(bundle_tensor("v_expected", "expected", "fp32", {s.m, s.h}, std::span<const float>(run.expected.profile.v)));
  out.push_back(bundle_tensor("codes_expected", "expected", fp8, {s.m, s.h}, std::span<const uint8_t>(q.codes)));
  out.push_back(bundle_tensor("codes_actual", "actual", fp8, {s.m, s.h}, std::span<const uint8_t>(run.codes)));
  out.push_back(bundle_tensor("scales_expected", "expected", "fp32", {int64_t(q.scales.size())}, std::span<const float>(q.scales)));
  out.push_back(bundle_tensor("scale_storage_expected", "expected", "uint8", {storage}, std::span<const uint8_t>(q.storage)));
  out.push_back(bundle_tensor("scale_storage_actual", "actual", "uint8", {storage}, std::span<const uint8_t>(run.storage)));
  return out;
}

}  // namespace

// A bundle holds the references whole: its case is judged whole.
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors) {
  const auto run = [&](const Case& c, Backend& b) { return run_case(c, b, tensors ? 0 : kSlabElements); };
  return ulpgate::run_case_id<Case>(id, backend, tensors, run, bundle_tensors);
}

// Held per element: x (2 bytes) and its fp32 value (4), the profile's and the ideal's y (2 + 2),
// the exact value (8), the output (2): 20 bytes; a residual adds 10 (input, fp32, expected and
// output), the fused quantizer 3 over y (its fp32 input 4 and codes, the reconciled codes). Measured
// on the host emulation at 2048 x 7168 (with the emulated kernel's buffers): 25 (rms), 39
// (rms-add), 30 (rms-quant); times 1.5 bounds each. What a bundle holds: every reference whole.
double bundle_bytes(std::string_view id) {
  const Case c = Case::parse(id);
  const double held = 20 + (c.spec.has_residual() ? 10 : 0) + (c.spec.quantizes() ? 3 : 0);
  return double(c.spec.m) * double(c.spec.h) * held * 1.5;
}

// Judged in slabs, a case holds that for one slab, and on a backend that writes host buffers x
// and the output whole (a residual: its input and output too): 5 bytes an element on the host
// emulation for rms (x, y and the emulated kernel's), 7.5 for rms-add; 4 and 8 times 1.5 bound
// them. Where the backend keeps them on its device (the CUDA backend) it holds a slab of each:
// 0.5 GB at 2^31 elements on an H200; the estimate, from the id alone, covers every backend. An
// rms-quant is judged whole when it fails (judge_in_slabs), or always where its scales span rows:
// its estimate stays a whole case's.
double host_bytes(std::string_view id) {
  const Case c = Case::parse(id);
  if (c.spec.quantizes()) return bundle_bytes(id);
  const double elements = double(c.spec.m) * double(c.spec.h);
  const double slab = double(std::max<int64_t>(1, kSlabElements / std::max<int64_t>(1, c.spec.h)) * c.spec.h);
  return elements * (c.spec.has_residual() ? 8 : 4) * 1.5 + bundle_bytes(id) * std::min(1.0, slab / std::max(1.0, elements));
}

}  // namespace ulpgate::norm
