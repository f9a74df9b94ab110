// The device GEMM reference's steps, written once over a Backend that says where memory lives and
// how kernels and the fp64 GEMM run: CudaBackend (reference_gpu.cu: cudaMalloc, the portable
// kernels on the GPU, cuBLASLt DGEMM) or HostBackend (reference_host.cpp: host memory, the
// host-SIMT emulator, Eigen). A Backend provides
//   template <class T> Memory<T> alloc(std::size_t n)   device memory of n T (get()), freed with it
//   void to_device(void* dst, const void* src, std::size_t bytes), to_host(...) likewise
//   void poison(void* p, std::size_t bytes)              0xA5 bytes (outputs before a run)
//   template <class K> void launch(const LaunchConfig&, const K&)
//   void block_sums(const BlockSums&)                   the batched fp64 GEMM
//   std::size_t scratch_bytes()                          memory the block sums may take
// and may provide
//   void ideal_on_tensor_cores(const IdealPlan&, const TensorIdeal&)   the ideal without block sums
//                                                        where IdealPlan::tensor_cores allows (CUDA)
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/gemm/reference_plan.hpp"

namespace ulpgate::gemm_kernels {

// C[c][r][j] = sum_{i < chunk_k} A[r][c chunk_k + i] B[j][c chunk_k + i] for c < chunks, r < rows,
// j < n, with A and B rows of kpad doubles and C [chunks][rows][n]. Exact in any summation order:
// every partial sum is an integer multiple of the two parts' quanta below 2^53 of them
// (detail::exact_sum_length), so no fp64 operation on the way rounds (cuBLASLt's DGEMM on tensor
// cores, split or not, and Eigen alike).
struct BlockSums {
  const double *a, *b;
  double* c;
  int64_t rows, n, chunk_k, chunks, kpad;
};

// fn(std::integral_constant<Format, out>) for the two output formats (Spec::problem checked it).
template <class Fn>
decltype(auto) with_out(Format out, Fn&& fn) {
  if (out == Format::bf16) return fn(std::integral_constant<Format, Format::bf16>{});
  return fn(std::integral_constant<Format, Format::fp32>{});
}

// fn(std::bool_constant<flag>).
template <class Fn>
decltype(auto) with_flag(bool flag, Fn&& fn) {
  if (flag) return fn(std::true_type{});
  return fn(std::false_type{});
}

template <class Backend>
class Pipeline {
 public:
  explicit Pipeline(Backend& be) : be_(be) {}

