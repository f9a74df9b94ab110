#include "kernels/gemm/gemm_gpu.hpp"
#include "kernels/portable/gpu.hpp"

namespace ulpgate::gemm_kernels {

namespace {

// Copies the operands (and a grouped GEMM's row map) in, launches the plan on a guarded, poisoned
// D, copies D out, then checks its guards.
void run_on_device(const GemmPlan& plan, const gemm::GroupedBuffers& io) {
  if (plan.math.m == 0 || plan.math.n == 0) return;
  try {
    const std::span<const int32_t> map = io.m_indices.empty() ? io.masked_m : io.m_indices;
    gpu::DeviceBytes a(io.a.size()), b(io.b.size()), sa(io.sa.size()), sb(io.sb.size()), rows(map.size_bytes());
    const auto d = gpu::DeviceBytes::output("d", io.d.size());
    a.upload(io.a.data());
    b.upload(io.b.data());
    sa.upload(io.sa.data());
    sb.upload(io.sb.data());
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

}  // namespace ulpgate::gemm_kernels
