#include "harness/gemm/run_case.hpp"

#include <chrono>
#include <optional>

#include "harness/core/chunked_judge.hpp"
#include "harness/gemm/catalog.hpp"
#include "harness/gemm/device_reference.hpp"
#include "harness/gemm/identify.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::gemm {
namespace {

size_t out_bytes(Format out) { return out == Format::bf16 ? 2 : 4; }

// The claimed model (a row, or a variant of one: identify.hpp); an unknown name is the backend's error.
std::unique_ptr<Variant> claimed(const GemmClaim& claim) {
  try {
    return parse_variant(claim.model);
  } catch (const UsageError& e) {
    throw BackendError(std::string("the GEMM kernel claims an unknown accumulator model: ") + e.what());
  }
}

// A case whose kernel claims a bit-exact model, judged a slab of D's rows at a time: each slab's
// ideal and replay made, compared and dropped, where whole they and the comparison held about 40
// bytes an output (9.4 GB at M = 4096 on Llama-3-70B's fused gate and up projection, N = 57344).
// On the backend's device where it has a reference, the operands uploaded once (each slab had
// uploaded all of B twice: 0.3-0.6 s a slab there), and where it replays the model the slab is
// judged there too (its references, 24 bytes an output, stay there); else here, from the slab's
// own operands.
// Returns the judgement when every slab passes; nullopt when one does not, and the case is judged
// whole: its diagnosis and error maps read all of D.
std::optional<CaseResult> passing_in_slabs(const Case& c, CaseRun& run, Backend& backend, int64_t slab_elements,
                                           std::string& where) {
  const Spec& s = c.spec;
  const AccumModel& model = *run.expected.model;
  DeviceReference* device = device_for(backend, s, nullptr);
  const std::unique_ptr<gemm_kernels::HeldOperands> held = device ? device->hold(s, run.operands) : nullptr;
  const bool replayed_here = !held || !device->declines(s, model).empty();
  if (!replayed_here) where = device->name();
  const int64_t step = std::max<int64_t>(1, geometry(s).a_rows);  // a slab starts a row of A's scales
  const int64_t rows_per = std::max(step, slab_elements / std::max<int64_t>(1, s.n) / step * step);
  const std::span<const std::byte> d = std::as_bytes(run.d);
  CaseResult r;
  bool failed = false;  // the slabs after a failing one are not judged
  judge_rows_in_slabs(s.m, 1, rows_per, 0, r, [&](int64_t m0, int64_t m1) {
    if (failed) return CaseResult{};
    Case rows = c;
    rows.spec.m = m1 - m0;
    const size_t row = d.size() / size_t(std::max<int64_t>(1, s.m));
    const std::span<const std::byte> got = d.subspan(size_t(m0) * row, size_t(m1 - m0) * row);
    CaseResult part;
    if (!replayed_here) {
      part = judged_on_device(*held, s, model, m0, m1, got);
    } else {
      std::optional<Operands> in;  // the slab's operands, where the host makes a reference
      const auto here = [&]() -> const Operands& { return in ? *in : in.emplace(operand_rows(s, run.operands, m0, m1)); };
      Expected e = run.expected;
      e.ideal = held ? held->ideal(m0, m1) : gemm_ideal(rows.spec, here());
      e.replay = gemm_replay(rows.spec, model, here());
      // Not diagnosed: compare reads no operands.
      part = compare(rows, Operands{}, e, got, quant::default_budgets(), false).result;
    }
    failed = !passes(part.verdict);
    return part;
  });
  if (failed) return std::nullopt;
  r.case_id = c.id(), r.family = "gemm", r.profile = std::string(s.profile->name);
  r.verdict = verdict_of_counts(r);
  r.model = std::string(model.name);
  return r;
}

}  // namespace

std::string claim_text(const GemmClaim& claim) {
  return (claim.model.empty() ? "claims no accumulator model" : "claims " + claim.model) +
         (claim.model.empty() ? "" : claim.budget_only ? " (budget only)" : " (bit-exact)") +
         (claim.ran.empty() ? "" : "; ran: " + claim.ran);
}