  // The ideal into bits and exact ([M, N] on the backend). host() returns the operands on the host
  // (called only when some element must be evaluated there); widen: see Fold.
  template <class HostOperands>
  IdealCounts ideal(const gemm::Spec& spec, const DeviceOperands& in, uint32_t* bits, double* exact,
                    HostOperands&& host, double widen = 0) {
    const IdealPlan plan = plan_ideal(spec, be_.scratch_bytes());
    const Flags flags = row_flags(spec, in, plan.nonfinite_a, plan.nonfinite_b);
    if (spec.m == 0 || spec.n == 0) return {};
    const auto cols = (spec.n + kFoldThreads - 1) / kFoldThreads;
    auto undecided = be_.template alloc<uint8_t>(size_t(spec.m * spec.n));
    auto block_flags = be_.template alloc<uint8_t>(size_t(spec.m * cols));
    if (!on_tensor_cores(plan, {spec.m, spec.n, spec.k, spec.out, in, flags.a.get(), flags.b.get(), widen, bits, exact,
                                undecided.get(), block_flags.get(), cols})) {
      // the decoded operands and the block sums live only while the fold needs them
      auto da = decode(in.a, spec.m, spec, plan, plan.table_a, plan.parts_a);
      auto db = decode(in.b, spec.n, spec, plan, plan.table_b, plan.parts_b);
      auto sums = be_.template alloc<double>(size_t(plan.pairs() * plan.chunks * plan.slab_rows * spec.n));
      for (int64_t r0 = 0; r0 < spec.m; r0 += plan.slab_rows) {
        const int64_t rows = std::min(plan.slab_rows, spec.m - r0);
        for (int pa = 0; pa < plan.parts_a; ++pa)
          for (int pb = 0; pb < plan.parts_b; ++pb)
            if (plan.chunks > 0)
              be_.block_sums({da.get() + (pa * spec.m + r0) * plan.kpad, db.get() + pb * spec.n * plan.kpad,
                              sums.get() + (pa * plan.parts_b + pb) * plan.chunks * rows * spec.n, rows, spec.n,
                              plan.chunk_k, plan.chunks, plan.kpad});
        with_out(spec.out, [&](auto out) {
          be_.launch({{unsigned(cols), unsigned(rows)}, {kFoldThreads}},
                     Fold<decltype(out)::value>{sums.get(), in.sa, in.sb, plan.scale, flags.a.get(), flags.b.get(), r0,
                                                rows, spec.n, plan.pairs(), int(plan.chunks),
                                                int(plan.chunks_per_block), widen, bits, exact, undecided.get(),
                                                block_flags.get()});
        });
      }
    }
    const std::vector<int64_t> open = undecided_elements(spec, undecided.get(), block_flags.get(), cols);
    std::vector<int64_t> at = touched(flags);
    const auto nonfinite = int64_t(at.size());
    at.insert(at.end(), open.begin(), open.end());
    std::sort(at.begin(), at.end());
    if (!at.empty()) {
      std::vector<uint32_t> b(at.size());
      std::vector<double> x(at.size());
      resolve_ideal(spec, host(), at, b, x);
      write_back(at, b.data(), bits);
      write_back(at, x.data(), exact);
    }
    return {int64_t(open.size()), nonfinite};
  }

  // The model's bits into bits ([M, N]) and, where bound is given, its error bound (reference/gemm
  // error_bound; Inf where the host evaluates an element); returns the elements evaluated on the host.
  template <class HostOperands>
  int64_t replay(const gemm::Spec& spec, const gemm::AccumModel& model, const DeviceOperands& in, uint32_t* bits,
                 double* bound, HostOperands&& host) {
    const ReplayPlan plan = plan_replay(spec, model);
    const Flags flags = row_flags(spec, in, plan.nonfinite_a, plan.nonfinite_b);
    if (spec.m == 0 || spec.n == 0) return 0;
    auto tables = be_.template alloc<StepTable>(2);
    be_.to_device(tables.get(), &plan.table_a, sizeof(StepTable));
    be_.to_device(tables.get() + 1, &plan.table_b, sizeof(StepTable));
    const bool aligned = spec.k % 16 == 0 && reinterpret_cast<uintptr_t>(in.a) % 16 == 0 &&
                         reinterpret_cast<uintptr_t>(in.b) % 16 == 0;
    with_out(spec.out, [&](auto out) {
      with_flag(plan.fma, [&](auto fma) {
        with_flag(bound != nullptr, [&](auto with_bound) {
          using Kind = ReplayKind<decltype(out)::value, decltype(fma)::value, decltype(with_bound)::value>;
          const LaunchConfig cfg{{unsigned((spec.n + kReplayCols - 1) / kReplayCols),
                                  unsigned((spec.m + Kind::kTileRows - 1) / Kind::kTileRows)},
                                 {kReplayThreads},
                                 Kind::kShared};
          be_.launch(cfg, Replay<Kind>{in.a, in.b, in.sa, in.sb, tables.get(), tables.get() + 1, plan.params, aligned,
                                       bits, bound});
        });
      });
    });
    const std::vector<int64_t> at = touched(flags);
    if (!at.empty()) {
      std::vector<uint32_t> b(at.size());
      resolve_model(spec, model, host(), at, b);
      write_back(at, b.data(), bits);
      if (bound) write_back(at, std::vector<double>(at.size(), std::numeric_limits<double>::infinity()).data(), bound);
    }
    return int64_t(at.size());
  }

