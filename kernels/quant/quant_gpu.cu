#include "kernels/portable/gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"

#include <array>

namespace ulpgate::quant_kernels {
namespace {

// The plan's kernels on device pointers; throws gpu::GpuError.
void launch_plan(const QuantPlan& plan, const void* x, uint8_t* codes, uint8_t* scales, gpu::Stream stream,
                 const int32_t* row_map) {
  const auto on_device = [stream](const LaunchConfig& cfg, const auto& kernel) { gpu::launch(cfg, kernel, stream); };
  if (plan.row_map == QuantPlan::RowMap::none) return launch_quant(plan, x, codes, scales, on_device);
  launch_quant(plan, x, codes, scales, on_device, expert_row_map(plan, row_map));
}

#if !defined(__HIP__)
// A check's counters on the device: [0] mismatches, [1] the first mismatch's bits, [2] a
// check's own second count.
ULPGATE_DEVICE void count_mismatch(unsigned long long* counters, unsigned long long bits) {
  if (atomicAdd(&counters[0], 1ull) == 0) counters[1] = bits;
}

// d = 1 + i / 2^23 binade by binade: 126 * 2^23 values, 32 per thread; the first thread also +Inf.
struct RcpInRange {
  unsigned long long* counters;
  ULPGATE_DEVICE void operator()() const {
    const uint32_t base = 0x3f800000u + (dev::block_idx().x * dev::block_dim().x + dev::thread_rank()) * 32u;
    if (base == 0x3f800000u && dev::as_uint(dev::rcp_in_range(infinity())) != dev::as_uint(__frcp_rn(infinity())))
      count_mismatch(counters, 0x7f800000u);
    for (uint32_t k = 0; k < 32; ++k) {
      const float d = dev::as_float(base + k);
      if (dev::as_uint(dev::rcp_in_range(d)) != dev::as_uint(__frcp_rn(d))) count_mismatch(counters, base + k);
    }
  }
};

// A thread per s in [1, 2), every x in [1, 2) against it.
struct QuickDivAll {
  unsigned long long* counters;
  ULPGATE_DEVICE void operator()() const {
    const uint32_t sb = 0x3f800000u + dev::block_idx().x * dev::block_dim().x + dev::thread_rank();
    const float s = dev::as_float(sb), y = __frcp_rn(s);
    unsigned long long uncorrected = 0;
    for (uint32_t xb = 0x3f800000u; xb < 0x40000000u; ++xb) {
      const float x = dev::as_float(xb), q = __fdiv_rn(x, s);
      uncorrected += __fmul_rn(x, y) != q;
      if (dev::as_uint(quick_div(x, s, y)) != dev::as_uint(q))
        count_mismatch(counters, (unsigned long long)sb << 32 | xb);
    }
    atomicAdd(&counters[2], uncorrected);
  }
};

// SGLang's silu and division as its sm90 build runs them: the PTX nvcc 13 emits for
// `val / (1.0f + __expf(-val)) * up` and `a / b` under -use_fast_math (a multiply by -log2(e),
// ex2.approx, add, div.approx, multiply, every one .ftz).
ULPGATE_DEVICE float fast_div(float a, float b) {
  float r;
  asm("div.approx.ftz.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}
ULPGATE_DEVICE float fast_silu_mul(float g, float u) {
  float x, e, d, y;
  asm("mul.ftz.f32 %0, %1, 0fBFB8AA3B;" : "=f"(x) : "f"(g));
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(x));
  asm("add.ftz.f32 %0, %1, 0f3F800000;" : "=f"(d) : "f"(e));
  asm("mul.ftz.f32 %0, %1, %2;" : "=f"(y) : "f"(fast_div(g, d)), "f"(u));
  return y;
}
struct FastMath {
  const float *a, *b;
  float *silu, *div;
  int64_t n;
  ULPGATE_DEVICE void operator()() const {
    for (int64_t i = int64_t(dev::block_idx().x) * dev::block_dim().x + dev::thread_rank(); i < n;
         i += int64_t(dev::grid_dim().x) * dev::block_dim().x)
      silu[i] = fast_silu_mul(a[i], b[i]), div[i] = fast_div(a[i], b[i]);
  }
};

// Runs a check kernel of `threads`-thread blocks and reads its counters back.
template <class Check>
std::array<uint64_t, 3> run_check(unsigned blocks, unsigned threads) {
  gpu::DeviceBytes counters(3 * sizeof(unsigned long long));
  ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memset)(counters.get(), 0, 3 * sizeof(unsigned long long)));
  gpu::launch(LaunchConfig{{blocks}, {threads}, 0}, Check{counters.get<unsigned long long>()});
  gpu::synchronize();
  std::array<uint64_t, 3> r{};
  counters.download(r.data());
  return r;
}
#endif

}  // namespace

