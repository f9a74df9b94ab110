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

// The backend's quantization reference where it computes the experts' dense case (it declines by
// profile, op and input, which every expert shares; not by M), else nullptr: the host's then.
quant::DeviceReference* device_reference(const QuantCase& c, Backend& backend) {
  return c.spec.experts() ? quant::reference_for(backend, c.expert_case(0)) : nullptr;
}

// The grouped outputs judged an expert at a time: its dense case's reference made (on `device`
// where there is one), compared and dropped, so that what is held beyond the kernel's input and
// outputs is one expert's.
struct QuantJudgment {
  const QuantCase& c;
  const QuantInputs& in;
  quant::DeviceReference* device;
  std::span<const uint8_t> codes, storage;

  int64_t k() const { return c.spec.base.k; }
  int64_t tiles() const { return (k() + kGridTile - 1) / kGridTile; }
  static constexpr int64_t kGridTile = 128;

  quant::Expected expected(int64_t e, const quant::Inputs& x) const {
    const quant::Case expert = c.expert_case(e);
    return device ? device->expected(expert, x) : quant::expected(expert, x);
  }

  // Expert e's scale storage as its dense case's: the grouped bytes of its rows, its own padding.
  std::vector<uint8_t> expert_storage(int64_t e, const quant::Result& want) const {
    std::vector<uint8_t> s = want.storage;
    const int64_t first = c.spec.first_row(e), count = c.spec.tokens[size_t(e)], g = c.spec.groups();
    for (int64_t r = 0; r < count; ++r)
      for (int64_t j = 0; j < g; ++j)
        std::copy_n(storage.begin() + c.spec.scale_offset(first + r, j), c.spec.scale_size(),
                    s.begin() + byte_offset(c.spec.base.layout, {count, g}, r, j));
    return s;
  }

  // Do rows [at, at + count) hold what expert e's rows should (want: its dense result)?
  bool codes_at(int64_t at, const quant::Result& want) const {
    return std::equal(want.codes.begin(), want.codes.end(), codes.begin() + at * k());
  }
  bool scales_at(int64_t at, int64_t count, const quant::Result& want) const {
    for (int64_t r = 0; r < count; ++r)
      for (int64_t j = 0; j < c.spec.groups(); ++j) {
        const auto from = want.storage.begin() + byte_offset(c.spec.base.layout, {count, c.spec.groups()}, r, j);
        if (!std::equal(from, from + c.spec.scale_size(), storage.begin() + c.spec.scale_offset(at + r, j))) return false;
      }
    return true;
  }

  // Where a failing expert's codes or scales went instead: rows one, an alignment or a slot away.
  std::string written_elsewhere(int64_t e, const quant::Result& want) const {
    const int64_t first = c.spec.first_row(e), count = c.spec.tokens[size_t(e)];
    const int64_t slot = c.spec.layout == GroupLayout::masked ? c.spec.slot_rows() : 0;
    for (const int64_t shift : {int64_t(-1), int64_t(1), -c.spec.align, c.spec.align, -slot, slot}) {
      const int64_t at = first + shift;
      if (shift == 0 || at < 0 || at + count > c.spec.rows()) continue;
      const bool codes = codes_at(at, want), scales = scales_at(at, count, want);
      if (!codes && !scales) continue;
      const std::string away = std::to_string(shift) + " rows: " +
                               (std::abs(shift) == c.spec.align ? "the alignment" : std::abs(shift) == 1 ? "one row" : "one expert slot");
      return std::string(codes && scales ? "its codes and scales" : codes ? "its codes" : "its scales") +
             " were written at " + rows_text(at, count) + " (" + away + ")" +
             (codes && scales ? "" : codes ? ", its scales not" : ", its codes not");
    }
    return "";
  }

  // Adds row r's codes that are not `want`'s (k of them) to the map's cells of its expert (e:
  // experts() for the rows that are not tokens).
  void count_bad_codes(int64_t r, int64_t e, const uint8_t* want, std::vector<float>& cells) const {
    const uint8_t* got = codes.data() + r * k();
    float* const row_cells = cells.data() + e * tiles();
    for (int64_t col = 0; col < k(); ++col) row_cells[col / kGridTile] += got[col] != want[col];
  }

  bool row_written(int64_t r) const {
    const bool code = std::ranges::any_of(codes.subspan(size_t(r * k()), size_t(k())), [](uint8_t b) { return b != quant::kPoison; });
    if (code) return true;
    for (int64_t j = 0; j < c.spec.groups(); ++j)
      for (int64_t i = 0; i < c.spec.scale_size(); ++i)
        if (storage[size_t(c.spec.scale_offset(r, j) + i)] != quant::kPoison) return true;
    return false;
  }