  // got ([M, N] of spec.out) judged as a bit-exact claim's against the model's bits and bound and the
  // ideal's bits and exact values (JudgeExact).
  SlabCounts judge_exact(const gemm::Spec& spec, const void* got, const uint32_t* model, const double* bound,
                         const uint32_t* ideal, const double* exact, double factor) {
    const auto c = dev::counted_on<2, kJudgeThreads>(be_, spec.m * spec.n, [&](unsigned grid, dev::BlockCounts<2>* blocks) {
      with_out(spec.out, [&](auto out) {
        constexpr Format F = decltype(out)::value;
        be_.launch({{grid}, {kJudgeThreads}}, JudgeExact<F>{static_cast<const typename OutFormat<F>::Storage*>(got), model,
                                                            ideal, exact, bound, factor, spec.m * spec.n, blocks});
      });
    });
    return {c[0], c[1]};
  }

  // got ([M, N] of spec.out) against expected and exact (null: the expected bits' values).
  GpuComparison compare(const gemm::Spec& spec, const uint32_t* expected, const double* exact, const void* got,
                        double ulps, const double* bound) {
    const int64_t tm = (spec.m + kTile - 1) / kTile, tn = (spec.n + kTile - 1) / kTile;
    std::vector<TileStats> host(size_t(tm * tn));
    if (!host.empty()) {
      auto tiles = be_.template alloc<TileStats>(host.size());
      with_out(spec.out, [&](auto out) {
        constexpr Format F = decltype(out)::value;
        be_.launch({{unsigned(tn), unsigned(tm)}, {unsigned(kTile)}},
                   Compare<F>{static_cast<const typename OutFormat<F>::Storage*>(got), expected, exact, bound, ulps,
                              spec.m, spec.n, tiles.get()});
      });
      be_.to_host(host.data(), tiles.get(), host.size() * sizeof(TileStats));
    }
    GpuComparison r = reduce_tiles(host, spec.m, spec.n);
    if (!r.first_bad.empty()) describe(spec, r.first_bad, expected, exact, got, ulps, bound);
    return r;
  }

 private:
  Backend& be_;

  template <class T>
  using Memory = decltype(std::declval<Backend&>().template alloc<T>(0));

  struct Flags {
    Memory<uint8_t> a, b;
    int64_t m, n;
  };

  template <class T>
  Memory<T> upload(const std::vector<T>& v) {
    auto d = be_.template alloc<T>(v.size());
    be_.to_device(d.get(), v.data(), v.size() * sizeof(T));
    return d;
  }

  Flags row_flags(const gemm::Spec& spec, const DeviceOperands& in, const std::vector<uint8_t>& nonfinite_a,
                  const std::vector<uint8_t>& nonfinite_b) {
    const gemm::Geometry g = geometry(spec);
    Flags f{be_.template alloc<uint8_t>(size_t(spec.m)), be_.template alloc<uint8_t>(size_t(spec.n)), spec.m, spec.n};
    const auto ta = upload(nonfinite_a), tb = upload(nonfinite_b);
    if (spec.m > 0) be_.launch({{unsigned(spec.m)}, {256}}, RowFlags{in.a, spec.k, ta.get(), in.sa, g.a_rows, g.sa.g, f.a.get()});
    if (spec.n > 0) be_.launch({{unsigned(spec.n)}, {256}}, RowFlags{in.b, spec.k, tb.get(), in.sb, g.b_rows, g.sb.g, f.b.get()});
    return f;
  }

  // The elements of the flagged rows, read back after the work that follows the flags is queued
  // (a copy to the host waits for the device).
  std::vector<int64_t> touched(const Flags& f) {
    std::vector<uint8_t> a(size_t(f.m)), b(size_t(f.n));
    be_.to_host(a.data(), f.a.get(), a.size());
    be_.to_host(b.data(), f.b.get(), b.size());
    return touched_elements(a, b);
  }

