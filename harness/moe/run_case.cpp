#include "harness/moe/run_case.hpp"

#include <chrono>
#include <cstring>

#include "harness/core/guarded_outputs.hpp"
#include "harness/gemm/compare.hpp"
#include "harness/gemm/identify.hpp"
#include "harness/gemm/run_case.hpp"
#include "harness/moe/catalog.hpp"
#include "harness/quant/budget.hpp"

namespace ulpgate::moe {
namespace {

size_t out_bytes(const gemm::Spec& s) { return s.out == Format::bf16 ? 2 : 4; }

std::string rows_text(int64_t first, int64_t count) {
  return count == 1 ? "row " + std::to_string(first)
                    : "rows " + std::to_string(first) + "-" + std::to_string(first + count - 1);
}

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

  // Expert e's operands with its A rows read `shift` rows away in the physical A (its neighbours'
  // tokens, or padding: NaN), or nothing when that leaves A.
  std::optional<gemm::Operands> shifted_rows(int64_t e, int64_t shift) const {
    const int64_t first = c.spec.first_row(e) + shift, count = c.spec.tokens[size_t(e)], k = c.spec.base.k;
    if (first < 0 || first + count > c.spec.rows()) return std::nullopt;
    gemm::Operands in = t.experts[size_t(e)];
    const int64_t kblocks = int64_t(t.sa_rows.size()) / c.spec.rows();
    in.a.assign(t.a.begin() + first * k, t.a.begin() + (first + count) * k);
    in.sa.assign(t.sa_rows.begin() + first * kblocks, t.sa_rows.begin() + (first + count) * kblocks);
    return in;
  }

  // What a failing expert's rows are instead: another expert's weights or B scales, or A rows at
  // an offset. Empty when none of these explains them.
  std::string grouped_story(int64_t e) const {
    const gemm::Spec s = c.spec.expert_spec(e);
    const std::span<const std::byte> got = expert_rows(e);
    for (const int64_t other : {e - 1, e + 1}) {
      if (other < 0 || other >= c.spec.experts()) continue;
      const std::string of = "expert " + std::to_string(other) + "'s";
      gemm::Operands in = t.experts[size_t(e)];
      in.sb = t.experts[size_t(other)].sb;
      if (reproduces(s, in, got)) return "its B scales are " + of + " (its weights its own)";
      in.b = t.experts[size_t(other)].b;
      if (reproduces(s, in, got)) return "its weights and B scales are " + of;
      in.sb = t.experts[size_t(e)].sb;
      if (reproduces(s, in, got)) return "its weights are " + of + " (its B scales its own)";
    }
    const int64_t align = c.spec.align;
    for (const int64_t shift : {int64_t(-1), int64_t(1), -align, align, -c.spec.slot_rows(), c.spec.slot_rows()}) {
      const std::optional<gemm::Operands> in = shifted_rows(e, shift);
      if (!in || !reproduces(s, *in, got)) continue;
      const int64_t first = c.spec.first_row(e);
      return "it read A " + rows_text(first + shift, c.spec.tokens[size_t(e)]) + " for its tokens at " +
             rows_text(first, c.spec.tokens[size_t(e)]) + " (" + std::to_string(shift) + " rows: " +
             (std::abs(shift) == align ? "the alignment" : std::abs(shift) == 1 ? "one row" : "one expert slot") + ")";
    }
    return "";
  }

