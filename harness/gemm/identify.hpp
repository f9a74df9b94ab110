// Which accumulation a GEMM's outputs follow when its kernel claims none bit for bit (DESIGN.md
// "Accumulator model": identified). The candidates are variants of the model rows
// (reference/gemm/model.cpp) whose matrix path the arch's kernels can take (AccumModel::runs_on;
// every row for a host arch or none named): each row with its own promotion, with promotion every
// 1..64 steps and with none, unsplit or with K split into 2..16 fp32 partials combined
// sequentially or pairwise. Variants that sum this spec's products in the same order are one.
// Each is replayed on a few outputs, then on a few rows, then on all of D: what survives
// reproduces every output bit for bit (when more than 16 survive the samples, all of D is checked
// until the first one reproduces it or 16 were tried, and the rest are counted as unchecked). With no survivor the outputs are judged against the ideal
// within the loosest plausible bound (loosest_bound).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/gemm/gemm.hpp"
#include "reference/gemm/layout.hpp"  // Which

namespace ulpgate::gemm {

// A model row with a promotion interval and a split-K. Not copyable: model.name points into name.
struct Variant {
  Variant(const AccumModel& row, int promote_k, int split, Combine combine, int64_t part_k = 0);
  Variant(const Variant&) = delete;
  Variant& operator=(const Variant&) = delete;

  AccumModel model;
  std::string name;  // "sm90-mma-f16/promote=64/split=4:pairwise", ".../parts=3072:sequential" (the row's name when unchanged)
};

// A variant by its name ("ROW[/promote=K][/split=N|parts=P:sequential|pairwise]"): how a kernel claims an
// identified order. Throws UsageError naming the rows and the syntax.
std::unique_ptr<Variant> parse_variant(std::string_view name);

// Whether two models sum this spec's products in the same order (the same bits on any data).
bool same_order(const Spec& s, const AccumModel& a, const AccumModel& b);

// How a variant sums under this spec: "sm90 (wgmma FP8 steps of 32, promotion every 128 K, K split
// in 4 fp32 partials added pairwise)".
std::string variant_text(const AccumModel& m, const Spec& s);

// The model family over `rows`: each row as it is (a revealed row only so), then with promotion
// every 1..64 steps or never, K split in 2..16 fp32 partials or in parts of each of `part_lengths`
// K, added sequentially or pairwise; one variant per distinct order of this spec, rows as they are
// first. What identification replays and what reveal matches a tree against.
std::deque<Variant> model_family(const Spec& s, std::span<const std::string_view> rows,
                                 std::span<const int64_t> part_lengths = {});

struct Identification {
  std::deque<Variant> variants;         // every distinct candidate tried
  std::vector<const Variant*> matches;  // those that reproduce every output bit for bit
  std::vector<std::string_view> rows;   // the plausible rows
  size_t unchecked = 0;                 // more survivors of the samples than were checked on all of D
  std::string story(const Spec& s) const;
  std::string unchecked_text() const;
};

// The rows whose path a kernel on `arch` can take: every row for "" or a host-only arch.
std::vector<std::string_view> plausible_rows(std::string_view arch);

// focus, when given, are outputs (m, n) to sample first, one by one: a diagnosis's bad elements,
// which rule out at once the orders that reproduce the rest (with a bf16 D many orders agree on
// most outputs, so without them hundreds could survive to be replayed on all of D).
struct Output2d {
  int64_t m, n;
};
// device, when given, replays on all of D the candidates it replays (issue 30: a production
// shape's full check in seconds, where the host takes minutes); the samples stay on the host.
class DeviceReference;
Identification identify(const Spec& s, const Operands& in, std::span<const uint32_t> got, std::string_view arch,
                        std::span<const Output2d> focus = {}, DeviceReference* device = nullptr);

// Per element, the largest error bound of the plausible rows, each with its own promotion and with
// none (one chain over each segment): the budget of an accumulation no candidate reproduces.
std::vector<double> loosest_bound(const Spec& s, const Operands& in, std::span<const std::string_view> rows,
                                  DeviceReference* device = nullptr);

// Rows `rows` of A (with their scales) and columns [n0, n0 + w) of D: B's rows n0.. and their
// scale rows; n0 starts a B scale row (a multiple of 128 for gemm.block), or the columns lie in one.
std::pair<Spec, Operands> sub_problem(const Spec& s, const Operands& in, std::span<const int64_t> rows, int64_t n0,
                                      int64_t w);

// The codes of row `row` of A (or of B) as some reader sees them, into out (K codes).
using RowReader = std::function<void(Which, int64_t row, std::span<uint8_t> out)>;
// The same with each row's codes from `read` (only the rows needed are read) and the scales of
// `scales` (its codes are not used).
std::pair<Spec, Operands> sub_problem(const Spec& s, const RowReader& read, const Operands& scales,
                                      std::span<const int64_t> rows, int64_t n0, int64_t w);

}  // namespace ulpgate::gemm
