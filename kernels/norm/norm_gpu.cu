#include "kernels/norm/norm_gpu.hpp"

#include <algorithm>
#include <string>
#include "kernels/portable/gpu.hpp"

namespace ulpgate::norm_kernels {
namespace {

// The plan's kernels on device pointers; throws gpu::GpuError.
void launch_plan(const NormPlan& plan, const NormPointers& io, gpu::Stream stream) {
  launch_norm(plan, io, [stream](const LaunchConfig& cfg, const auto& kernel) { gpu::launch(cfg, kernel, stream); });
}

// Block a, thread lanes over b: every pair (a, b) once, both halves of the pair word exercised.
template <Format F>
struct PairProducts {
  unsigned long long* mismatches;
  uint32_t* first;  // kFirst slots
  static constexpr unsigned kFirst = 8;

  ULPGATE_DEVICE static bool same(uint16_t x, uint16_t y) {
    const uint16_t inf = F == Format::bf16 ? 0x7f80 : 0x7c00;
    return x == y || ((x & 0x7fff) > inf && (y & 0x7fff) > inf);
  }
  ULPGATE_DEVICE void operator()() const {
    using E = Elem<F>;
    const uint16_t a = uint16_t(dev::block_idx().x);
    for (uint32_t b = dev::thread_rank(); b < 0x10000u; b += 2 * dev::block_dim().x) {
      const uint16_t b2 = uint16_t(b + dev::block_dim().x);  // the high half: another b
      const uint32_t got = E::mul_round2(pair_word(a, a), pair_word(uint16_t(b), b2));
      check(a, uint16_t(b), uint16_t(got));
      check(a, b2, uint16_t(got >> 16));
    }
  }
  ULPGATE_DEVICE void check(uint16_t a, uint16_t b, uint16_t got) const {
    if (same(got, Elem<F>::mul_round(a, b))) return;
    const unsigned long long n = atomicAdd(mismatches, 1ull);
    if (n < kFirst) first[n] = uint32_t(a) << 16 | b;
  }
};

}  // namespace

PairProductCheck check_pair_products_gpu(Format dtype) {
  try {
    gpu::DeviceBytes count(sizeof(unsigned long long)), first(PairProducts<Format::bf16>::kFirst * sizeof(uint32_t));
    ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memset)(count.get(), 0, sizeof(unsigned long long)));
    const LaunchConfig cfg{{0x10000u}, {256}, 0};
    if (dtype == Format::bf16)
      gpu::launch(cfg, PairProducts<Format::bf16>{count.get<unsigned long long>(), first.get<uint32_t>()});
    else
      gpu::launch(cfg, PairProducts<Format::fp16>{count.get<unsigned long long>(), first.get<uint32_t>()});
    gpu::synchronize();
    PairProductCheck r;
    count.download(&r.mismatches);
    std::vector<uint32_t> all(PairProducts<Format::bf16>::kFirst);
    first.download(all.data());
    all.resize(std::min<std::size_t>(all.size(), r.mismatches));
    r.first = all;
    return r;
  } catch (const gpu::GpuError& e) {
    throw NormError(e.what());
  }
}

void launch_norm_gpu(const NormPlan& plan, const NormPointers& io, void* stream) {
  try {
    launch_plan(plan, io, static_cast<gpu::Stream>(stream));
  } catch (const gpu::GpuError& e) {
    throw NormError(e.what());
  }
}

namespace {

// A launch's four outputs, guarded; those the op does not have are empty and guarded too, so a
// write there is caught.
struct DeviceOutputs {
  gpu::DeviceBytes y, residual_out, codes, scales;

  explicit DeviceOutputs(const NormSizes& s)
      : y(gpu::DeviceBytes::output("y", s.y)),
        residual_out(gpu::DeviceBytes::output("residual", s.residual_out)),
        codes(gpu::DeviceBytes::output("codes", s.codes)),
        scales(gpu::DeviceBytes::output("scales", s.scales)) {}
  std::vector<guard::Violation> violations() const {
    std::vector<guard::Violation> all;
    for (const gpu::DeviceBytes* b : {&y, &residual_out, &codes, &scales})
      for (guard::Violation& v : b->violations()) all.push_back(std::move(v));
    return all;
  }
};

// A launch's inputs on the device: x, the residual (empty without one) and the weight.
struct DeviceInputs {
  gpu::DeviceBytes x, residual, weight;

  // io's, copied whole.
  DeviceInputs(const norm::Buffers& io, bool add) : x(io.x.size()), residual(add ? io.residual.size() : 0), weight(io.weight.size()) {
    x.upload(io.x.data());
    residual.upload(io.residual.data());
    weight.upload(io.weight.data());
  }
  // x and the residual a slab of rows at a time (2^26 bytes).
  DeviceInputs(const InputRows& x_rows, const InputRows& residual_rows, std::span<const std::byte> w)
      : x(size_t(x_rows.m) * x_rows.row_bytes), residual(size_t(residual_rows.m) * residual_rows.row_bytes), weight(w.size()) {
    for (auto [rows, to] : {std::pair{&x_rows, &x}, std::pair{&residual_rows, &residual}})
      each_input_slab(*rows, size_t(1) << 26, [&, to = to, rows = rows](int64_t row0, int64_t, std::span<const std::byte> b) {
        ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(to->get() + size_t(row0) * rows->row_bytes, b.data(), b.size(),
                                                  ULPGATE_GPU_API(MemcpyHostToDevice)));
      });
    weight.upload(w.data());
  }
};

