#include "harness/moe/quant_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "harness/core/family.hpp"
#include "harness/core/guarded_outputs.hpp"
#include "harness/moe/expert_judging.hpp"
#include "harness/quant/budget.hpp"
#include "harness/quant/compare.hpp"
#include "harness/quant/device_reference.hpp"

namespace ulpgate::moe {
namespace {

struct QuantJudgment {
  const QuantCase& c;
  const quant::GroupedResult& want;
  std::span<const uint8_t> codes, storage;

  int64_t k() const { return c.spec.base.k; }
  int64_t scale_size() const { return is_ue8m0_layout(c.spec.base.layout) ? 1 : 4; }

  // Expert e's scale storage as its dense case's: the grouped bytes of its rows, its own padding.
  std::vector<uint8_t> expert_storage(int64_t e, const quant::Result& expected) const {
    std::vector<uint8_t> s = expected.storage;
    const int64_t first = c.spec.first_row(e), count = c.spec.tokens[size_t(e)], g = c.spec.groups();
    for (int64_t r = 0; r < count; ++r)
      for (int64_t j = 0; j < g; ++j)
        std::copy_n(storage.begin() + c.spec.scale_offset(first + r, j), scale_size(),
                    s.begin() + byte_offset(c.spec.base.layout, {count, g}, r, j));
    return s;
  }

  // Do rows [at, at + count) hold what rows [first, first + count) should?
  bool codes_at(int64_t at, int64_t first, int64_t count) const {
    return std::equal(want.codes.begin() + first * k(), want.codes.begin() + (first + count) * k(),
                      codes.begin() + at * k());
  }
  bool scales_at(int64_t at, int64_t first, int64_t count) const {
    for (int64_t r = 0; r < count; ++r)
      for (int64_t j = 0; j < c.spec.groups(); ++j)
        if (!std::equal(want.storage.begin() + c.spec.scale_offset(first + r, j),
                        want.storage.begin() + c.spec.scale_offset(first + r, j) + scale_size(),
                        storage.begin() + c.spec.scale_offset(at + r, j)))
          return false;
    return true;
  }

  // Where a failing expert's codes or scales went instead: rows one, an alignment or a slot away.
  std::string written_elsewhere(int64_t e) const {
    const int64_t first = c.spec.first_row(e), count = c.spec.tokens[size_t(e)];
    const int64_t slot = c.spec.layout == GroupLayout::masked ? c.spec.slot_rows() : 0;
    for (const int64_t shift : {int64_t(-1), int64_t(1), -c.spec.align, c.spec.align, -slot, slot}) {
      const int64_t at = first + shift;
      if (shift == 0 || at < 0 || at + count > c.spec.rows()) continue;
      const bool codes = codes_at(at, first, count), scales = scales_at(at, first, count);
      if (!codes && !scales) continue;
      const std::string away = std::to_string(shift) + " rows: " +
                               (std::abs(shift) == c.spec.align ? "the alignment" : std::abs(shift) == 1 ? "one row" : "one expert slot");
      return std::string(codes && scales ? "its codes and scales" : codes ? "its codes" : "its scales") +
             " were written at " + rows_text(at, count) + " (" + away + ")" +
             (codes && scales ? "" : codes ? ", its scales not" : ", its codes not");
    }
    return "";
  }

  bool row_written(int64_t r) const {
    const bool code = std::ranges::any_of(codes.subspan(size_t(r * k()), size_t(k())), [](uint8_t b) { return b != quant::kPoison; });
    if (code) return true;
    for (int64_t j = 0; j < c.spec.groups(); ++j)
      for (int64_t i = 0; i < scale_size(); ++i)
        if (storage[size_t(c.spec.scale_offset(r, j) + i)] != quant::kPoison) return true;
    return false;
  }

