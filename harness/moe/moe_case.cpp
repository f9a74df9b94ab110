#include "harness/moe/moe_case.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "harness/core/id_text.hpp"
#include "harness/core/rng.hpp"
#include "reference/gemm/layout.hpp"

namespace ulpgate::moe {
using namespace id_text;

namespace {

constexpr int64_t kMaxExperts = 1 << 16, kMaxTokens = int64_t(1) << 31;  // parsing stays O(G), cheap
constexpr std::string_view kSegments = "moe.gemm/profile/A.B[.ue8m0]/out/layout[.aN]/GxTxNxK/input/sN";

uint8_t nan_code(Format f) {
  for (uint32_t c = 0; c < 256; ++c)
    if (is_nan(f, c)) return uint8_t(c);
  return 0;
}

}  // namespace

std::vector<int64_t> route(int64_t experts, int64_t tokens, int64_t align, uint64_t seed) {
  std::vector<int64_t> counts(size_t(experts), 0);
  int64_t left = tokens;
  std::vector<int64_t> open;  // experts the Zipf draw fills
  for (int64_t e = 0; e < experts; ++e) {
    if (experts > 1 && e == 0) continue;  // no token
    if (experts > 2 && e == 1 && left > 0) {
      counts[1] = 1, --left;
      continue;
    }
    if (experts > 3 && e == 2 && left > align) {
      counts[2] = align + 1, left -= align + 1;
      continue;
    }
    open.push_back(e);
  }
  if (open.empty()) open.push_back(experts - 1);
  const Rng rng("moe/route", seed);
  for (size_t i = open.size(); i > 1; --i) std::swap(open[i - 1], open[size_t(rng.below(1000 + i, i))]);
  // Zipf weights over the seeded order, the tokens by largest remainder: O(G), whatever T.
  std::vector<double> share;
  double total = 0;
  for (size_t i = 0; i < open.size(); ++i) total += share.emplace_back(std::pow(double(i + 1), -1.2));
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < open.size(); ++i) {
    const double exact = double(left) * share[i] / total;
    const int64_t whole = int64_t(exact);
    counts[size_t(open[i])] += whole, given += whole;
    remainders.push_back({exact - double(whole), i});
  }
  std::ranges::sort(remainders, [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (int64_t r = 0; r < left - given; ++r) ++counts[size_t(open[remainders[size_t(r) % remainders.size()].second])];
  return counts;
}

std::string rows_segment(const ExpertRows& r) {
  return std::string(group_layout_name(r.layout)) + (r.align != 128 ? ".a" + std::to_string(r.align) : "");
}

ExpertRows parse_rows(std::string_view segment, int64_t experts, int64_t tokens, uint64_t seed, std::string_view id) {
  const std::string quoted = "case '" + std::string(id) + "': ";
  ExpertRows r;
  const auto layout = split(segment, '.');
  r.layout = parse_group_layout(layout[0]);
  if (layout.size() > 2 || (layout.size() == 2 && !layout[1].starts_with("a")))
    throw UsageError(quoted + "bad layout segment '" + std::string(segment) + "' (contiguous or masked, .aN: row alignment)");
  if (layout.size() == 2) r.align = parse_int(layout[1].substr(1), "alignment", id);
  if (experts < 1 || experts > kMaxExperts || tokens < 0 || tokens > kMaxTokens || r.align < 1 || r.align > kMaxTokens)
    throw UsageError(quoted + "1 <= G <= " + std::to_string(kMaxExperts) + ", 0 <= T <= 2^31 and 1 <= the alignment <= 2^31");
  r.tokens = route(experts, tokens, r.align, seed);
  return r;
}

std::string Case::id() const {
  const gemm::Spec& b = spec.base;
  return std::string(spec.op_name()) + "/" + std::string(b.profile->name) + "/" + std::string(format_name(b.a_format)) + "." +
         std::string(format_name(b.b_format)) + (b.ue8m0 ? ".ue8m0" : "") + "/" + std::string(format_name(b.out)) + "/" +
         rows_segment(spec) + "/" + std::to_string(spec.experts()) + "x" + std::to_string(tokens) + "x" + std::to_string(b.n) + "x" +
         std::to_string(b.k) + "/" + input.str() + "/s" + std::to_string(seed);
}

Case Case::parse(std::string_view id) {
  const auto seg = split(id, '/');
  const std::string quoted = "case '" + std::string(id) + "': ";
  if (seg.size() != 8)
    throw UsageError(quoted + "expected 8 segments " + std::string(kSegments) + ", got " + std::to_string(seg.size()));
  const gemm::Op op = [&] {
    try {
      return gemm::parse_grouped_op(seg[0]);
    } catch (const UsageError& e) {
      throw UsageError(quoted + e.what());
    }
  }();
  const auto dims = split(seg[5], 'x');
  if (dims.size() != 4) throw UsageError(quoted + "shape '" + std::string(seg[5]) + "' is not GxTxNxK");
  Case c;
  const int64_t g = parse_int(dims[0], "G", id);
  c.tokens = parse_int(dims[1], "T", id);
  const std::string dense = std::string(gemm::op_name(op)) + "/" + std::string(seg[1]) + "/" + std::string(seg[2]) + "/" + std::string(seg[3]) +
                            "/1x" + std::string(dims[2]) + "x" + std::string(dims[3]) + "/" + std::string(seg[6]) + "/" +
                            std::string(seg[7]);
  try {
    const gemm::Case d = gemm::Case::parse(dense);
    c.spec.base = d.spec, c.input = d.input, c.seed = d.seed;
  } catch (const UsageError& e) {
    throw UsageError(quoted + "as its experts' dense case: " + e.what());
  }
  if (c.spec.base.n % 128) throw UsageError(quoted + "N must be a multiple of 128 (each expert's B scales in whole blocks and tiles)");
  static_cast<ExpertRows&>(c.spec) = parse_rows(seg[4], g, c.tokens, c.seed, id);
  if (const std::string p = c.spec.problem(); !p.empty()) throw UsageError(quoted + p);
  return c;
}

gemm::Case Case::expert_case(int64_t e) const { return {spec.expert_spec(e), input, seed}; }

gemm::Case Case::expert_inputs(int64_t e) const { return {spec.expert_spec(e), input, seed * 1000003 + uint64_t(e)}; }

gemm::Operands Tensors::expert(int64_t e) const {
  gemm::Operands in = experts[size_t(e)];
  gemm::Quantized w = of.expert_inputs(e).operand(gemm::Which::b);
  in.b = std::move(w.codes), in.sb = std::move(w.scales);
  return in;
}

gemm::ExpertWeights Tensors::weights() const {
  const gemm::Spec& base = of.spec.base;
  const int64_t sb_bytes =
      quant::storage_bytes(gemm::scale_layout(base, gemm::Which::b), gemm::scale_shape(base, gemm::Which::b));
  return {sb_bytes, [c = of, sb_bytes](int64_t first, int64_t count, std::span<uint8_t> b, std::span<uint8_t> sb) {
            const size_t expert_b = size_t(c.spec.base.n * c.spec.base.k);
            if (b.size() != size_t(count) * expert_b || sb.size() != size_t(count * sb_bytes))
              throw std::logic_error("moe::Tensors::weights: a part of another size");
            for (int64_t i = 0; i < count; ++i) {  // each expert's made in parallel (its bands)
              const gemm::Case x = c.expert_inputs(first + i);
              const gemm::Quantized w = x.operand(gemm::Which::b);
              gemm::pack_weights_into(x.spec, w.codes, b.subspan(size_t(i) * expert_b, expert_b));
              const std::vector<uint8_t> stored = gemm::pack_scales(x.spec, gemm::Which::b, w.scales);
              std::copy(stored.begin(), stored.end(), sb.begin() + i * sb_bytes);
            }
          }};
}

Tensors Case::tensors() const {
  const gemm::Spec& base = spec.base;
  const int64_t g = spec.experts(), k = base.k, rows = spec.rows();
  const int64_t kblocks = gemm::geometry(base).sa.g;
  Tensors t;
  t.of = *this;
  t.experts.resize(size_t(g));
  t.a.assign(size_t(rows * k), nan_code(base.a_format));
  std::vector<float>& sa = t.sa_rows;
  sa.assign(size_t(rows * kblocks), NAN);
  // Expert e's tokens as a dense case of their own (its seed's stream e): experts are generated in
  // parallel, each the same on any machine.
  std::atomic<int64_t> next{0};
  const auto generate = [&] {
    for (int64_t e; (e = next++) < g;) {
      gemm::Quantized x = expert_inputs(e).operand(gemm::Which::a);
      const int64_t first = spec.first_row(e);
      std::copy(x.codes.begin(), x.codes.end(), t.a.begin() + first * k);
      std::copy(x.scales.begin(), x.scales.end(), sa.begin() + first * kblocks);
      t.experts[size_t(e)].a = std::move(x.codes), t.experts[size_t(e)].sa = std::move(x.scales);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < std::min<unsigned>(std::thread::hardware_concurrency(), unsigned(g)); ++i) pool.emplace_back(generate);
  generate();
  for (std::thread& th : pool) th.join();
  t.sa = pack_part_scales(spec, gemm::scale_layout(base, gemm::Which::a), kblocks, sa);
  if (spec.layout == GroupLayout::contiguous) {
    const std::vector<int32_t> of = spec.row_experts();
    t.m_indices.assign(of.begin(), of.end());
  } else {
    t.masked_m = spec.masked_m();
  }
  return t;
}

}  // namespace ulpgate::moe