// Where the claim leaves the order open (no model, or budget only): the variant that reproduces D
// becomes the bit-exact expectation; with none, the budget stays the claimed model's, or without a
// claim the loosest plausible bound. The candidates' replays on all of D run on the backend's
// device where it replays them.
void identify_order(CaseRun& run, const Spec& s, Backend& backend) {
  std::vector<uint32_t> got(size_t(s.m * s.n));
  for (size_t i = 0; i < got.size(); ++i) got[i] = output_bits(s.out, std::as_bytes(run.d), i);
  DeviceReference* device = backend.gemm_reference();
  run.identification = std::make_unique<Identification>(identify(s, run.operands, got, run.claim.arch, {}, device));
  const Identification& id = *run.identification;
  run.expected.identified = id.story(s);
  if (!id.matches.empty()) {
    run.expected.model = &id.matches[0]->model;
    run.expected.budget_only = false;
  } else if (run.claim.model.empty()) {
    run.expected.model = &model(id.rows.front());
    run.expected.budget_only = true;
  }
}

// The expectation's replay on all of D (on the backend's device where it replays the model:
// `where` gets its name), with the loosest plausible bound where identification found no order.
void replay_expectation(CaseRun& run, const Spec& s, Backend& backend, std::string& where) {
  run.expected.replay = replay_of(backend, s, *run.expected.model, run.operands, &where);
  if (run.identification && run.identification->matches.empty() && run.claim.model.empty())
    run.expected.replay.bound = loosest_bound(s, run.operands, run.identification->rows, backend.gemm_reference());
}

CaseRun run_case(const Case& c, Backend& backend, int64_t slab_elements) {
  const auto t0 = std::chrono::steady_clock::now();
  const Spec& s = c.spec;
  CaseRun run;
  run.operands = c.operands();
  run.stored = stored(s, run.operands);
  const DeviceReference* device = backend.gemm_reference();
  // Whole, the ideal is made before the kernel runs (a bundle holds it whatever the run did); in
  // slabs, a slab at a time after it, and whole only for a case that fails.
  if (slab_elements == 0) run.expected.ideal = ideal_of(backend, s, run.operands);
  std::string replayed_on;  // where the claimed model's replay ran, when not here
  run.d = run.outputs.add("d", size_t(s.m * s.n) * out_bytes(s.out), kPoison);
  run.result = judged(
      c.id(), "gemm", s.profile->name, run.outputs,
      [&] {
        run.claim = backend.gemm(s, run.stored.buffers(std::as_writable_bytes(run.d)));
        if (!run.claim.model.empty()) run.expected.model = &(run.claimed = claimed(run.claim))->model;
        run.expected.budget_only = run.claim.budget_only;
        run.expected.arch = run.claim.arch;
      },
      [&] {
        // A bit-exact expectation, claimed or identified, is judged a slab at a time where D passes.
        const auto in_slabs = [&]() -> std::optional<CaseResult> {
          if (slab_elements == 0 || !run.expected.model || run.expected.budget_only) return std::nullopt;
          std::optional<CaseResult> r = passing_in_slabs(c, run, backend, slab_elements, replayed_on);
          if (r) r->message = run.expected.identified;
          return r;
        };
        if (std::optional<CaseResult> r = in_slabs()) return std::move(*r);
        const bool open = run.claim.model.empty() || run.claim.budget_only;
        if (open) identify_order(run, s, backend);
        if (open && !run.identification->matches.empty())
          if (std::optional<CaseResult> r = in_slabs()) return std::move(*r);
        if (slab_elements > 0) run.expected.ideal = ideal_of(backend, s, run.operands);
        if (run.expected.model) replay_expectation(run, s, backend, replayed_on);
        Compared cmp = compare(c, run.operands, run.expected, std::as_bytes(run.d), quant::default_budgets());
        run.maps = std::move(cmp.maps);
        return std::move(cmp.result);
      });
  stamp(run.result, run.outputs, backend, t0);
  if (!run.claim.model.empty() || run.identification) run.result.note = claim_text(run.claim);
  if (device) run.result.note += std::string(run.result.note.empty() ? "" : "; ") + "references on " + device->name() +
                                 (replayed_on.empty() ? " (the ideal; the replay here)" : "");
  return run;
}