  Memory<double> decode(const uint8_t* codes, int64_t rows, const gemm::Spec& spec, const IdealPlan& plan,
                        const std::vector<double>& table, int parts) {
    auto out = be_.template alloc<double>(size_t(parts * rows * plan.kpad));
    const auto t = upload(table);
    if (plan.kpad > 0)
      be_.launch({{unsigned(rows)}, {256}}, DecodeParts{codes, rows, spec.k, plan.kpad, t.get(), parts, out.get()});
    return out;
  }

  // The ideal on the backend's tensor cores where it has them and the plan allows; false: not run.
  bool on_tensor_cores(const IdealPlan& plan, const TensorIdeal& t) {
    if constexpr (requires { be_.ideal_on_tensor_cores(plan, t); }) {
      if (!plan.tensor_cores.usable()) return false;
      be_.ideal_on_tensor_cores(plan, t);
      return true;
    }
    return false;
  }

  // The elements the fold left open, from the blocks that flagged any.
  std::vector<int64_t> undecided_elements(const gemm::Spec& spec, const uint8_t* undecided, const uint8_t* block_flags,
                                          int64_t cols) {
    std::vector<uint8_t> blocks(size_t(spec.m * cols)), status(kFoldThreads);
    be_.to_host(blocks.data(), block_flags, blocks.size());
    std::vector<int64_t> open;
    for (int64_t b = 0; b < int64_t(blocks.size()); ++b) {
      if (!blocks[size_t(b)]) continue;
      const int64_t first = (b / cols) * spec.n + (b % cols) * kFoldThreads;
      const int64_t count = std::min<int64_t>(kFoldThreads, spec.n - (b % cols) * kFoldThreads);
      be_.to_host(status.data(), undecided + first, size_t(count));
      for (int64_t i = 0; i < count; ++i)
        if (status[size_t(i)]) open.push_back(first + i);
    }
    return open;
  }

  // values[i] to dst[at[i]], one copy per run of consecutive elements.
  template <class T>
  void write_back(const std::vector<int64_t>& at, const T* values, T* dst) {
    size_t i = 0;
    for (const Run& r : runs_of(at)) {
      be_.to_device(dst + r.first, values + i, size_t(r.count) * sizeof(T));
      i += size_t(r.count);
    }
  }

  // The listed elements' values and verdicts, computed on the device (one small launch).
  void describe(const gemm::Spec& spec, std::vector<BadElement>& bad, const uint32_t* expected, const double* exact,
                const void* got, double ulps, const double* bound) {
    std::vector<int64_t> at;
    for (const BadElement& e : bad) at.push_back(e.m * spec.n + e.n);
    const auto d_at = upload(at);
    auto d_out = be_.template alloc<Described>(at.size());
    with_out(spec.out, [&](auto out) {
      constexpr Format F = decltype(out)::value;
      be_.launch({{1}, {64}}, Describe<F>{d_at.get(), int(at.size()), static_cast<const typename OutFormat<F>::Storage*>(got),
                                          expected, exact, bound, ulps, d_out.get()});
    });
    std::vector<Described> v(at.size());
    be_.to_host(v.data(), d_out.get(), v.size() * sizeof(Described));
    for (size_t i = 0; i < bad.size(); ++i)
      bad[i].expected = v[i].expected, bad[i].got = v[i].got, bad[i].exact = v[i].exact, bad[i].ulp_error = v[i].ulp_error;
  }
};

// ---- the API on host data, for any backend: operands and D copied in, results copied out ----

template <class Backend>
struct UploadedOperands {
  decltype(std::declval<Backend&>().template alloc<uint8_t>(0)) a, b;
  decltype(std::declval<Backend&>().template alloc<float>(0)) sa, sb;
  DeviceOperands view() const { return {a.get(), b.get(), sa.get(), sb.get()}; }
};

template <class T, class Backend>
auto upload(Backend& be, const T* data, std::size_t n) {
  auto d = be.template alloc<T>(n);
  be.to_device(d.get(), data, n * sizeof(T));
  return d;
}

template <class Backend>
UploadedOperands<Backend> upload(Backend& be, const gemm::Operands& in) {
  return {upload(be, in.a.data(), in.a.size()), upload(be, in.b.data(), in.b.size()), upload(be, in.sa.data(), in.sa.size()),
          upload(be, in.sb.data(), in.sb.size())};
}

template <class T, class Backend>
auto output(Backend& be, std::size_t n) {
  auto d = be.template alloc<T>(n);
  be.poison(d.get(), n * sizeof(T));
  return d;
}

template <class T, class Backend, class Memory>
std::vector<T> download(Backend& be, const Memory& d, std::size_t n) {
  std::vector<T> v(n);
  be.to_host(v.data(), d.get(), n * sizeof(T));
  return v;
}

// A case's operands uploaded once, and the references of rows [m0, m1) of D made on them (m0
// starts a scale row of A): A's rows and their scales are a view into the uploaded ones. The host
// gets the rows' own operands only where it must evaluate elements.
template <class Backend>
class OperandsOn {
 public:
  OperandsOn(Backend& be, const gemm::Spec& spec, const gemm::Operands& in)
      : be_(be), spec_(spec), in_(in), d_((gemm::check(spec, in), upload(be, in))) {}

