#include "kernels/gemm/gemm_gpu.hpp"
#include "kernels/portable/gpu.hpp"

#include <algorithm>
#include <vector>

namespace ulpgate::gemm_kernels {

namespace {

// Device B and its scale storage made by `weights` a part of experts at a time through one host
// buffer of about 256 MB, so that the host never holds every expert's.
void upload_streamed(const GemmPlan& plan, const gemm::ExpertWeights& weights, int64_t experts, gpu::DeviceBytes& b,
                     gpu::DeviceBytes& sb) {
  const auto expert_b = std::size_t(plan.math.b_expert_bytes), expert_sb = std::size_t(weights.sb_bytes);
  const int64_t part = std::max<int64_t>(1, int64_t((std::size_t(256) << 20) / std::max<std::size_t>(1, expert_b)));
  std::vector<uint8_t> hb(std::size_t(std::min(part, experts)) * expert_b), hsb(std::size_t(std::min(part, experts)) * expert_sb);
  for (int64_t first = 0; first < experts; first += part) {
    const auto count = std::size_t(std::min(part, experts - first));
    weights.fill(first, int64_t(count), std::span(hb).first(count * expert_b), std::span(hsb).first(count * expert_sb));
    b.upload_at(std::size_t(first) * expert_b, hb.data(), count * expert_b);
    sb.upload_at(std::size_t(first) * expert_sb, hsb.data(), count * expert_sb);
  }
}

// Copies the operands (and a grouped GEMM's row map) in, B and its scales made part by part where
// `streamed`, launches the plan on a guarded, poisoned D, copies D out, then checks its guards.
void run_on_device(const GemmPlan& plan, const gemm::GroupedBuffers& io, const gemm::ExpertWeights* streamed = nullptr,
                   int64_t experts = 0) {
  if (plan.math.m == 0 || plan.math.n == 0) return;
  try {
    const std::span<const int32_t> map = io.m_indices.empty() ? io.masked_m : io.m_indices;
    const std::size_t b_bytes = streamed ? std::size_t(experts * plan.math.b_expert_bytes) : io.b.size();
    const std::size_t sb_bytes = streamed ? std::size_t(experts * streamed->sb_bytes) : io.sb.size();
    gpu::DeviceBytes a(io.a.size()), b(b_bytes), sa(io.sa.size()), sb(sb_bytes), rows(map.size_bytes());
    const auto d = gpu::DeviceBytes::output("d", io.d.size());
    a.upload(io.a.data());
    if (streamed) {
      upload_streamed(plan, *streamed, experts, b, sb);
    } else {
      b.upload(io.b.data());
      sb.upload(io.sb.data());
    }
    sa.upload(io.sa.data());
    rows.upload(map.data());
    const auto* device_map = reinterpret_cast<const int32_t*>(rows.get());
    GemmPointers on_device{a.get(), b.get(), sa.get(), sb.get(), d.get()};
    if (!io.m_indices.empty()) on_device.m_indices = device_map;
    if (!io.masked_m.empty()) on_device.masked_m = device_map;
    launch_gemm(plan, on_device, [](const LaunchConfig& cfg, const auto& kernel) { gpu::launch(cfg, kernel); });
    gpu::synchronize();
    d.download(io.d.data());
    gpu::check_guards({&d});
  } catch (const gpu::GpuError& e) {
    throw GemmError(e.what());  // the caller adds the op and the case
  }
}

}  // namespace

void run_gemm_gpu(const GemmPlan& plan, const gemm::Buffers& io) {
  run_on_device(plan, {io.a, io.b, io.sa, io.sb, {}, {}, io.d});  // a dense GEMM: no row map
}

void run_grouped_gemm_gpu(const GemmPlan& plan, const gemm::GroupedBuffers& io) {
  run_on_device(plan, io);
}

void run_grouped_gemm_gpu(const GemmPlan& plan, const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io,
                          const gemm::ExpertWeights& weights) {
  run_on_device(plan, io, &weights, spec.experts());
}

}  // namespace ulpgate::gemm_kernels