// Runs the plan from `in` into `out`, synchronized.
void run_on_device(const NormPlan& plan, const DeviceInputs& in, const DeviceOutputs& out) {
  if (plan.m == 0) return;
  launch_plan(plan,
              {in.x.get<const void>(), in.residual.get<const void>(), in.weight.get<const void>(), out.y.get<void>(),
               out.residual_out.get<void>(), out.codes.get<uint8_t>(), out.scales.get<uint8_t>()},
              gpu::Stream{});
  gpu::synchronize();
}

// HeldOutputs on the GPU: the inputs and the outputs' guarded device buffers after the plan ran.
class GpuHeldOutputs : public HeldOutputs {
 public:
  GpuHeldOutputs(const NormPlan& plan, DeviceInputs in, const NormSizes& sizes)
      : h_(plan.h), in_(std::move(in)), out_(sizes) {
    run_on_device(plan, in_, out_);
    violations_ = out_.violations();
  }
  void y(int64_t row0, int64_t row1, std::span<uint16_t> out) override {
    fetch(out_.y, 2, row0, row1, std::as_writable_bytes(out));
  }
  void residual(int64_t row0, int64_t row1, std::span<uint16_t> out) override {
    fetch(out_.residual_out, 2, row0, row1, std::as_writable_bytes(out));
  }
  void codes(int64_t row0, int64_t row1, std::span<uint8_t> out) override {
    fetch(out_.codes, 1, row0, row1, std::as_writable_bytes(out));
  }
  std::span<const uint8_t> storage() override {
    if (storage_.size() != out_.scales.size()) try {
        storage_.resize(out_.scales.size());
        out_.scales.download(storage_.data());
      } catch (const gpu::GpuError& e) {
        throw NormError(e.what());
      }
    return storage_;
  }
  void inputs(int64_t row0, int64_t row1, std::span<std::byte> x, std::span<std::byte> residual) override {
    if (!x.empty()) fetch(in_.x, 2, row0, row1, x);
    if (!residual.empty()) fetch(in_.residual, 2, row0, row1, residual);
  }
  const std::vector<guard::Violation>& violations() const override { return violations_; }

 private:
  // Rows [row0, row1) of a buffer of M rows of H elements of `element` bytes (an empty one: nothing).
  void fetch(const gpu::DeviceBytes& from, size_t element, int64_t row0, int64_t row1, std::span<std::byte> out) const {
    try {
      if (from.size() == 0 && out.empty()) return;
      const auto row = size_t(h_) * element, at = size_t(row0) * row, n = size_t(row1 - row0) * row;
      if (out.size() != n || row0 < 0 || at + n > from.size())
        throw NormError("held outputs: rows [" + std::to_string(row0) + ", " + std::to_string(row1) + ") into " +
                        std::to_string(out.size()) + " bytes");
      if (n > 0)
        ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(out.data(), from.get() + at, n, ULPGATE_GPU_API(MemcpyDeviceToHost)));
    } catch (const gpu::GpuError& e) {
      throw NormError(e.what());
    }
  }
  int64_t h_;
  DeviceInputs in_;
  DeviceOutputs out_;
  std::vector<uint8_t> storage_;  // the scale storage, fetched once
  std::vector<guard::Violation> violations_;
};

}  // namespace

std::unique_ptr<HeldOutputs> hold_norm_gpu(const NormPlan& plan, const InputRows& x, const InputRows& residual,
                                           std::span<const std::byte> weight, const NormSizes& sizes) {
  try {
    return std::make_unique<GpuHeldOutputs>(plan, DeviceInputs(x, residual, weight), sizes);
  } catch (const gpu::GpuError& e) {
    throw NormError(e.what());  // the caller adds the op and the case
  }
}

void run_norm_gpu(const NormPlan& plan, const norm::Buffers& io) {
  if (plan.m == 0) return;
  const bool add = adds_residual(plan.op), quant = plan.op == norm::Op::rms_quant || plan.op == norm::Op::rms_add_quant;
  try {
    NormSizes sizes;
    sizes.y = quant ? 0 : io.y.size(), sizes.residual_out = add ? io.residual_out.size() : 0;
    sizes.codes = quant ? io.codes.size() : 0, sizes.scales = quant ? io.scales.size() : 0;
    const DeviceOutputs out(sizes);
    run_on_device(plan, DeviceInputs(io, add), out);
    out.y.download(io.y.data());
    out.residual_out.download(io.residual_out.data());
    out.codes.download(io.codes.data());
    out.scales.download(io.scales.data());
    if (auto v = out.violations(); !v.empty()) throw guard::OutOfBounds(std::move(v));
  } catch (const gpu::GpuError& e) {
    throw NormError(e.what());  // the caller adds the op and the case
  }
}

}  // namespace ulpgate::norm_kernels