  GpuIdeal ideal(int64_t m0, int64_t m1, double widen = 0) {
    const gemm::Spec rows = rows_spec(m0, m1);
    const auto size = size_t(rows.m * rows.n);
    auto bits = output<uint32_t>(be_, size);
    auto exact = output<double>(be_, size);
    HostRows host{*this, m0, m1};
    const IdealCounts c = Pipeline<Backend>(be_).ideal(rows, view(m0), bits.get(), exact.get(), host, widen);
    return {{{rows.out, download<uint32_t>(be_, bits, size)}, download<double>(be_, exact, size)}, c.host_resolved, c.nonfinite};
  }

  // Rows [m0, m1) of D (got: spec.out as stored) judged where their ideal and the model's replay
  // with its bound are made (HeldOperands::judge): none of them leaves the device.
  SlabCounts judge(const gemm::AccumModel& model, int64_t m0, int64_t m1, std::span<const std::byte> got, double factor) {
    const gemm::Spec rows = rows_spec(m0, m1);
    const auto size = size_t(rows.m * rows.n);
    const size_t bytes = size * (rows.out == Format::bf16 ? 2 : 4);
    if (got.size() != bytes)
      throw UsageError("judge: D's rows need " + std::to_string(bytes) + " bytes, got " + std::to_string(got.size()));
    auto bits = output<uint32_t>(be_, size), model_bits = output<uint32_t>(be_, size);
    auto exact = output<double>(be_, size), bound = output<double>(be_, size);
    HostRows host{*this, m0, m1};
    Pipeline<Backend> p(be_);
    p.ideal(rows, view(m0), bits.get(), exact.get(), host, 0);
    p.replay(rows, model, view(m0), model_bits.get(), bound.get(), host);
    const auto d = upload(be_, reinterpret_cast<const uint8_t*>(got.data()), got.size());
    return p.judge_exact(rows, d.get(), model_bits.get(), bound.get(), bits.get(), exact.get(), factor);
  }

  // The model's output and, with `bound`, its error bound (else the bound is empty).
  gemm::Replay replay(const gemm::AccumModel& model, int64_t m0, int64_t m1, bool bound) {
    const gemm::Spec rows = rows_spec(m0, m1);
    const auto size = size_t(rows.m * rows.n);
    auto bits = output<uint32_t>(be_, size);
    auto err = output<double>(be_, bound ? size : 0);
    HostRows host{*this, m0, m1};
    Pipeline<Backend>(be_).replay(rows, model, view(m0), bits.get(), bound ? err.get() : nullptr, host);
    return {{rows.out, download<uint32_t>(be_, bits, size)}, bound ? download<double>(be_, err, size) : std::vector<double>{}};
  }

