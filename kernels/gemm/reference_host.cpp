#include "kernels/gemm/reference_host.hpp"

#include <Eigen/Core>

#include "kernels/gemm/reference_pipeline.hpp"
#include "kernels/portable/host_pipeline.hpp"

namespace ulpgate::gemm_kernels {
namespace {

// The pipeline's device on the host-SIMT emulator, with Eigen's GEMM for the block sums.
class HostBackend : public host_simt::PipelineDevice {
 public:
  HostBackend(const Arch& arch, std::size_t scratch) : PipelineDevice(arch), scratch_(scratch) {}

  std::size_t scratch_bytes() const { return scratch_; }

  // Eigen's GEMM per chunk (exact: BlockSums).
  void block_sums(const BlockSums& s) {
    using Rows = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Strided = Eigen::Map<const Rows, 0, Eigen::OuterStride<>>;
    for (int64_t c = 0; c < s.chunks; ++c) {
      const Strided a(s.a + c * s.chunk_k, s.rows, s.chunk_k, Eigen::OuterStride<>(s.kpad));
      const Strided b(s.b + c * s.chunk_k, s.n, s.chunk_k, Eigen::OuterStride<>(s.kpad));
      Eigen::Map<Rows>(s.c + c * s.rows * s.n, s.rows, s.n).noalias() = a * b.transpose();
    }
  }

 private:
  std::size_t scratch_;
};

}  // namespace

GpuIdeal ideal_host(const Arch& arch, const gemm::Spec& spec, const gemm::Operands& in, const HostOptions& options) {
  HostBackend be(arch, options.scratch_bytes);
  return ideal_of(be, spec, in, options.widen);
}

gemm::Output replay_host(const Arch& arch, const gemm::Spec& spec, const gemm::AccumModel& model, const gemm::Operands& in) {
  HostBackend be(arch, 0);
  return replay_of(be, spec, model, in, false).out;
}

gemm::Replay bounded_replay_host(const Arch& arch, const gemm::Spec& spec, const gemm::AccumModel& model,
                                 const gemm::Operands& in) {
  HostBackend be(arch, 0);
  return replay_of(be, spec, model, in, true);
}

std::unique_ptr<HeldOperands> hold_operands_host(const Arch& arch, const gemm::Spec& spec, const gemm::Operands& in) {
  const auto call = [](auto&& fn) { return fn(); };
  return std::make_unique<HeldOn<HostBackend, decltype(call)>>(spec, in, call, arch, HostOptions{}.scratch_bytes);
}

GpuComparison compare_host(const Arch& arch, const gemm::Spec& spec, const gemm::Ideal& expected, const gemm::Output& got,
                           const CompareBudget& budget) {
  HostBackend be(arch, 0);
  return compare_of(be, spec, expected.out, expected.exact, got, budget);
}

GpuComparison compare_host(const Arch& arch, const gemm::Spec& spec, const gemm::Output& expected,
                           const gemm::Output& got, const CompareBudget& budget) {
  HostBackend be(arch, 0);
  return compare_of(be, spec, expected, {}, got, budget);
}

}  // namespace ulpgate::gemm_kernels
