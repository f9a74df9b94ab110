#include "harness/allreduce/run_case.hpp"

#include <chrono>
#include <cstring>

#include "harness/allreduce/catalog.hpp"
#include "harness/allreduce/device_reference.hpp"
#include "harness/allreduce/fused_run.hpp"
#include "harness/allreduce/rank_reports.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::allreduce {
namespace {

size_t elem_bytes(const Spec& s) { return info(s.dtype).bits / 8; }

// A rank's storage split at its view: the part before, the view, the part after.
struct Parts {
  std::span<std::byte> before, view, after;
};
Parts parts(const Spec& s, std::span<std::byte> storage) {
  const size_t w = elem_bytes(s), off = size_t(s.view.offset) * w, n = size_t(s.view.count) * w;
  return {storage.subspan(0, off), storage.subspan(off, n), storage.subspan(off + n)};
}

// Every storage set as before a run: inputs in their views, the guard pattern around every view
// (so a kernel that ignores the view's offset writes into it), outputs poisoned.
void prepare(const Spec& s, const Inputs& in, std::span<const RankBuffers> io) {
  for (size_t r = 0; r < io.size(); ++r) {
    const Parts x = parts(s, io[r].input);
    guard::fill(x.before, x.after);
    write_view(s, io[r].input, in[r]);
    if (s.in_place) continue;
    const Parts y = parts(s, io[r].output);
    guard::fill(y.before, y.after);
    std::memset(y.view.data(), kPoison, y.view.size());
  }
}

// The storage around every view unchanged (views, R19). io[i] is rank first + i's.
std::vector<guard::Violation> storage_violations(const Spec& s, std::span<const RankBuffers> io, int first_rank = 0) {
  std::vector<guard::Violation> out;
  for (size_t r = 0; r < io.size(); ++r) {
    const std::string rank = " (rank " + std::to_string(size_t(first_rank) + r) + ")";
    const auto check = [&](std::string name, std::span<std::byte> storage) {
      const Parts p = parts(s, storage);
      for (guard::Violation& v : guard::check(name + "'s view" + rank, int64_t(p.view.size()), p.before, p.after))
        out.push_back(std::move(v));
    };
    check(s.in_place ? "y = x" : "x", io[r].input);
    if (!s.in_place) check("y", io[r].output);
  }
  return out;
}

// Out of place: "the kernel wrote into rank r's input: N bytes changed, first at byte B".
std::string input_changes(const Spec& s, const Inputs& in, std::span<const RankBuffers> io, int first_rank = 0) {
  if (s.in_place) return "";
  for (size_t r = 0; r < io.size(); ++r) {
    const std::vector<uint32_t> now = read_view(s, io[r].input);
    size_t n = 0, first = 0;
    for (size_t i = 0; i < now.size(); ++i)
      if (now[i] != in[r][i] && n++ == 0) first = i;
    if (n)
      return "the kernel wrote into rank " + std::to_string(size_t(first_rank) + r) + "'s input x (out of place it must stay untouched): " +
             std::to_string(n) + " elements changed, the first x[" + std::to_string(first) + "]";
  }
  return "";
}

Outputs outputs_of(const Spec& s, std::span<const RankBuffers> io) {
  Outputs out;
  for (const RankBuffers& b : io) out.push_back(read_view(s, b.output));
  return out;
}

std::string repeat_difference(const Outputs& first, const Outputs& second, int first_rank = 0) {
  for (size_t r = 0; r < first.size(); ++r) {
    size_t n = 0;
    for (size_t i = 0; i < first[r].size(); ++i) n += first[r][i] != second[r][i];
    if (n)
      return "not deterministic: a repeated run gave rank " + std::to_string(size_t(first_rank) + r) + " different bits at " +
             std::to_string(n) + " elements";
  }
  return "";
}

CaseResult named(const Case& c, Verdict v, std::string message) {
  CaseResult r;
  r.case_id = c.id(), r.family = "allreduce", r.profile = std::string(c.spec.variant->name);
  r.verdict = v, r.message = std::move(message);
  return r;
}

// A refusal judged (R19): a pass where the spec allows one, `error` elsewhere.
CaseResult refusal(const Case& c, const std::string& refused) {
  CaseResult r = named(c, Verdict::exact, "");
  const std::string allowed = c.spec.may_refuse();
  r.verdict = allowed.empty() ? Verdict::error : Verdict::exact;
  r.message = (allowed.empty() ? "refused an input it must reduce: " : "refused, as allowed (" + allowed + "): ") + refused;
  return r;
}

}  // namespace

