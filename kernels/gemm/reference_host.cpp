#include "kernels/gemm/reference_host.hpp"

#include <Eigen/Core>
#include <cstring>
#include <vector>

#include "kernels/gemm/reference_pipeline.hpp"
#include "kernels/portable/host_simt.hpp"

namespace ulpgate::gemm_kernels {
namespace {

// Host memory as the pipeline's device memory: every allocation starts as poison, so a result
// the kernels never wrote cannot pass for one.
template <class T>
struct HostMemory {
  std::vector<T> v;
  T* get() const { return const_cast<T*>(v.data()); }
};

class HostBackend {
 public:
  HostBackend(const Arch& arch, std::size_t scratch) : arch_(arch), scratch_(scratch) {}

  template <class T>
  HostMemory<T> alloc(std::size_t n) {
    HostMemory<T> m{std::vector<T>(n)};
    poison(m.get(), n * sizeof(T));
    return m;
  }
  void poison(void* p, std::size_t bytes) {
    if (bytes) std::memset(p, 0xA5, bytes);
  }
  void to_device(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
  void to_host(void* dst, const void* src, std::size_t bytes) { copy(dst, src, bytes); }
  template <class Kernel>
  void launch(const LaunchConfig& cfg, const Kernel& kernel) {
    host_simt::launch(arch_, cfg, kernel);
  }
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
  const Arch& arch_;
  std::size_t scratch_;

  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
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
