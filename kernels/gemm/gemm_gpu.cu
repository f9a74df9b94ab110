#include "kernels/gemm/gemm_gpu.hpp"
#include "kernels/portable/gpu.hpp"

namespace ulpgate::gemm_kernels {

void run_gemm_gpu(const GemmPlan& plan, const gemm::Buffers& io) {
  if (plan.math.m == 0 || plan.math.n == 0) return;
  try {
    gpu::DeviceBytes a(io.a.size()), b(io.b.size()), sa(io.sa.size()), sb(io.sb.size());
    const auto d = gpu::DeviceBytes::output("d", io.d.size());
    a.upload(io.a.data());
    b.upload(io.b.data());
    sa.upload(io.sa.data());
    sb.upload(io.sb.data());
    launch_gemm(plan, {a.get(), b.get(), sa.get(), sb.get(), d.get()},
                [](const LaunchConfig& cfg, const auto& kernel) { gpu::launch(cfg, kernel); });
    gpu::synchronize();
    d.download(io.d.data());
    gpu::check_guards({&d});
  } catch (const gpu::GpuError& e) {
    throw GemmError(e.what());  // the caller adds the op and the case
  }
}

void run_grouped_gemm_gpu(const GemmPlan& plan, const gemm::GroupedBuffers& io) {
  if (plan.math.m == 0 || plan.math.n == 0) return;
  try {
    gpu::DeviceBytes a(io.a.size()), b(io.b.size()), sa(io.sa.size()), sb(io.sb.size()),
        rows(io.m_indices.size_bytes() + io.masked_m.size_bytes());
    const auto d = gpu::DeviceBytes::output("d", io.d.size());
    a.upload(io.a.data());
    b.upload(io.b.data());
    sa.upload(io.sa.data());
    sb.upload(io.sb.data());
    rows.upload(io.m_indices.empty() ? static_cast<const void*>(io.masked_m.data()) : io.m_indices.data());
    const auto* map = reinterpret_cast<const int32_t*>(rows.get());
    launch_gemm(plan,
                {a.get(), b.get(), sa.get(), sb.get(), d.get(), io.m_indices.empty() ? nullptr : map,
                 io.m_indices.empty() ? map : nullptr},
                [](const LaunchConfig& cfg, const auto& kernel) { gpu::launch(cfg, kernel); });
    gpu::synchronize();
    d.download(io.d.data());
    gpu::check_guards({&d});
  } catch (const gpu::GpuError& e) {
    throw GemmError(e.what());
  }
}

}  // namespace ulpgate::gemm_kernels