  // Rows of D that are not tokens and were written, as "rows 3-127 (padding after expert 1)".
  std::string written_off_tokens() const {
    const std::vector<int32_t> of = c.spec.row_experts();
    const size_t row_bytes = size_t(c.spec.base.n) * out_bytes(c.spec.base);
    std::string what;
    int64_t shown = 0;
    for (int64_t e = 0; e < c.spec.experts() && shown < 4; ++e) {
      const int64_t begin = c.spec.first_row(e) + c.spec.tokens[size_t(e)], end = c.spec.first_row(e + 1);
      int64_t first = -1, last = -1;
      for (int64_t r = begin; r < end; ++r) {
        const std::span<const std::byte> row = d.subspan(size_t(r) * row_bytes, row_bytes);
        if (std::ranges::all_of(row, [](std::byte b) { return b == std::byte{gemm::kPoison}; })) continue;
        if (first < 0) first = r;
        last = r;
      }
      if (first < 0) continue;
      ++shown;
      what += (what.empty() ? "" : "; ") + rows_text(first, last - first + 1) + " (" +
              (c.spec.layout == gemm::GroupLayout::masked ? "beyond masked_m " + std::to_string(c.spec.tokens[size_t(e)]) +
                                                               " in expert " + std::to_string(e) + "'s slot"
                                                         : "padding after expert " + std::to_string(e) + "'s tokens") +
              ")";
    }
    return what;
  }
};

// The failing case's map for the HTML report: bad elements by expert x 128 output columns (bad:
// not the bits of the expert's replay the outputs were judged against, or a written row that is
// not a token).
ErrorGrid expert_map(const Case& c, const Judgment& j, const std::vector<gemm::Output>& expected) {
  const gemm::Spec& b = c.spec.base;
  const int64_t tiles = (b.n + 127) / 128;
  ErrorGrid g{"bad elements by expert x output column tile (128 columns; the last row: rows that are not tokens)",
              "expert", "output column tile", "bad elements", c.spec.experts() + 1, tiles,
              std::vector<float>(size_t((c.spec.experts() + 1) * tiles), 0.0f)};
  const std::vector<int32_t> of = c.spec.row_experts();
  const uint32_t poison = b.out == Format::bf16 ? 0xA5A5u : 0xA5A5A5A5u;
  for (int64_t r = 0; r < c.spec.rows(); ++r)
    for (int64_t n = 0; n < b.n; ++n) {
      const uint32_t got = gemm::output_bits(b.out, j.d, size_t(r * b.n + n));
      const int32_t e = of[size_t(r)];
      bool bad = got != poison;
      if (e >= 0) {
        const uint32_t want = expected[size_t(e)].bits[size_t((r - c.spec.first_row(e)) * b.n + n)];
        bad = got != want && !(is_nan(b.out, got) && is_nan(b.out, want));
      }
      g.cells[size_t((e >= 0 ? e : c.spec.experts()) * tiles + n / 128)] += bad;
    }
  return g;
}

void merge(CaseResult& total, const CaseResult& r) {
  total.elements += r.elements, total.n_exact += r.n_exact, total.n_within += r.n_within;
  total.n_over += r.n_over, total.n_nonfinite += r.n_nonfinite, total.n_nan += r.n_nan;
  total.max_ulp = std::max(total.max_ulp, r.max_ulp);
  for (size_t b = 0; b < total.ulp_hist.size(); ++b) total.ulp_hist[b] += r.ulp_hist[b];
  total.verdict = std::max(total.verdict, r.verdict);
}

// Every expert's rows as its dense case; the rows off the tokens untouched.
CaseResult judge(const Case& c, const Tensors& t, std::span<const std::byte> d, const GemmClaim& claim,
                 const gemm::AccumModel* model) {
  CaseResult total;
  Judgment j{c, t, d, model};
  std::vector<gemm::Output> replays(size_t(c.spec.experts()));
  for (int64_t e = 0; e < c.spec.experts(); ++e) {
    const int64_t count = c.spec.tokens[size_t(e)];
    if (count == 0) continue;
    const gemm::Spec s = c.spec.expert_spec(e);
    const gemm::Operands& in = t.experts[size_t(e)];
    gemm::Expected ex;
    ex.ideal = gemm::gemm_ideal(s, in);
    ex.model = model;
    ex.arch = claim.arch;
    ex.replay = gemm::gemm_replay(s, *model, in);
    const gemm::Compared cmp = gemm::compare(c.expert_case(e), in, ex, j.expert_rows(e), quant::default_budgets());
    merge(total, cmp.result);
    replays[size_t(e)] = std::move(ex.replay.out);
    if (passes(cmp.result.verdict)) continue;
    const std::string where = "expert " + std::to_string(e) + " (" + std::to_string(count) + " tokens, D " +
                              rows_text(c.spec.first_row(e), count) + ")";
    const std::string grouped = j.grouped_story(e);
    if (!grouped.empty()) total.verdict = std::max(total.verdict, Verdict::layout);
    if (total.message.size() < 600)
      total.message += (total.message.empty() ? "" : "; ") + where + ": " + (grouped.empty() ? cmp.result.message : grouped);
    for (const std::string& line : cmp.result.first_bad)
      if (total.first_bad.size() < 8) total.first_bad.push_back("expert " + std::to_string(e) + ": " + line);
  }
  if (const std::string written = j.written_off_tokens(); !written.empty()) {
    total.verdict = std::max(total.verdict, Verdict::layout);
    total.message = "wrote rows of D that are not tokens: " + written + (total.message.empty() ? "" : "; " + total.message);
  }
  total.model = model->name;
  if (!passes(total.verdict)) total.grids.push_back(expert_map(c, j, replays));
  return total;
}

// The order the kernel's outputs follow: its claim, or (claiming none) the one identification finds
// on its largest expert.
const gemm::AccumModel* order_of(const Case& c, const Tensors& t, std::span<const std::byte> d,
                                 const GemmClaim& claim, std::unique_ptr<gemm::Variant>& held, std::string& story) {
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
  const gemm::Identification id = gemm::identify(s, t.experts[size_t(e)], got, claim.arch);
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
        claim = backend.grouped_gemm(c.spec, t.buffers(std::as_writable_bytes(d)));
      },
      [&] {
        std::unique_ptr<gemm::Variant> held;
        std::string identified;
        const gemm::AccumModel* model = order_of(c, t, std::as_bytes(d), claim, held, identified);
        if (!model) {
          CaseResult r;
          r.verdict = Verdict::error;
          r.message = "the kernel claims no accumulator model and none was identified: " + identified;
          return r;
        }
        CaseResult r = judge(c, t, std::as_bytes(d), claim, model);
        if (!identified.empty()) r.message += (r.message.empty() ? "" : "; ") + identified;
        r.case_id = c.id(), r.family = "moe", r.profile = std::string(c.spec.base.profile->name);
        return r;
      });
  stamp(result, outputs.bytes(), backend, t0);
  result.note = gemm::claim_text(claim);
  return result;
}

std::vector<std::string> catalog_ids(Tier tier) { return case_ids(catalog(tier)); }

CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>*) {
  return run_case(Case::parse(id), backend);
}

// The experts' codes twice (logical and stored), A and its scales, D with the per-expert references
// and comparison (about 24 bytes an output), and one expert's decoded B at a time.
double host_bytes(std::string_view id) {
  const Case c = Case::parse(id);
  const double rows = double(c.spec.rows()), n = double(c.spec.base.n), k = double(c.spec.base.k);
  return 2 * double(c.spec.experts()) * n * k + 3 * rows * k + 24 * rows * n + 16 * n * k;
}

}  // namespace ulpgate::moe