std::vector<std::string> catalog_ids(Tier tier) { return case_ids(catalog(tier)); }

namespace {

// D's elements as bundle data of the output format.
BundleTensor output_tensor(std::string name, std::string role, const Spec& s, std::span<const uint32_t> bits) {
  if (s.out == Format::fp32) return bundle_tensor(std::move(name), std::move(role), "fp32", {s.m, s.n}, bits);
  std::vector<uint16_t> half(bits.begin(), bits.end());
  return bundle_tensor(std::move(name), std::move(role), "bf16", {s.m, s.n}, std::span<const uint16_t>(half));
}

std::vector<BundleTensor> bundle_tensors(const Case& c, const CaseRun& run) {
  const Spec& s = c.spec;
  const Operands& in = run.operands;
  const Geometry g = geometry(s);
  std::vector<uint32_t> actual(size_t(s.m * s.n));
  for (size_t i = 0; i < actual.size(); ++i) actual[i] = output_bits(s.out, std::as_bytes(run.d), i);
  std::vector<float> bound(run.expected.replay.bound.begin(), run.expected.replay.bound.end());
  std::vector<BundleTensor> out = {
      bundle_tensor("a", "input", std::string(format_name(s.a_format)), {s.m, s.k}, std::span<const uint8_t>(in.a)),
      bundle_tensor("b", "input", std::string(format_name(s.b_format)), {s.n, s.k}, std::span<const uint8_t>(in.b)),
      bundle_tensor("b_stored", "input", "uint8", {int64_t(run.stored.b.size())}, std::span<const uint8_t>(run.stored.b)),
      bundle_tensor("sa", "input", "fp32", {g.sa.m, g.sa.g}, std::span<const float>(in.sa)),
      bundle_tensor("sb", "input", "fp32", {g.sb.m, g.sb.g}, std::span<const float>(in.sb)),
      bundle_tensor("sa_stored", "input", "uint8", {int64_t(run.stored.sa.size())}, std::span<const uint8_t>(run.stored.sa)),
      bundle_tensor("sb_stored", "input", "uint8", {int64_t(run.stored.sb.size())}, std::span<const uint8_t>(run.stored.sb)),
      output_tensor("d_ideal", "expected-ideal", s, run.expected.ideal.out.bits),
      output_tensor("d_actual", "actual", s, actual),
  };
  if (run.expected.model) {
    out.push_back(output_tensor("d_expected", "expected", s, run.expected.replay.out.bits));
    out.push_back(bundle_tensor("d_bound", "expected", "fp32", {s.m, s.n}, std::span<const float>(bound)));
  }
  for (BundleTensor& t : run.maps.tensors()) out.push_back(std::move(t));
  return out;
}

}  // namespace

// A bundle holds the references whole: its case is judged whole.
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors) {
  const auto run = [&](const Case& c, Backend& b) { return run_case(c, b, tensors ? 0 : kSlabElements); };
  return ulpgate::run_case_id<Case>(id, backend, tensors, run, bundle_tensors);
}

// Per operand element: the real value (4 bytes), codes, their stored copy, the replay's decoded
// rows (10) and room for a diagnosis's copies; per output: ideal bits and exact value, replay bits
// and bound, the guarded output and the comparison's marks and values (about 50).
double host_bytes(std::string_view id) {
  const Case c = Case::parse(id);
  const double m = double(c.spec.m), n = double(c.spec.n), k = double(c.spec.k);
  return (m + n) * k * 24 + m * n * 64;
}

}  // namespace ulpgate::gemm
