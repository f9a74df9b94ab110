#include "harness/moe/run_case.hpp"

#include <chrono>
#include <cstring>

#include "harness/core/guarded_outputs.hpp"
#include "harness/gemm/compare.hpp"
#include "harness/gemm/device_reference.hpp"
#include "harness/gemm/identify.hpp"
#include "harness/gemm/run_case.hpp"
#include "harness/moe/catalog.hpp"
#include "harness/moe/expert_judging.hpp"
#include "harness/moe/quant_run.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::moe {
namespace {

size_t out_bytes(const gemm::Spec& s) { return s.out == Format::bf16 ? 2 : 4; }

struct Judgment {
  const Case& c;
  const Tensors& t;
  std::span<const std::byte> d;
  const gemm::AccumModel* model;

  std::span<const std::byte> expert_rows(int64_t e) const {
    const size_t row = size_t(c.spec.base.n) * out_bytes(c.spec.base);
    return d.subspan(size_t(c.spec.first_row(e)) * row, size_t(c.spec.tokens[size_t(e)]) * row);
  }

  bool reproduces(const gemm::Spec& s, const gemm::Operands& in, std::span<const std::byte> got) const {
    const gemm::Output out = gemm::gemm_model(s, *model, in);
    for (size_t i = 0; i < out.bits.size(); ++i) {
      const uint32_t a = gemm::output_bits(s.out, got, i);
      if (a != out.bits[i] && !(is_nan(s.out, a) && is_nan(s.out, out.bits[i]))) return false;
    }
    return true;
  }

  // Expert e's operands (own) with its A rows read `shift` rows away in the physical A (its
  // neighbours' tokens, or padding: NaN), or nothing when that leaves A.
  std::optional<gemm::Operands> shifted_rows(int64_t e, const gemm::Operands& own, int64_t shift) const {
    const int64_t first = c.spec.first_row(e) + shift, count = c.spec.tokens[size_t(e)], k = c.spec.base.k;
    if (first < 0 || first + count > c.spec.rows()) return std::nullopt;
    gemm::Operands in = own;
    const int64_t kblocks = int64_t(t.sa_rows.size()) / c.spec.rows();
    in.a.assign(t.a.begin() + first * k, t.a.begin() + (first + count) * k);
    in.sa.assign(t.sa_rows.begin() + first * kblocks, t.sa_rows.begin() + (first + count) * kblocks);
    return in;
  }

  // What a failing expert's rows are instead: another expert's weights or B scales, or A rows at
  // an offset (own: its operands). Empty when none of these explains them.
  std::string grouped_story(int64_t e, const gemm::Operands& own) const {
    const gemm::Spec s = c.spec.expert_spec(e);
    const std::span<const std::byte> got = expert_rows(e);
    for (const int64_t other : {e - 1, e + 1}) {
      if (other < 0 || other >= c.spec.experts()) continue;
      const std::string of = "expert " + std::to_string(other) + "'s";
      const gemm::Operands theirs = t.expert(other);
      gemm::Operands in = own;
      in.sb = theirs.sb;
      if (reproduces(s, in, got)) return "its B scales are " + of + " (its weights its own)";
      in.b = theirs.b;
      if (reproduces(s, in, got)) return "its weights and B scales are " + of;
      in.sb = own.sb;
      if (reproduces(s, in, got)) return "its weights are " + of + " (its B scales its own)";
    }
    const int64_t align = c.spec.align;
    for (const int64_t shift : {int64_t(-1), int64_t(1), -align, align, -c.spec.slot_rows(), c.spec.slot_rows()}) {
      const std::optional<gemm::Operands> in = shifted_rows(e, own, shift);
      if (!in || !reproduces(s, *in, got)) continue;
      const int64_t first = c.spec.first_row(e);
      return "it read A " + rows_text(first + shift, c.spec.tokens[size_t(e)]) + " for its tokens at " +
             rows_text(first, c.spec.tokens[size_t(e)]) + " (" + std::to_string(shift) + " rows: " +
             (std::abs(shift) == align ? "the alignment" : std::abs(shift) == 1 ? "one row" : "one expert slot") + ")";
    }
    return "";
  }