 private:
  Backend& be_;
  const gemm::Spec spec_;
  const gemm::Operands& in_;
  UploadedOperands<Backend> d_;

  // The rows' operands on the host, made at the first call (all of them: the case's own).
  struct HostRows {
    const OperandsOn& on;
    int64_t m0, m1;
    std::optional<gemm::Operands> rows = std::nullopt;
    const gemm::Operands& operator()() {
      if (m0 == 0 && m1 == on.spec_.m) return on.in_;
      if (!rows) rows = gemm::operand_rows(on.spec_, on.in_, m0, m1);
      return *rows;
    }
  };

  gemm::Spec rows_spec(int64_t m0, int64_t m1) const {
    gemm::Spec rows = spec_;
    rows.m = m1 - m0;
    return rows;
  }
  DeviceOperands view(int64_t m0) const {
    DeviceOperands v = d_.view();
    v.a += m0 * spec_.k;
    v.sa += geometry(spec_).sa_begin(m0);
    return v;
  }
};

// HeldOperands (reference_gpu.hpp) on a pipeline device of its own; guard(fn) runs each call (CUDA:
// its runtime errors as ReferenceGpuError).
template <class Backend, class Guard>
class HeldOn : public HeldOperands {
 public:
  template <class... DeviceArgs>
  HeldOn(const gemm::Spec& spec, const gemm::Operands& in, Guard guard, DeviceArgs&&... device)
      : guard_(guard), be_(std::forward<DeviceArgs>(device)...), on_(be_, spec, in) {}
  gemm::Ideal ideal(int64_t m0, int64_t m1) override {
    return guard_([&] { return on_.ideal(m0, m1).ideal; });
  }
  gemm::Replay replay(const gemm::AccumModel& model, int64_t m0, int64_t m1) override {
    return guard_([&] { return on_.replay(model, m0, m1, true); });
  }
  SlabCounts judge(const gemm::AccumModel& model, int64_t m0, int64_t m1, std::span<const std::byte> got,
                   double factor) override {
    return guard_([&] { return on_.judge(model, m0, m1, got, factor); });
  }

 private:
  Guard guard_;
  Backend be_;
  OperandsOn<Backend> on_;
};

template <class Backend>
GpuIdeal ideal_of(Backend& be, const gemm::Spec& spec, const gemm::Operands& in, double widen = 0) {
  return OperandsOn<Backend>(be, spec, in).ideal(0, spec.m, widen);
}

template <class Backend>
gemm::Replay replay_of(Backend& be, const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in,
                       bool bound) {
  return OperandsOn<Backend>(be, spec, in).replay(model, 0, spec.m, bound);
}

template <class Backend>
GpuComparison compare_of(Backend& be, const gemm::Spec& spec, const gemm::Output& expected, std::span<const double> exact,
                         const gemm::Output& got, const CompareBudget& budget) {
  const auto size = size_t(spec.m * spec.n);
  if (expected.bits.size() != size || got.bits.size() != size || (!exact.empty() && exact.size() != size) ||
      (!budget.bound.empty() && budget.bound.size() != size) || got.format != spec.out || expected.format != spec.out)
    throw UsageError("compare: expected, exact, got and bound need " + std::to_string(size) + " elements of " +
                     std::string(format_name(spec.out)));
  const std::vector<uint8_t> d = stored(got);
  const auto e = upload(be, expected.bits.data(), size);
  const auto g = upload(be, d.data(), d.size());
  const auto x = upload(be, exact.data(), exact.size()), b = upload(be, budget.bound.data(), budget.bound.size());
  return Pipeline<Backend>(be).compare(spec, e.get(), exact.empty() ? nullptr : x.get(), g.get(), budget.ulps,
                                       budget.bound.empty() ? nullptr : b.get());
}

}  // namespace ulpgate::gemm_kernels