ExhaustiveCheck check_rcp_in_range_gpu() {
#if defined(__HIP__)
  throw QuantError("check_rcp_in_range_gpu: CUDA only");
#else
  try {
    const auto c = run_check<RcpInRange>((126u << 23) / 32 / 256, 256);
    return {c[0], c[1]};
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());
  }
#endif
}

SiluTableCheck check_silu_table_gpu() {
  try {
    constexpr unsigned kThreads = 128;
    gpu::DeviceBytes counts(2 * kThreads * sizeof(uint32_t));
    const auto c = counts.get<uint32_t>();
    gpu::launch(LaunchConfig{{1}, {kThreads}, 0}, SiluTableProbe{c, c + kThreads});
    gpu::synchronize();
    std::array<uint32_t, 2 * kThreads> host{};
    counts.download(host.data());
    SiluTableCheck r;
    for (unsigned t = 0; t < kThreads; ++t) r.held += host[t], r.differ += host[kThreads + t];
    return r;
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());
  }
}

QuickDivCheck check_quick_div_gpu() {
#if defined(__HIP__)
  throw QuantError("check_quick_div_gpu: CUDA only");
#else
  try {
    const auto c = run_check<QuickDivAll>((1u << 23) / 128, 128);
    QuickDivCheck r;
    r.mismatches = c[0], r.first = c[1], r.uncorrected = c[2];
    return r;
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());
  }
#endif
}

FastMathValues fast_math_gpu(std::span<const float> a, std::span<const float> b) {
#if defined(__HIP__)
  throw QuantError("fast_math_gpu: CUDA only");
#else
  try {
    if (a.size() != b.size()) throw QuantError("fast_math_gpu: a and b differ in length");
    const size_t bytes = a.size() * sizeof(float);
    gpu::DeviceBytes da(bytes), db(bytes);
    const auto dsilu = gpu::DeviceBytes::output("silu", bytes), ddiv = gpu::DeviceBytes::output("div", bytes);
    da.upload(a.data());
    db.upload(b.data());
    gpu::launch(LaunchConfig{{1024}, {256}, 0},
                FastMath{da.get<const float>(), db.get<const float>(), dsilu.get<float>(), ddiv.get<float>(), int64_t(a.size())});
    gpu::synchronize();
    FastMathValues r{std::vector<float>(a.size()), std::vector<float>(a.size())};
    dsilu.download(r.silu_mul.data());
    ddiv.download(r.quotient.data());
    gpu::check_guards({&dsilu, &ddiv});
    return r;
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());
  }
#endif
}

int gpu_device_count() { return gpu::device_count(); }
void gpu_use_device(int device) { ULPGATE_GPU_CHECK(ULPGATE_GPU_API(SetDevice)(device)); }

void launch_quant_gpu(const QuantPlan& plan, const void* x_dev, uint8_t* codes_dev, uint8_t* scales_dev,
                      void* stream, const int32_t* row_map_dev) {
  try {
    launch_plan(plan, x_dev, codes_dev, scales_dev, static_cast<gpu::Stream>(stream), row_map_dev);
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());
  }
}