  // Rows of D that are not tokens and were written.
  std::string written_off_tokens() const {
    const size_t row_bytes = size_t(c.spec.base.n) * out_bytes(c.spec.base);
    return moe::written_off_tokens(c.spec, [&](int64_t r) {
      const std::span<const std::byte> row = d.subspan(size_t(r) * row_bytes, row_bytes);
      return !std::ranges::all_of(row, [](std::byte b) { return b == std::byte{gemm::kPoison}; });
    });
  }
};

// The failing case's map for the HTML report: bad elements by expert x 128 output columns (bad:
// not the bits of the expert's replay the outputs were judged against, or a written row that is
// not a token).
ErrorGrid expert_map(const Case& c, const Judgment& j, const std::vector<gemm::Output>& expected) {
  const gemm::Spec& b = c.spec.base;
  const std::vector<int32_t> of = c.spec.row_experts();
  const uint32_t poison = b.out == Format::bf16 ? 0xA5A5u : 0xA5A5A5A5u;
  return expert_grid(c.spec, b.n, 128, "outputs", [&](int64_t r, int64_t n) {
    const uint32_t got = gemm::output_bits(b.out, j.d, size_t(r * b.n + n));
    const int32_t e = of[size_t(r)];
    if (e < 0) return got != poison;
    const uint32_t want = expected[size_t(e)].bits[size_t((r - c.spec.first_row(e)) * b.n + n)];
    return got != want && !(is_nan(b.out, got) && is_nan(b.out, want));
  });
}

// Every expert's rows as its dense case; the rows off the tokens untouched.
CaseResult judge(const Case& c, const Tensors& t, std::span<const std::byte> d, const GemmClaim& claim,
                 const gemm::AccumModel* model, Backend& backend) {
  CaseResult total;
  Judgment j{c, t, d, model};
  std::vector<gemm::Output> replays(size_t(c.spec.experts()));
  for (int64_t e = 0; e < c.spec.experts(); ++e) {
    const int64_t count = c.spec.tokens[size_t(e)];
    if (count == 0) continue;
    const gemm::Spec s = c.spec.expert_spec(e);
    const gemm::Operands in = t.expert(e);
    // Judged on the backend's device where it replays the model; an expert not exact there is
    // judged here, for its story.
    if (gemm::DeviceReference* device = gemm::device_for(backend, s, model)) {
      const CaseResult r = gemm::judged_on_device(*device->hold(s, in), s, *model, 0, s.m, j.expert_rows(e));
      if (passes(r.verdict)) {
        add_expert(total, c.spec, e, "D", r, "");
        continue;
      }
    }
    gemm::Expected ex;
    ex.ideal = gemm::ideal_of(backend, s, in);  // on the backend's device where it has a reference
    ex.model = model;
    ex.arch = claim.arch;
    ex.replay = gemm::replay_of(backend, s, *model, in);
    const gemm::Compared cmp = gemm::compare(c.expert_case(e), in, ex, j.expert_rows(e), quant::default_budgets());
    replays[size_t(e)] = std::move(ex.replay.out);
    add_expert(total, c.spec, e, "D", cmp.result, passes(cmp.result.verdict) ? "" : j.grouped_story(e, in));
  }
  if (const std::string written = j.written_off_tokens(); !written.empty()) {
    total.verdict = std::max(total.verdict, Verdict::layout);
    total.message = "wrote rows of D that are not tokens: " + written + (total.message.empty() ? "" : "; " + total.message);
  }
  total.model = model->name;
  if (passes(total.verdict)) return total;
  for (int64_t e = 0; e < c.spec.experts(); ++e)  // the experts judged on the device
    if (c.spec.tokens[size_t(e)] > 0 && replays[size_t(e)].bits.empty())
      replays[size_t(e)] = gemm::replay_of(backend, c.spec.expert_spec(e), *model, t.expert(e)).out;
  total.grids.push_back(expert_map(c, j, replays));
  return total;
}

// The order the kernel's outputs follow: its claim, or (claiming none) the one identification finds
// on its largest expert.
const gemm::AccumModel* order_of(const Case& c, const Tensors& t, std::span<const std::byte> d,
                                 const GemmClaim& claim, std::unique_ptr<gemm::Variant>& held, std::string& story,
                                 gemm::DeviceReference* device) {
  if (!claim.model.empty()) {
    try {
      held = gemm::parse_variant(claim.model);
    } catch (const UsageError& e) {
      throw BackendError(std::string("the grouped GEMM kernel claims an unknown accumulator model: ") + e.what());
    }
    return &held->model;
  }
  const auto largest = std::ranges::max_element(c.spec.tokens);
  const int64_t e = largest - c.spec.tokens.begin();
  if (*largest == 0) return &gemm::model("fp32-fma");  // no token: nothing to follow
  const gemm::Spec s = c.spec.expert_spec(e);
  Judgment j{c, t, d, nullptr};
  std::vector<uint32_t> got(size_t(s.m * s.n));
  for (size_t i = 0; i < got.size(); ++i) got[i] = gemm::output_bits(s.out, j.expert_rows(e), i);
  const gemm::Identification id = gemm::identify(s, t.expert(e), got, claim.arch, {}, device);
  story = "expert " + std::to_string(e) + ": " + id.story(s);
  if (id.matches.empty()) return nullptr;
  held = gemm::parse_variant(id.matches[0]->name);
  return &held->model;
}

}  // namespace