  // The first padding byte of the scale storage (a byte of no scale) that is not the layout's.
  std::string padding_mismatch() const {
    const int64_t part = c.spec.part_bytes(), rows = c.spec.part_rows();
    for (int64_t b = 0; b < int64_t(storage.size()); ++b) {
      if (storage[size_t(b)] == want.storage[size_t(b)]) continue;
      if (scale_at(c.spec.base.layout, {rows, c.spec.groups()}, b % part)) continue;
      char text[96];
      std::snprintf(text, sizeof text, "scale storage padding byte %lld is 0x%02x, the layout's 0x%02x",
                    static_cast<long long>(b), storage[size_t(b)], want.storage[size_t(b)]);
      return text;
    }
    return "";
  }
};

CaseResult judge(const QuantCase& c, const QuantInputs& in, const std::vector<quant::Expected>& ex,
                 const quant::GroupedResult& want, std::span<const uint8_t> codes, std::span<const uint8_t> storage) {
  const QuantJudgment j{c, want, codes, storage};
  CaseResult total;
  for (int64_t e = 0; e < c.spec.experts(); ++e) {
    const int64_t count = c.spec.tokens[size_t(e)];
    if (count == 0) continue;
    const std::vector<uint8_t> s = j.expert_storage(e, ex[size_t(e)].profile);
    const quant::Observed o{codes.subspan(size_t(c.spec.first_row(e) * j.k()), size_t(count * j.k())), s};
    const CaseResult r = quant::compare(c.expert_case(e), in.experts[size_t(e)], ex[size_t(e)], o, quant::default_budgets());
    add_expert(total, c.spec, e, "x", r, passes(r.verdict) ? "" : j.written_elsewhere(e));
  }
  const std::string written = written_off_tokens(c.spec, [&](int64_t r) { return j.row_written(r); });
  if (!written.empty()) {
    total.verdict = std::max(total.verdict, Verdict::layout);
    total.message = "wrote rows that are not tokens: " + written + (total.message.empty() ? "" : "; " + total.message);
  }
  if (const std::string padding = j.padding_mismatch(); !padding.empty()) {
    total.verdict = std::max(total.verdict, Verdict::layout);
    total.message += (total.message.empty() ? "" : "; ") + padding;
  }
  if (!passes(total.verdict))
    total.grids.push_back(expert_grid(c.spec, j.k(), 128, "codes (not the profile's)", [&](int64_t r, int64_t col) {
      return codes[size_t(r * j.k() + col)] != want.codes[size_t(r * j.k() + col)];
    }));
  return total;
}

// The backend's quantization reference where it computes the experts' dense case (it declines by
// profile, op and input, which every expert shares; not by M), else nullptr: the host's then.
quant::DeviceReference* device_reference(const QuantCase& c, Backend& backend) {
  return c.spec.experts() ? quant::reference_for(backend, c.expert_case(0)) : nullptr;
}

}  // namespace

CaseResult run_quant_case(const QuantCase& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  if (const std::string why = backend.declines(c.spec); !why.empty()) throw NotSupported(backend.name() + ": " + why);
  quant::DeviceReference* device = device_reference(c, backend);
  const QuantInputs in = c.inputs(!device);
  std::vector<quant::Expected> ex;
  std::vector<quant::Result> results;
  for (int64_t e = 0; e < c.spec.experts(); ++e) {
    const quant::Case expert = c.expert_case(e);
    const quant::Inputs& x = in.experts[size_t(e)];
    // An expert without tokens has nothing to compute: here, where M = 0 is sure to be no launch.
    ex.push_back(device && expert.spec.m > 0 ? device->expected(expert, x) : quant::expected(expert, x));
    results.push_back(ex.back().profile);
  }
  const quant::GroupedResult want = quant::assemble_grouped(c.spec, results, quant::kPoison);
  GuardedOutputs outputs;
  const std::span<uint8_t> codes = outputs.add("codes", want.codes.size(), quant::kPoison);
  const std::span<uint8_t> storage = outputs.add("scales", want.storage.size(), quant::kPoison);
  const std::string profile(c.spec.base.profile->name);
  CaseResult result = judged(
      c.id(), "moe", profile, outputs,
      [&] { backend.grouped_quant(c.spec, c.input, in.raw, in.row_map, codes, storage); },
      [&] {
        CaseResult r = judge(c, in, ex, want, codes, storage);
        r.case_id = c.id(), r.family = "moe", r.profile = profile;
        return r;
      });
  stamp(result, outputs, backend, t0);
  if (device) result.note += std::string(result.note.empty() ? "" : "; ") + "references on " + device->name();
  return result;
}

double quant_host_bytes(const QuantCase& c) {
  return double(c.spec.rows()) * double(c.spec.base.k) * 32 + 2 * double(c.spec.scale_bytes());
}

}  // namespace ulpgate::moe