namespace {

// HeldOutputs on the GPU: the codes' and the scales' guarded device buffers after the plan ran.
class GpuHeldOutputs : public HeldOutputs {
 public:
  GpuHeldOutputs(const QuantPlan& plan, const void* x_device, std::size_t scale_bytes)
      : k_(plan.k), codes_(gpu::DeviceBytes::output("codes", size_t(plan.m * plan.k))),
        scales_(gpu::DeviceBytes::output("scales", scale_bytes)) {
    if (plan.m > 0) {
      launch_plan(plan, x_device, codes_.get(), scales_.get(), gpu::Stream{}, nullptr);
      gpu::synchronize();
    }
    storage_.resize(scales_.size());
    scales_.download(storage_.data());
    for (const gpu::DeviceBytes* b : {&codes_, &scales_})
      for (guard::Violation& v : b->violations()) violations_.push_back(std::move(v));
  }
  void codes(int64_t row0, int64_t row1, std::span<uint8_t> out) override {
    try {
      const auto n = size_t((row1 - row0) * k_);
      if (out.size() != n || row0 < 0 || size_t(row1 * k_) > codes_.size())
        throw QuantError("held codes: rows [" + std::to_string(row0) + ", " + std::to_string(row1) + ") into " +
                         std::to_string(out.size()) + " bytes");
      if (n > 0)
        ULPGATE_GPU_CHECK(ULPGATE_GPU_API(Memcpy)(out.data(), codes_.get() + size_t(row0 * k_), n,
                                                  ULPGATE_GPU_API(MemcpyDeviceToHost)));
    } catch (const gpu::GpuError& e) {
      throw QuantError(e.what());
    }
  }
  std::span<const uint8_t> storage() const override { return storage_; }
  const std::vector<guard::Violation>& violations() const override { return violations_; }
  const uint8_t* codes_on_device() const override { return codes_.get(); }

 private:
  int64_t k_;
  gpu::DeviceBytes codes_, scales_;
  std::vector<uint8_t> storage_;
  std::vector<guard::Violation> violations_;
};

}  // namespace

std::unique_ptr<HeldOutputs> hold_quant_gpu(const QuantPlan& plan, const void* x_device, std::size_t scale_bytes) {
  try {
    if (plan.row_map != QuantPlan::RowMap::none) throw QuantError("hold_quant_gpu: a grouped plan needs its row map");
    return std::make_unique<GpuHeldOutputs>(plan, x_device, scale_bytes);
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());  // the caller adds the op and the case
  }
}

void run_quant_gpu(const QuantPlan& plan, std::span<const std::byte> x, std::span<uint8_t> codes,
                   std::span<uint8_t> scales, std::span<const int32_t> row_map) {
  if (plan.m == 0) return;
  try {
    if (row_map.size() != size_t(plan.row_map_entries())) throw QuantError("the row map has " + std::to_string(row_map.size()) +
                                                                           " entries, the plan " + std::to_string(plan.row_map_entries()));
    gpu::DeviceBytes dx(x.size()), dmap(row_map.size_bytes());
    const auto dcodes = gpu::DeviceBytes::output("codes", codes.size());
    const auto dscales = gpu::DeviceBytes::output("scales", scales.size());
    dx.upload(x.data());
    if (!row_map.empty()) dmap.upload(row_map.data());
    launch_plan(plan, dx.get<const void>(), dcodes.get(), dscales.get(), gpu::Stream{}, dmap.get<const int32_t>());
    gpu::synchronize();
    dcodes.download(codes.data());
    dscales.download(scales.data());
    gpu::check_guards({&dcodes, &dscales});
  } catch (const gpu::GpuError& e) {
    throw QuantError(e.what());  // the caller adds the op and the case
  }
}

}  // namespace ulpgate::quant_kernels
