#include "reference/quant/grouped.hpp"

#include <algorithm>

#include "reference/formats/name_table.hpp"

namespace ulpgate::quant {
namespace {

constexpr NameTable<Op, 2> kGroupedOps{{{{Op::group, "moe.quant"}, {Op::mx, "moe.quant-mx"}}}};

}  // namespace

std::string_view grouped_op_name(Op expert_op) { return kGroupedOps.name(expert_op); }
Op parse_grouped_op(std::string_view name) { return kGroupedOps.parse(name, "grouped op"); }

int64_t GroupedSpec::scale_offset(int64_t row, int64_t g) const {
  const int64_t rows = part_rows(), part = row / rows;
  return part * part_bytes() + byte_offset(base.layout, {rows, groups()}, row - part * rows, g);
}

std::string GroupedSpec::problem() const {
  if (base.op != Op::group && base.op != Op::mx) return "a grouped quantization's experts are quant.group or quant.mx";
  Spec b = base;
  b.m = 0;
  if (std::string p = b.problem(); !p.empty()) return p;
  return rows_problem();
}

std::vector<uint8_t> grouped_storage_frame(const GroupedSpec& s, uint8_t fill) {
  const int64_t g = s.groups(), rows = s.part_rows(), size = s.scale_size();
  std::vector<uint8_t> storage;
  for (int64_t p = 0; p < s.parts(); ++p) {
    const std::vector<uint8_t> part = pack(s.base.layout, {rows, g}, std::vector<float>(size_t(rows * g), 1.0f));
    storage.insert(storage.end(), part.begin(), part.end());
  }
  const std::vector<int32_t> of = s.row_experts();
  for (int64_t r = 0; r < s.rows(); ++r)
    if (of[size_t(r)] < 0)
      for (int64_t j = 0; j < g; ++j) std::fill_n(storage.begin() + s.scale_offset(r, j), size, fill);
  return storage;
}

GroupedResult assemble_grouped(const GroupedSpec& s, std::span<const Result> experts, uint8_t fill) {
  const int64_t k = s.base.k, g = s.groups(), size = s.scale_size();
  GroupedResult out{std::vector<uint8_t>(size_t(s.rows() * k), fill), grouped_storage_frame(s, fill)};
  for (int64_t e = 0; e < s.experts(); ++e) {
    const Result& x = experts[size_t(e)];
    const int64_t first = s.first_row(e), count = s.tokens[size_t(e)];
    std::copy(x.codes.begin(), x.codes.end(), out.codes.begin() + first * k);
    for (int64_t r = 0; r < count; ++r)
      for (int64_t j = 0; j < g; ++j)
        std::copy_n(x.storage.begin() + byte_offset(s.base.layout, {count, g}, r, j), size,
                    out.storage.begin() + s.scale_offset(first + r, j));
  }
  return out;
}

GroupedResult quantize_grouped(const GroupedSpec& s, std::span<const float> x, uint8_t fill) {
  std::vector<Result> experts;
  for (int64_t e = 0; e < s.experts(); ++e) {
    const int64_t first = s.first_row(e), count = s.tokens[size_t(e)];
    experts.push_back(quantize_profile(s.expert_spec(e), x.subspan(size_t(first * s.base.k), size_t(count * s.base.k))));
  }
  return assemble_grouped(s, experts, fill);
}

}  // namespace ulpgate::quant
