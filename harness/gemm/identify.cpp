#include "harness/gemm/identify.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "harness/gemm/device_reference.hpp"
#include "kernels/portable/arch.hpp"
#include "reference/gemm/detail.hpp"
#include "reference/gemm/step.hpp"

namespace ulpgate::gemm {
namespace {

constexpr int kMaxPromoteSteps = 64;
constexpr int kMaxSplit = 16;
constexpr size_t kStoryMatches = 4;  // matches a story names before "and N more"
constexpr size_t kFullChecks = 16;   // survivors of the samples checked on all of D when more survive

bool in_mma(const AccumModel& m, const Spec& s) { return m.scales_in_mma && s.pow2_scales(); }

// A node of an order tree as a 128-bit Merkle hash: equal trees give equal values, different ones
// the same value with a probability of about 2^-64 or less (two mixes of the same inputs).
struct Sig {
  uint64_t h1 = 0, h2 = 0;
  auto operator<=>(const Sig&) const = default;
};
uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
enum Tag : uint64_t { kZero = 1, kChain, kPlus, kBlock, kStep };
Sig node(uint64_t tag, Sig a, Sig b = {}) {
  return {mix(mix(mix(tag * 0x9e3779b97f4a7c15ull) ^ a.h1) ^ b.h1),
          mix(mix(mix(tag + 0x632be59bd9b4e019ull) + a.h2) * 3 + b.h2)};
}
Sig leaf(uint64_t tag, int64_t x, int64_t y) { return node(tag, {uint64_t(x), ~uint64_t(x)}, {uint64_t(y), ~uint64_t(y)}); }

// The order a variant sums this spec's products in, as a canonical tree (replay.cpp's segments,
// chains and split parts, model.hpp): the step, then the tree of fp32 operations over the chains'
// K ranges. Two variants with one signature compute the same bits on any data (the rows sm90 and
// sm90-fast-accum share variants; K split in 4 single-chain parts added sequentially is promotion
// every K/4).
Sig order_signature(const Spec& s, const AccumModel& m) {
  const Geometry g = geometry(s);
  const bool mma = in_mma(m, s);
  const MmaStep& t = m.step;
  Sig step;
  for (int v : {t.k, t.groups, t.frac_bits, int(t.align), t.e_floor, t.sum_bits, int(t.sum_rounding), int(t.join),
                t.late_bits, int(t.exponents), t.k_run, int(mma)})
    step = node(kStep, step, {uint64_t(v), ~uint64_t(v)});
  // A chain of one fmaf from zero is the exact product, so promoting every fmaf is one chain.
  const bool fma_every_step = detail::is_fmaf(t) && m.promote_k == 1;
  const auto fold = [](const std::vector<Sig>& terms) {  // ((t0 + t1) + t2) ...
    if (terms.empty()) return node(kZero, {});
    Sig e = terms[0];
    for (size_t i = 1; i < terms.size(); ++i) e = node(kPlus, e, terms[i]);
    return e;
  };
  const auto chains = [&](int64_t k0, int64_t k1) {  // a segment: its chains added in fp32
    const int64_t every = m.promote_k && !mma && !fma_every_step ? m.promote_k : std::max<int64_t>(k1 - k0, 1);
    std::vector<Sig> c;
    for (int64_t k = k0; k < k1; k += every) c.push_back(leaf(kChain, k, std::min(k + every, k1)));
    return fold(c);
  };
  const auto blocks = [&](int64_t b0, int64_t b1) {  // gemm.block: main = fma(G_kb, s, main) from +0
    Sig e = node(kZero, {});
    for (int64_t kb = b0; kb < b1; ++kb) e = node(kBlock, chains(g.block_begin(kb), g.block_end(kb)), e);
    return e;
  };
  const bool over_k = mma || g.epilogue_scales();
  const auto part = [&](int64_t a, int64_t b) { return over_k ? chains(a, b) : blocks(a, b); };
  const int64_t size = over_k ? s.k : g.kblocks;
  const int64_t unit = over_k ? (m.promote_k && !mma ? m.promote_k : m.step.k) : 1;
  const int64_t units = size == 0 ? 0 : (size + unit - 1) / unit, per = units_per_part(m, units, over_k ? unit : g.kblock);
  if (per == 0 || size == 0) return node(kStep, step, part(0, size));
  std::vector<Sig> parts;
  for (int64_t u = 0; u < units; u += per) parts.push_back(part(u * unit, std::min((u + per) * unit, size)));
  if (m.combine == Combine::sequential) return node(kStep, step, fold(parts));
  while (parts.size() > 1) {  // pairwise: neighbours, level by level
    std::vector<Sig> next;
    for (size_t i = 0; i + 1 < parts.size(); i += 2) next.push_back(node(kPlus, parts[i], parts[i + 1]));
    if (parts.size() % 2) next.push_back(parts.back());
    parts = std::move(next);
  }
  return node(kStep, step, parts[0]);
}

bool same_bits(Format f, uint32_t a, uint32_t b) { return a == b || (is_nan(f, a) && is_nan(f, b)); }

// One stage of the search: some rows of D and its columns [0, w).
struct Sample {
  Spec spec;
  Operands in;
  std::vector<uint32_t> got;
};

Sample sample(const Spec& s, const Operands& in, std::span<const uint32_t> got, std::span<const int64_t> rows, int64_t w,
              int64_t n0 = 0) {
  auto [sub, x] = sub_problem(s, in, rows, n0, w);
  Sample out{sub, std::move(x), {}};
  for (int64_t m : rows)
    for (int64_t n = n0; n < n0 + w; ++n) out.got.push_back(got[size_t(m * s.n + n)]);
  return out;
}

bool reproduces(const Sample& x, const Output& o) {
  for (size_t i = 0; i < o.bits.size(); ++i)
    if (!same_bits(x.spec.out, o.bits[i], x.got[i])) return false;
  return true;
}

bool reproduces(const Sample& x, const AccumModel& m) {
  try {
    return reproduces(x, gemm_model(x.spec, m, x.in));
  } catch (const UsageError&) {  // operands no valid GEMM reads (never thrown out of a worker thread)
    return false;
  }
}

// Which of `models` reproduce the sample, in one batch (the operands decoded once).
std::vector<char> reproduce(const Sample& x, std::span<const AccumModel* const> models) {
  std::vector<char> keep(models.size());
  try {
    const std::vector<Output> outs = gemm_models(x.spec, models, x.in);
    for (size_t i = 0; i < models.size(); ++i) keep[i] = reproduces(x, outs[i]);
  } catch (const UsageError&) {  // one model or the operands invalid: each on its own
    for (size_t i = 0; i < models.size(); ++i) keep[i] = reproduces(x, *models[i]);
  }
  return keep;
}

std::string joined(std::span<const std::string_view> names) {
  std::string s;
  for (std::string_view n : names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

}  // namespace

Variant::Variant(const AccumModel& row, int promote_k, int split, Combine combine, int64_t part_k) : model(row) {
  model.promote_k = promote_k, model.split = split, model.combine = combine, model.part_k = part_k;
  name = std::string(row.name);
  if (promote_k != row.promote_k) name += "/promote=" + std::to_string(promote_k);
  const bool own_split = split == row.split && part_k == row.part_k && combine == row.combine;
  if (part_k > 0 && !own_split) name += "/parts=" + std::to_string(part_k) + ":" + std::string(combine_name(combine));
  else if (split > 1 && !own_split) name += "/split=" + std::to_string(split) + ":" + std::string(combine_name(combine));
  model.name = name;
}

bool same_order(const Spec& s, const AccumModel& a, const AccumModel& b) {
  return order_signature(s, a) == order_signature(s, b);
}

std::unique_ptr<Variant> parse_variant(std::string_view name) {
  const size_t slash = name.find('/');
  const AccumModel& row = model(name.substr(0, slash));
  int promote = row.promote_k, split = row.split;
  int64_t part_k = row.part_k;
  Combine combine = row.combine;
  const auto bad = [&] {
    return UsageError("accumulator model '" + std::string(name) +
                      "': expected ROW[/promote=K][/split=N:sequential|pairwise][/parts=P:sequential|pairwise] (K a "
                      "multiple of the row's step, N in 2.." + std::to_string(kMaxSplit) + ", P the K of a split part)");
  };
  const auto number = [&](std::string_view t) {
    int v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size() || v < 0) throw bad();
    return v;
  };
  for (size_t at = slash; at != std::string_view::npos;) {
    const size_t next = name.find('/', at + 1);
    const std::string_view part = name.substr(at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1);
    if (part.starts_with("promote=")) {
      promote = number(part.substr(8));
      if (promote % row.step.k) throw bad();
    } else if ((part.starts_with("split=") || part.starts_with("parts=")) && part.find(':') != std::string_view::npos) {
      const int n = number(part.substr(6, part.find(':') - 6));
      const std::string_view how = part.substr(part.find(':') + 1);
      if (how != "sequential" && how != "pairwise") throw bad();
      if (part.starts_with("split=")) {
        if (n < 2 || n > kMaxSplit) throw bad();
        split = n, part_k = 0;
      } else {
        if (n < 1) throw bad();
        part_k = n, split = 1;
      }
      combine = how == "pairwise" ? Combine::pairwise : Combine::sequential;
    } else {
      throw bad();
    }
    at = next;
  }
  return std::make_unique<Variant>(row, promote, split, combine, part_k);
}

std::string variant_text(const AccumModel& m, const Spec& s) {
  std::string how = m.step.k == 1 ? "fp32 FMA, " : "";
  if (in_mma(m, s)) how += "one chain over all K, scales inside the MMA";
  else if (m.promote_k) how += "promotion every " + std::to_string(m.promote_k) + " K";
  else how += geometry(s).epilogue_scales() ? "one chain over all K" : "one chain per K-block";
  if (m.part_k > 0)
    how += ", K split in parts of " + std::to_string(m.part_k) + " K, their fp32 partials added " + std::string(combine_name(m.combine));
  else if (m.split > 1)
    how += ", K split in " + std::to_string(m.split) + " fp32 partials added " + std::string(combine_name(m.combine));
  return std::string(m.name) + " (" + how + ")";
}

std::vector<std::string_view> plausible_rows(std::string_view arch) {
  bool gpu = false;
  for (const Arch& a : kAllArches) gpu |= a.name == arch && a.hardware;
  std::vector<std::string_view> rows;
  for (const AccumModel& m : models())
    if (!gpu || m.runs_on_arch(arch)) rows.push_back(m.name);
  return rows;
}

std::pair<Spec, Operands> sub_problem(const Spec& s, const RowReader& read, const Operands& scales,
                                      std::span<const int64_t> rows, int64_t n0, int64_t w) {
  const Geometry g = geometry(s);
  Spec sub = s;
  sub.m = int64_t(rows.size()), sub.n = w;
  Operands o;
  o.a.resize(rows.size() * size_t(s.k));
  o.b.resize(size_t(w * s.k));
  o.sa = g.a_rows ? std::vector<float>{} : scales.sa;
  for (size_t i = 0; i < rows.size(); ++i) {
    read(Which::a, rows[i], std::span(o.a).subspan(i * size_t(s.k), size_t(s.k)));
    if (g.a_rows) o.sa.insert(o.sa.end(), scales.sa.begin() + rows[i] * g.sa.g, scales.sa.begin() + (rows[i] + 1) * g.sa.g);
  }
  for (int64_t n = 0; n < w; ++n) read(Which::b, n0 + n, std::span(o.b).subspan(size_t(n * s.k), size_t(s.k)));
  if (!g.b_rows || w == 0) {
    o.sb = scales.sb;
  } else {
    const int64_t r0 = n0 / g.b_rows, r1 = (n0 + w - 1) / g.b_rows + 1;
    o.sb.assign(scales.sb.begin() + r0 * g.sb.g, scales.sb.begin() + r1 * g.sb.g);
  }
  return {sub, std::move(o)};
}

std::pair<Spec, Operands> sub_problem(const Spec& s, const Operands& in, std::span<const int64_t> rows, int64_t n0,
                                      int64_t w) {
  const auto copy = [&](Which which, int64_t row, std::span<uint8_t> out) {
    const std::vector<uint8_t>& codes = which == Which::a ? in.a : in.b;
    std::copy_n(codes.begin() + row * s.k, s.k, out.begin());
  };
  return sub_problem(s, copy, in, rows, n0, w);
}

std::string Identification::unchecked_text() const {
  return unchecked ? "; " + std::to_string(unchecked) + (matches.empty() ? "" : " other") +
                         " orders agree on a sample of D and were not checked on all of it"
                   : "";
}

std::string Identification::story(const Spec& s) const {
  if (matches.size() == 1) return "outputs follow " + variant_text(matches[0]->model, s) + " (identified)" + unchecked_text();
  if (!matches.empty()) {
    std::string list;
    for (size_t i = 0; i < std::min(matches.size(), kStoryMatches); ++i)
      list += (i ? "; " : "") + variant_text(matches[i]->model, s);
    if (matches.size() > kStoryMatches) list += "; and " + std::to_string(matches.size() - kStoryMatches) + " more";
    return "outputs follow any of " + std::to_string(matches.size()) +
           " accumulations (identified; the data cannot tell them apart): " + list + unchecked_text();
  }
  return "no known accumulation reproduces the outputs" + unchecked_text() + " (tried " + std::to_string(variants.size()) +
         " orders of " + joined(rows) + ": promotion every 1.." + std::to_string(kMaxPromoteSteps) +
         " steps or never, K split in 2.." + std::to_string(kMaxSplit) +
         " fp32 partials sequential or pairwise); judged against the ideal within the loosest plausible bound";
}

std::deque<Variant> model_family(const Spec& s, std::span<const std::string_view> rows,
                                 std::span<const int64_t> part_lengths) {
  std::deque<Variant> family;
  std::set<Sig> seen;
  const auto add = [&](const AccumModel& row, int promote, int split, Combine c, int64_t part_k) {
    AccumModel m = row;
    m.promote_k = promote, m.split = split, m.combine = c, m.part_k = part_k;
    if (seen.insert(order_signature(s, m)).second) family.emplace_back(row, promote, split, c, part_k);
  };
  for (std::string_view name : rows) {  // each row as it is first
    const AccumModel& row = model(name);
    add(row, row.promote_k, row.split, row.combine, row.part_k);
  }
  for (std::string_view name : rows) {
    const AccumModel& row = model(name);
    if (row.part_k) continue;  // a revealed order: as it is only
    std::vector<int> promotions{row.promote_k, 0};
    for (int p = 1; p <= kMaxPromoteSteps; ++p) promotions.push_back(p * row.step.k);
    for (int split = 1; split <= kMaxSplit; ++split)
      for (int promote : promotions)
        for (Combine c : {Combine::sequential, Combine::pairwise})
          if (split > 1 || c == Combine::sequential) add(row, promote, split, c, 0);
    for (int64_t length : part_lengths)
      for (int promote : promotions)
        for (Combine c : {Combine::sequential, Combine::pairwise}) add(row, promote, 1, c, length);
  }
  return family;
}

namespace {

// gemm_replay on the device where it replays the model, else here.
Replay replayed(const Spec& s, const AccumModel& m, const Operands& in, DeviceReference* device) {
  return device && device->declines(s, m).empty() ? device->replay(s, m, in) : gemm_replay(s, m, in);
}

}  // namespace

Identification identify(const Spec& s, const Operands& in, std::span<const uint32_t> got, std::string_view arch,
                        std::span<const Output2d> focus, DeviceReference* device) {
  Identification id;
  id.rows = plausible_rows(arch);
  id.variants = model_family(s, id.rows);
  std::vector<const Variant*> alive;
  for (const Variant& v : id.variants) alive.push_back(&v);
  if (s.m * s.n == 0) {  // nothing to tell them apart: every candidate reproduces an empty D
    id.matches = alive;
    return id;
  }
  // Sampled stages: each focus output alone, 4 outputs of the first one's row (row 0) from the start
  // of its B scale row, then up to 4 rows x 64 columns; then all of D, for every survivor while
  // they are few, else until the first one reproduces it or kFullChecks were tried.
  // Samples keep the spec valid: whole 16-row weight tiles for bpreshuffle (spec.problem()), which
  // never straddle a B scale row.
  const int64_t tile = s.profile->weights == WeightLayout::bpreshuffle ? 16 : 1;
  const auto width = [&](int64_t from, int64_t want) { return std::min(s.n - from, (want + tile - 1) / tile * tile); };
  const int64_t b_rows = std::max<int64_t>(geometry(s).b_rows, tile);
  const int64_t n0 = focus.empty() ? 0 : focus[0].n / b_rows * b_rows, w0 = width(n0, 4);
  std::vector<int64_t> few{focus.empty() ? 0 : focus[0].m}, some, all(size_t(s.m));
  const int64_t spread = std::min<int64_t>(4, s.m);
  for (int64_t i = 0; i < spread; ++i) some.push_back(i * (s.m - 1) / std::max<int64_t>(spread - 1, 1));
  some.erase(std::unique(some.begin(), some.end()), some.end());
  for (int64_t m = 0; m < s.m; ++m) all[size_t(m)] = m;
  std::vector<Sample> stages;
  for (const Output2d& f : focus) {
    const int64_t row[] = {f.m};
    stages.push_back(sample(s, in, got, row, width(f.n / tile * tile, 1), f.n / tile * tile));
  }
  stages.push_back(sample(s, in, got, few, w0, n0));
  stages.push_back(sample(s, in, got, some, width(0, 64)));
  for (const Sample& x : stages) {
    std::vector<char> keep(alive.size());
    detail::parallel_for(int64_t(alive.size()), [&](int64_t b, int64_t e) {
      std::vector<const AccumModel*> models;
      for (int64_t i = b; i < e; ++i) models.push_back(&alive[size_t(i)]->model);
      std::ranges::copy(reproduce(x, models), keep.begin() + b);
    });
    std::vector<const Variant*> next;
    for (size_t i = 0; i < alive.size(); ++i)
      if (keep[i]) next.push_back(alive[i]);
    alive = std::move(next);
  }
  const Sample whole = sample(s, in, got, all, s.n);
  for (size_t i = 0; i < alive.size(); ++i) {
    if (alive.size() > kFullChecks && (!id.matches.empty() || i == kFullChecks)) {
      id.unchecked = alive.size() - i;
      break;
    }
    const AccumModel& m = alive[i]->model;
    const bool on_device = device && device->declines(s, m).empty();
    if (on_device ? reproduces(whole, device->replay(s, m, in).out) : reproduces(whole, m)) id.matches.push_back(alive[i]);
  }
  return id;
}

std::vector<double> loosest_bound(const Spec& s, const Operands& in, std::span<const std::string_view> rows,
                                  DeviceReference* device) {
  std::vector<double> bound(size_t(s.m * s.n), 0.0);
  for (std::string_view name : rows)
    for (bool own : {true, false}) {
      const AccumModel& row = model(name);
      if (!own && row.promote_k == 0) continue;
      const Variant v(row, own ? row.promote_k : 0, 1, Combine::sequential);
      const Replay r = replayed(s, v.model, in, device);
      for (size_t i = 0; i < bound.size(); ++i) bound[i] = std::max(bound[i], r.bound[i]);
    }
  return bound;
}

}  // namespace ulpgate::gemm