CaseResult run_case(const Case& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  if (const std::string why = backend.declines(c.spec); !why.empty()) throw NotSupported(backend.name() + ": " + why);
  const Tensors t = c.tensors();
  GuardedOutputs outputs;
  const std::span<uint8_t> d = outputs.add("d", size_t(c.spec.rows() * c.spec.base.n) * out_bytes(c.spec.base), gemm::kPoison);
  GemmClaim claim;
  CaseResult result = judged(
      c.id(), "moe", c.spec.base.profile->name, outputs,
      [&] {
        claim = backend.grouped_gemm_streamed(c.spec, t.buffers(std::as_writable_bytes(d)), t.weights());
      },
      [&] {
        std::unique_ptr<gemm::Variant> held;
        std::string identified;
        const gemm::AccumModel* model = order_of(c, t, std::as_bytes(d), claim, held, identified, backend.gemm_reference());
        if (!model) {
          CaseResult r;
          r.verdict = Verdict::error;
          r.message = "the kernel claims no accumulator model and none was identified: " + identified;
          return r;
        }
        CaseResult r = judge(c, t, std::as_bytes(d), claim, model, backend);
        if (!identified.empty()) r.message += (r.message.empty() ? "" : "; ") + identified;
        r.case_id = c.id(), r.family = "moe", r.profile = std::string(c.spec.base.profile->name);
        return r;
      });
  stamp(result, outputs, backend, t0);
  result.note = gemm::claim_text(claim);
  return result;
}

std::vector<std::string> catalog_ids(Tier tier) {
  std::vector<std::string> ids = case_ids(catalog(tier));
  for (const std::string& id : case_ids(quant_catalog(tier))) ids.push_back(id);
  return ids;
}

namespace {
bool is_quant(std::string_view id) { return id.starts_with("moe.quant"); }
}  // namespace

CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>*) {
  if (is_quant(id)) return run_quant_case(QuantCase::parse(id), backend);
  return run_case(Case::parse(id), backend);
}

std::string canonical_id(std::string_view id) {
  return is_quant(id) ? QuantCase::parse(id).id() : Case::parse(id).id();
}

// The experts' codes once (a backend that reads host buffers gets B whole; the CUDA backend holds
// a part of about 256 MB: Tensors::weights), A and its scales, D with the per-expert references
// and comparison (about 24 bytes an output), and one expert's logical B at a time (Tensors::expert).
double host_bytes(std::string_view id) {
  if (is_quant(id)) return quant_host_bytes(QuantCase::parse(id));
  const Case c = Case::parse(id);
  const double rows = double(c.spec.rows()), n = double(c.spec.base.n), k = double(c.spec.base.k);
  return double(c.spec.experts()) * n * k + 3 * rows * k + 24 * rows * n + 16 * n * k;
}

}  // namespace ulpgate::moe