CaseRun run_case(const Case& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  const Spec& s = c.spec;
  CaseRun run;
  run.inputs = c.inputs();
  std::string device;  // where the references ran, when not here
  run.expected = expected_on(backend, c, run.inputs, &device);
  const size_t bytes = size_t(s.view.storage()) * elem_bytes(s);
  for (int r = 0; r < s.world; ++r) {
    const std::span<std::byte> x = run.storage.add("x.r" + std::to_string(r), bytes, std::byte{kPoison});
    run.buffers.push_back({x, s.in_place ? x : run.storage.add("y.r" + std::to_string(r), bytes, std::byte{kPoison})});
  }
  std::string refused, repeat, changed;
  // The storage of every rank: x (and y) for rank 0, then rank 1, ... (what the digest covers).
  run.result = judged(
      c.id(), "allreduce", s.variant->name, run.storage,
      [&] {
        prepare(s, run.inputs, run.buffers);
        try {
          run.claim = backend.allreduce(s, run.buffers);
        } catch (const Refused& e) {
          refused = e.what();
        }
        run.outputs = outputs_of(s, run.buffers);
        changed = input_changes(s, run.inputs, run.buffers);
        if (std::vector<guard::Violation> v = storage_violations(s, run.buffers); !v.empty()) throw guard::OutOfBounds(v);
        if (!refused.empty()) return;
        prepare(s, run.inputs, run.buffers);
        backend.allreduce(s, run.buffers);
        repeat = repeat_difference(run.outputs, outputs_of(s, run.buffers));
      },
      [&] {
        return refused.empty() ? compare(c, run.inputs, run.expected, run.outputs, quant::default_budgets()) : refusal(c, refused);
      });
  worsen(run.result, Verdict::out_of_bounds, changed);
  worsen(run.result, Verdict::over_budget, repeat);
  stamp(run.result, run.storage, backend, t0);
  if (refused.empty() && passes(run.result.verdict))
    run.result.note = run.claim.ran;
  if (!device.empty()) run.result.note += std::string(run.result.note.empty() ? "" : "; ") + "references on " + device;
  return run;
}

std::vector<std::string> catalog_ids(Tier tier) {
  std::vector<std::string> ids = case_ids(catalog(tier));
  for (std::string& id : fused_catalog_ids(tier)) ids.push_back(std::move(id));
  return ids;
}

std::string canonical_id(std::string_view id) {
  return is_fused_id(id) ? FusedCase::parse(id).id() : Case::parse(id).id();
}

namespace {

std::vector<BundleTensor> bundle_tensors(const Case& c, const CaseRun& run) {
  const Spec& s = c.spec;
  const std::string t(format_name(s.dtype));
  const auto tensor = [&](std::string name, std::string role, const std::vector<uint32_t>& bits) {
    if (s.dtype == Format::fp32) return bundle_tensor(std::move(name), std::move(role), t, {s.view.count}, std::span<const uint32_t>(bits));
    const std::vector<uint16_t> half(bits.begin(), bits.end());
    return bundle_tensor(std::move(name), std::move(role), t, {s.view.count}, std::span<const uint16_t>(half));
  };
  std::vector<BundleTensor> out;
  for (size_t r = 0; r < run.inputs.size(); ++r) out.push_back(tensor("x.r" + std::to_string(r), "input", run.inputs[r]));
  out.push_back(tensor("y_ideal", "expected-ideal", run.expected.ideal.bits));
  if (!run.expected.bits.empty()) out.push_back(tensor("y_expected", "expected", run.expected.bits));
  for (size_t r = 0; r < run.outputs.size(); ++r) out.push_back(tensor("y.r" + std::to_string(r), "actual", run.outputs[r]));
  return out;
}

}  // namespace

CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors) {
  if (is_fused_id(id)) return run_fused_id(id, backend, tensors);
  return ulpgate::run_case_id<Case>(id, backend, tensors, run_case, bundle_tensors);
}

// ---- one rank per process (mpirun) -----------------------------------------------------------

namespace {

// This process's rank: run it twice, check what it can see alone, and report.
RankReport run_my_rank(const Case& c, Backend& backend, int rank) {
  const Spec& s = c.spec;
  const Inputs mine{c.inputs()[size_t(rank)]};
  GuardedOutputs storage;
  const size_t bytes = size_t(s.view.storage()) * elem_bytes(s);
  const std::span<std::byte> x = storage.add("x.r" + std::to_string(rank), bytes, std::byte{kPoison});
  const RankBuffers b{x, s.in_place ? x : storage.add("y.r" + std::to_string(rank), bytes, std::byte{kPoison})};
  const std::span<const RankBuffers> io(&b, 1);
  RankReport part(kRankParts);
  const auto once = [&] {
    prepare(s, mine, io);
    try {
      backend.allreduce_rank(s, rank, b);
      return true;
    } catch (const Refused& e) {
      part[kRefused] = e.what();
    } catch (const BackendError& e) {
      part[kError] = "rank " + std::to_string(rank) + ": " + e.what();
    }
    return false;
  };
  const bool ran = once();
  const std::vector<uint32_t> first = outputs_of(s, io)[0];
  part[kOutput] = bytes_of(std::span(first));
  const std::vector<std::byte> all = storage.bytes();
  part[kStorage].assign(reinterpret_cast<const char*>(all.data()), all.size());
  part[kChanged] = input_changes(s, mine, io, rank);
  std::vector<guard::Violation> outside = storage_violations(s, io, rank);
  for (guard::Violation& v : storage.violations()) outside.push_back(std::move(v));
  part[kOutside] = guard::OutOfBounds::join(outside);
  if (ran && once()) part[kRepeat] = repeat_difference({first}, outputs_of(s, io), rank);
  return part;
}

}  // namespace

int ranks(std::string_view id) {
  return is_fused_id(id) ? FusedCase::parse(id).spec.world : Case::parse(id).spec.world;
}

CaseResult run_rank_id(std::string_view id, Backend& backend, int rank, int ranks) {
  if (is_fused_id(id)) return run_fused_rank_id(id, backend, rank, ranks);
  const auto t0 = std::chrono::steady_clock::now();
  const Case c = Case::parse(id);
  require_supported(backend, c.spec);
  require_ranks(c.spec.world, ranks);
  const std::vector<RankReport> all = gather_reports(run_my_rank(c, backend, rank));
  if (all.empty()) return {};  // not rank 0
  const Inputs in = c.inputs();
  CaseResult r;
  if (const std::string refused = first_part(all, kRefused); !refused.empty()) r = refusal(c, refused);
  else if (const std::string error = first_part(all, kError); !error.empty()) r = named(c, Verdict::error, error);
  else {
    Outputs got;
    for (const RankReport& report : all) got.push_back(elements_of<uint32_t>(report[kOutput]));
    r = compare(c, in, expected_on(backend, c, in), got, quant::default_budgets());
    worsen_by_ranks(r, all, ranks);
  }
  const std::string storage = joined_storage(all);
  stamp(r, std::as_bytes(std::span<const char>(storage)), backend, t0);
  return r;
}

// Per rank: input and output storage, the inputs' bits and two output copies (about 5 x 4 bytes
// per element); per element once: the ideal's bits, exact value and abs sum, the expected bits.
std::string declines_id(std::string_view id, const Backend& backend) {
  return is_fused_id(id) ? backend.declines(FusedCase::parse(id).spec) : backend.declines(Case::parse(id).spec);
}

double host_bytes(std::string_view id) {
  if (is_fused_id(id)) return fused_host_bytes(id);
  const Case c = Case::parse(id);
  const double n = double(c.spec.view.storage());
  return n * (double(c.spec.world) * 24 + 32);
}

}  // namespace ulpgate::allreduce