  // The first padding byte of the scale storage (a byte of no scale) that is not the layout's.
  std::string padding_mismatch() const {
    const std::vector<uint8_t> frame = quant::grouped_storage_frame(c.spec, quant::kPoison);
    const int64_t part = c.spec.part_bytes(), rows = c.spec.part_rows();
    for (int64_t b = 0; b < int64_t(storage.size()); ++b) {
      if (storage[size_t(b)] == frame[size_t(b)]) continue;
      if (scale_at(c.spec.base.layout, {rows, c.spec.groups()}, b % part)) continue;
      char text[96];
      std::snprintf(text, sizeof text, "scale storage padding byte %lld is 0x%02x, the layout's 0x%02x",
                    static_cast<long long>(b), storage[size_t(b)], frame[size_t(b)]);
      return text;
    }
    return "";
  }

  CaseResult judge() const {
    CaseResult total;
    std::vector<float> cells(size_t((c.spec.experts() + 1) * tiles()), 0.0f);
    for (int64_t e = 0; e < c.spec.experts(); ++e) {
      const int64_t count = c.spec.tokens[size_t(e)];
      if (count == 0) continue;  // nothing to compute: here, where M = 0 is sure to be no launch
      const quant::Inputs x = c.expert_inputs(in, e, !device);
      const quant::Expected ex = expected(e, x);
      const std::vector<uint8_t> s = expert_storage(e, ex.profile);
      const quant::Observed o{codes.subspan(size_t(c.spec.first_row(e) * k()), size_t(count * k())), s};
      const CaseResult r = quant::compare(c.expert_case(e), x, ex, o, quant::default_budgets());
      add_expert(total, c.spec, e, "x", r, passes(r.verdict) ? "" : written_elsewhere(e, ex.profile));
      for (int64_t r = 0; r < count; ++r) count_bad_codes(c.spec.first_row(e) + r, e, ex.profile.codes.data() + r * k(), cells);
    }
    const std::string written = written_off_tokens(c.spec, [&](int64_t r) { return row_written(r); });
    if (!written.empty()) {
      total.verdict = std::max(total.verdict, Verdict::layout);
      total.message = "wrote rows that are not tokens: " + written + (total.message.empty() ? "" : "; " + total.message);
    }
    if (const std::string padding = padding_mismatch(); !padding.empty()) {
      total.verdict = std::max(total.verdict, Verdict::layout);
      total.message += (total.message.empty() ? "" : "; ") + padding;
    }
    if (passes(total.verdict)) return total;
    const std::vector<int32_t> of = c.spec.row_experts();
    const std::vector<uint8_t> untouched(size_t(k()), quant::kPoison);
    for (int64_t r = 0; r < c.spec.rows(); ++r)
      if (of[size_t(r)] < 0) count_bad_codes(r, c.spec.experts(), untouched.data(), cells);
    total.grids.push_back(expert_grid(c.spec, kGridTile, "codes (not the profile's)", std::move(cells)));
    return total;
  }
};

}  // namespace

CaseResult run_quant_case(const QuantCase& c, Backend& backend) {
  const auto t0 = std::chrono::steady_clock::now();
  if (const std::string why = backend.declines(c.spec); !why.empty()) throw NotSupported(backend.name() + ": " + why);
  quant::DeviceReference* device = device_reference(c, backend);
  const QuantInputs in = c.inputs();
  GuardedOutputs outputs;
  const std::span<uint8_t> codes = outputs.add("codes", size_t(c.spec.rows() * c.spec.base.k), quant::kPoison);
  const std::span<uint8_t> storage = outputs.add("scales", size_t(c.spec.scale_bytes()), quant::kPoison);
  const std::string profile(c.spec.base.profile->name);
  CaseResult result = judged(
      c.id(), "moe", profile, outputs,
      [&] { backend.grouped_quant(c.spec, c.input, in.raw, in.row_map, codes, storage); },
      [&] {
        CaseResult r = QuantJudgment{c, in, device, codes, storage}.judge();
        r.case_id = c.id(), r.family = "moe", r.profile = profile;
        return r;
      });
  stamp(result, outputs, backend, t0);
  if (device) result.note += std::string(result.note.empty() ? "" : "; ") + "references on " + device->name();
  return result;
}

double quant_host_bytes(const QuantCase& c) {
  const double k = double(c.spec.base.k), largest = double(std::ranges::max(c.spec.tokens));
  const double input = c.input == Format::fp32 ? 4 : 2;
  return double(c.spec.rows()) * k * (input + 1) + 2 * double(c.spec.scale_bytes()) + largest * k * 32;
}

}  // namespace ulpgate::moe
