#include "harness/backends/kernel_backends.hpp"

#include "harness/core/backend.hpp"
#include "harness/core/processes.hpp"
#include "harness/plugin/plugin_backend.hpp"
#include "kernels/portable/device_copies.hpp"
#include "kernels/allreduce/allreduce_host.hpp"
#include "kernels/allreduce/fused_host.hpp"
#include "kernels/gemm/gemm_host.hpp"
#include "kernels/norm/norm_host.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/quant/quant_host.hpp"
#include "reference/gemm/model.hpp"
#include "reference/gemm/layout.hpp"
#include <cstring>
#if defined(ULPGATE_HAVE_CUDA)
#include "harness/backends/device_references.hpp"
#include "kernels/allreduce/allreduce_gpu.hpp"
#include "kernels/allreduce/fused_gpu.hpp"
#include "kernels/gemm/cublaslt.hpp"
#include "kernels/gemm/gemm_gpu.hpp"
#include "kernels/norm/norm_gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"
#endif

namespace ulpgate {
namespace {

// What a kernel error message names: the op and the case's spec.
std::string describe(const quant::Spec& s, Format input) {
  return std::string(quant::op_name(s.op)) + "/" + std::string(s.profile ? s.profile->name : "?") + "/" +
         std::string(format_name(s.format)) + "/" + std::string(format_name(input)) + "/" + std::to_string(s.m) +
         "x" + std::to_string(s.k) + "/gs" + std::to_string(s.gs) + "/" + std::string(quant::layout_name(s.layout));
}

std::string describe(const norm::Spec& s) {
  std::string d = std::string(norm::op_name(s.op)) + "/" + std::string(s.profile ? s.profile->name : "?") + "/" +
                  std::string(format_name(s.dtype)) + "/" + std::to_string(s.m) + "x" + std::to_string(s.h);
  if (s.quantizes())
    d += "/" + std::string(format_name(s.format)) + "/gs" + std::to_string(s.gs) + "/" +
         std::string(quant::layout_name(s.layout)) + (s.ue8m0 ? "/ue8m0" : "");
  return d;
}

std::string describe(const gemm::Spec& s) {
  return std::string(gemm::op_name(s.op)) + "/" + std::string(s.profile ? s.profile->name : "?") + "/" +
         std::string(format_name(s.a_format)) + "." + std::string(format_name(s.b_format)) + (s.ue8m0 ? ".ue8m0" : "") +
         "/" + std::string(format_name(s.out)) + "/" + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
         std::to_string(s.k);
}

std::string describe(const gemm::GroupedSpec& s) {
  return "moe.gemm/" + std::string(moe::group_layout_name(s.layout)) + "/" + std::to_string(s.experts()) + " experts of " +
         describe(s.expert_spec(0)) + " (" + std::to_string(s.rows()) + " rows)";
}

std::string describe(const quant::GroupedSpec& s, Format input) {
  return std::string(s.op_name()) + "/" + std::string(moe::group_layout_name(s.layout)) + "/" + std::to_string(s.experts()) +
         " experts of " + describe(s.part_spec(), input) + " (" + std::to_string(s.rows()) + " rows)";
}

std::string describe(const allreduce::Spec& s) {
  return "allreduce/" + std::string(s.variant->name) + "/" + std::string(format_name(s.dtype)) + "/w" +
         std::to_string(s.world) + "/" + std::to_string(s.bytes()) + " bytes";
}

std::string describe(const allreduce::FusedSpec& s) {
  return std::string(s.norm.op == norm::Op::rms_add ? "allreduce.rms/" : "allreduce.rms-quant/") +
         std::string(s.variant->name) + "/w" + std::to_string(s.world) + " + " + describe(s.norm);
}

// Runs a kernel: a case it cannot run, a failed kernel or a launch the emulator rejects becomes a
// BackendError naming the case (the verdict `error`).
template <class Fn>
auto kernel_call(const std::string& what, Fn fn) -> decltype(fn()) {
  const auto fail = [&](const std::exception& e) { return BackendError(std::string(e.what()) + " [" + what + "]"); };
  try {
    return fn();
  } catch (const quant_kernels::QuantError& e) {
    throw fail(e);
  } catch (const norm_kernels::NormError& e) {
    throw fail(e);
  } catch (const gemm_kernels::GemmError& e) {
    throw fail(e);
  } catch (const allreduce_kernels::AllreduceError& e) {  // an input the kernel does not take
    throw Refused(std::string(e.what()) + " [" + what + "]");
  } catch (const host_simt::KernelError& e) {
    throw fail(e);
#if defined(ULPGATE_HAVE_CUDA)
  } catch (const allreduce_kernels::GpuWorldError& e) {
    throw fail(e);
#endif
  } catch (const std::invalid_argument& e) {  // a launch configuration the emulator rejects
    throw fail(e);
  }
}

// The GEMM kernel's claim (kernels/gemm/gemm_kernels.hpp), running `where`.
GemmClaim gemm_claim(const std::string& where, std::string_view arch) {
  return {gemm_kernels::kClaimedModel, false,
          "portable block-scaled GEMM (kernels/gemm), one thread per output, fmaf over K, on " + where, std::string(arch)};
}

// NCCL's ring where its order was measured on `arch` (reference/allreduce/nccl_ring.cpp).
const allreduce::RingOrder* nccl_ring(const allreduce::Spec& spec, std::string_view arch) {
  return spec.variant->order == allreduce::Order::per_hop ? allreduce::find_ring_order(arch, spec.world, spec.bytes()) : nullptr;
}

class HostBackend : public Backend {
 public:
  explicit HostBackend(const Arch& arch) : arch_(arch) {}
  std::string name() const override { return "host@" + std::string(arch_.name); }

  void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    kernel_call(describe(spec, input), [&] { quant_kernels::run_quant_host(arch_, spec, input, x, codes, scales); });
  }

  void grouped_quant(const quant::GroupedSpec& spec, Format input, std::span<const std::byte> x,
                     std::span<const int32_t> row_map, std::span<uint8_t> codes, std::span<uint8_t> scales) override {
    kernel_call(describe(spec, input),
                [&] { quant_kernels::run_grouped_quant_host(arch_, spec, input, x, row_map, codes, scales); });
  }

  void norm(const norm::Spec& spec, const norm::Buffers& io) override {
    kernel_call(describe(spec), [&] { norm_kernels::run_norm_host(arch_, spec, io); });
  }

  GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) override {
    kernel_call(describe(spec), [&] { gemm_kernels::run_gemm_host(arch_, spec, io); });
    return gemm_claim("the host-SIMT emulator (" + std::string(arch_.name) + ")", arch_.name);
  }

  GemmClaim grouped_gemm(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io) override {
    kernel_call(describe(spec), [&] { gemm_kernels::run_grouped_gemm_host(arch_, spec, io); });
    return gemm_claim("the host-SIMT emulator (" + std::string(arch_.name) + "), one launch over the experts' rows",
                      arch_.name);
  }

  const allreduce::RingOrder* measured_order(const allreduce::Spec& spec) const override { return nccl_ring(spec, arch_.name); }

  // NCCL: its ring replayed where its order was measured on this arch (reference/allreduce/nccl_ring.cpp).
  std::string declines(const allreduce::Spec& spec) const override {
    if (spec.variant->order != allreduce::Order::per_hop || measured_order(spec)) return "";
    return "NCCL runs on GPUs only (the vendor backend); the host replays its ring only where its order was measured "
           "(reference/allreduce/nccl_ring.cpp: not " + std::to_string(spec.bytes()) + " bytes on " +
           std::to_string(spec.world) + " ranks at " + std::string(arch_.name) + ")";
  }

  AllreduceClaim allreduce(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) override {
    if (const allreduce::RingOrder* r = measured_order(spec)) {
      allreduce_kernels::run_nccl_ring_host(*r, spec, io);
      return {allreduce::Order::per_hop, "NCCL's ring as measured, replayed on the host (" + std::string(r->source) + ")"};
    }
    const allreduce::Order ran =
        kernel_call(describe(spec), [&] { return allreduce_kernels::run_allreduce_host(arch_, spec, io, world_); });
    return {ran, std::string(ran == allreduce::Order::rank_order ? "one-shot" : "two-shot") +
                     " custom kernel, the world's ranks as one host-SIMT world launch (" + std::string(arch_.name) + ")"};
  }

  // The other ranks are other processes: the registered buffers and signals live in MPI shared
  // memory, one segment per process (core/processes.hpp).
  std::string declines(const allreduce::FusedSpec&) const override { return ""; }

  void allreduce_norm(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io) override {
    kernel_call(describe(spec), [&] { allreduce_kernels::run_fused_host(arch_, spec, io, world_); });
  }

  AllreduceClaim allreduce_rank(const allreduce::Spec& spec, int rank, const allreduce::RankBuffers& mine) override {
    if (measured_order(spec)) throw NotSupported(name() + " replays NCCL's ring in one process only");
    const int64_t registered = allreduce::kDefaultRegisteredBytes;
    const allreduce_kernels::WorldPointers p = segments(registered);
    const allreduce::Order ran = kernel_call(
        describe(spec), [&] { return allreduce_kernels::run_allreduce_rank_host(arch_, spec, rank, mine, p); });
    return {ran, std::string(ran == allreduce::Order::rank_order ? "one-shot" : "two-shot") +
                     " custom kernel, this process one rank (" + std::string(arch_.name) + ")"};
  }

  // The plain all-reduce's segments where the message fits them (one window for both).
  void allreduce_norm_rank(const allreduce::FusedSpec& spec, int rank, const allreduce::FusedRankBuffers& mine) override {
    const int64_t registered = std::max(allreduce::kDefaultRegisteredBytes, spec.sum_spec().bytes());
    const allreduce_kernels::WorldPointers p = segments(registered);
    kernel_call(describe(spec), [&] { allreduce_kernels::run_fused_rank_host(arch_, spec, rank, mine, p, registered); });
  }

 private:
  // Every process's registered buffers, tmp buffer and signal in MPI shared memory.
  static allreduce_kernels::WorldPointers segments(int64_t registered) {
    try {
      return allreduce_kernels::segment_pointers(shared_segments(allreduce_kernels::segment_bytes(registered)), registered);
    } catch (const std::runtime_error& e) {
      throw BackendError(e.what());
    }
  }

  const Arch& arch_;
  allreduce_kernels::HostWorld world_;
};

// Why the vendor backends (and their predictions) run no moe.gemm.
constexpr const char* kNoVendorGroupedGemm =
    "no vendor grouped FP8 GEMM (CUDA 13's cublasGemmGroupedBatchedEx takes no scale operands; cuBLASLt's batched "
    "mode needs equal shapes)";

// A vendor library's GEMM predicted on the host (issue 17): the arch's matrix unit as its
// accumulator model (reference/gemm/model.cpp), replayed exactly. It runs the cases of the arch's
// vendor profiles (Arch::vendor_profile) and declines the rest; its rows predict vendor@ARCH.
class ModelBackend : public Backend {
 public:
  explicit ModelBackend(const Arch& arch) : arch_(arch) {}
  std::string name() const override { return "model@" + std::string(arch_.name); }
  std::string declines(const quant::Spec&) const override { return "the accumulator-model emulation runs GEMMs only"; }
  std::string declines(const norm::Spec&) const override { return "the accumulator-model emulation runs GEMMs only"; }
  std::string declines(const allreduce::Spec&) const override { return "the accumulator-model emulation runs GEMMs only"; }
  std::string declines(const gemm::GroupedSpec&) const override { return kNoVendorGroupedGemm; }

  std::string declines(const gemm::Spec& spec) const override {
    const std::string arch(arch_.name), profile(spec.profile->name);
    if (arch_.vendor_profile.empty()) return "no vendor GEMM profile of " + arch + " in the catalog";
    if (!profile.starts_with(arch_.vendor_profile))
      return arch + "'s vendor library runs the " + std::string(arch_.vendor_profile) + " profiles, not " + profile;
    if (const std::string p = spec.problem(); !p.empty()) return p;
    const gemm::AccumModel* m = model_of(spec);
    if (!m) return "no accumulator model row for " + arch;
    if (spec.op == gemm::Op::mx && !m->scales_in_mma) return "the " + std::string(m->name) + " model has no MX scaling";
    return "";
  }

  // Never reached: run_case asks declines() first.
  void quant(const quant::Spec& spec, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    require_supported(*this, spec);
  }

  GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) override {
    const gemm::AccumModel& m = *model_of(spec);
    const gemm::Output out = gemm::gemm_model(spec, m, gemm::logical(spec, io));
    const size_t bytes = out.format == Format::bf16 ? 2 : 4;
    for (size_t i = 0; i < out.bits.size(); ++i) std::memcpy(io.d.data() + i * bytes, &out.bits[i], bytes);  // little endian
    return {std::string(m.name), false,
            "the " + std::string(m.name) + " accumulator model replayed on the host (" +
                (m.validated ? "validated" : "unvalidated: a hypothesis") + ")",
            std::string(arch_.name)};
  }

 private:
  // The mode's row for the arch: "<arch>-fast-accum" for a fast-accumulation profile where the
  // arch has one, else "<arch>".
  const gemm::AccumModel* model_of(const gemm::Spec& spec) const {
    const std::string arch(arch_.name);
    const bool fast = std::string_view(spec.profile->name).ends_with("-fast-accum");
    const gemm::AccumModel* found = nullptr;
    for (const gemm::AccumModel& m : gemm::models())
      if (m.arch == arch && (m.name == arch || (fast && m.name == arch + "-fast-accum")))
        if (!found || m.name != arch) found = &m;
    return found;
  }

  const Arch& arch_;
};

#if defined(ULPGATE_HAVE_CUDA)
// A world larger than the GPUs present is declined (counted as skipped in a sweep).
std::string world_problem(const allreduce::Spec& spec) {
  const int gpus = allreduce_kernels::gpu_count();
  return spec.world > gpus ? "a world of " + std::to_string(spec.world) + " ranks needs as many GPUs (" + std::to_string(gpus) + " here)" : "";
}

// This process's GPU rank under mpirun, made when the first case of a world runs (every process
// runs that case at once, so the collective set-up lines up).
class ProcessRank {
 public:
  allreduce_kernels::GpuRank& get() {
    if (!rank_) rank_ = std::make_unique<allreduce_kernels::GpuRank>(processes().rank, processes().size, exchange_blobs);
    return *rank_;
  }

 private:
  std::unique_ptr<allreduce_kernels::GpuRank> rank_;
};

class CudaBackend : public Backend {
 public:
  std::string name() const override { return "cuda@sm90"; }

  void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    kernel_call(describe(spec, input), [&] {
      const auto plan = quant_kernels::plan_quant(spec, input, kSm90, x.size(), codes.size(), scales.size());
      quant_kernels::run_quant_gpu(plan, x, codes, scales);
    });
  }

  std::unique_ptr<quant_kernels::HeldOutputs> quant_held(const quant::Spec& spec, Format input, const void* x_on_device,
                                                         std::size_t x_bytes) override {
    return kernel_call(describe(spec, input), [&] {
      const auto codes = size_t(spec.m * spec.k), scales = size_t(spec.scale_bytes());
      const auto plan = quant_kernels::plan_quant(spec, input, kSm90, x_bytes, codes, scales);
      return quant_kernels::hold_quant_gpu(plan, x_on_device, scales);
    });
  }

  void grouped_quant(const quant::GroupedSpec& spec, Format input, std::span<const std::byte> x,
                     std::span<const int32_t> row_map, std::span<uint8_t> codes, std::span<uint8_t> scales) override {
    kernel_call(describe(spec, input), [&] {
      const auto plan = quant_kernels::plan_grouped_quant(spec, input, kSm90, x.size(), codes.size(), scales.size(), row_map.size());
      quant_kernels::run_quant_gpu(plan, x, codes, scales, row_map);
    });
  }

  void norm(const norm::Spec& spec, const norm::Buffers& io) override {
    kernel_call(describe(spec), [&] {
      const auto plan = norm_kernels::plan_norm(spec, kSm90, norm_kernels::NormSizes::of(io));
      norm_kernels::run_norm_gpu(plan, io);
    });
  }

  std::unique_ptr<norm_kernels::HeldOutputs> norm_held(const norm::Spec& spec, const InputRows& x, const InputRows& residual,
                                                       std::span<const std::byte> weight) override {
    return kernel_call(describe(spec), [&] {
      norm_kernels::NormSizes sizes = norm_kernels::required_sizes(spec);
      sizes.x = size_t(x.m) * x.row_bytes, sizes.residual = size_t(residual.m) * residual.row_bytes, sizes.weight = weight.size();
      return norm_kernels::hold_norm_gpu(norm_kernels::plan_norm(spec, kSm90, sizes), x, residual, weight, sizes);
    });
  }

  GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) override {
    kernel_call(describe(spec), [&] {
      gemm_kernels::run_gemm_gpu(gemm_kernels::plan_gemm(spec, io, gemm_kernels::kGpuBlocks), io);
    });
    return gemm_claim("CUDA sm90", "sm90");
  }

  GemmClaim grouped_gemm(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io) override {
    kernel_call(describe(spec), [&] {
      gemm_kernels::run_grouped_gemm_gpu(gemm_kernels::plan_grouped_gemm(spec, io, gemm_kernels::kGpuBlocks), io);
    });
    return grouped_claim();
  }

  // The experts' weights made straight into the device's B: the host holds a part at a time.
  GemmClaim grouped_gemm_streamed(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io,
                                  const gemm::ExpertWeights& weights) override {
    kernel_call(describe(spec), [&] {
      gemm_kernels::run_grouped_gemm_gpu(gemm_kernels::plan_grouped_gemm(spec, io, gemm_kernels::kGpuBlocks, &weights),
                                         spec, io, weights);
    });
    return grouped_claim();
  }
  static GemmClaim grouped_claim() { return gemm_claim("CUDA sm90, one launch over the experts' rows", "sm90"); }

  gemm::DeviceReference* gemm_reference() override { return reference_.get(); }
  quant::DeviceReference* quant_reference() override { return quant_reference_.get(); }
  norm::DeviceReference* norm_reference() override { return norm_reference_.get(); }
  allreduce::DeviceReference* allreduce_reference() override { return allreduce_reference_.get(); }

  std::string declines(const allreduce::Spec& spec) const override {
    if (spec.variant->order == allreduce::Order::per_hop) return "NCCL runs on the vendor backend";
    return world_problem(spec);
  }

  // Rank r on GPU r (P2P) where there are as many GPUs as ranks, else every rank's grid
  // co-resident on GPU 0: one GPU runs every world size.
  std::string declines(const allreduce::FusedSpec&) const override { return ""; }

  void allreduce_norm(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io) override {
    if (world_problem(spec.sum_spec()).empty())
      kernel_call(describe(spec), [&] { world_.fused(spec, io); });
    else
      kernel_call(describe(spec), [&] { allreduce_kernels::run_fused_one_gpu(spec, io); });
  }

  AllreduceClaim allreduce(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) override {
    const allreduce::Order ran = kernel_call(describe(spec), [&] { return world_.custom(spec, io); });
    return {ran, std::string(ran == allreduce::Order::rank_order ? "one-shot" : "two-shot") + " custom kernel on " +
                     std::to_string(spec.world) + " GPUs (one process, P2P)"};
  }

  AllreduceClaim allreduce_rank(const allreduce::Spec& spec, int, const allreduce::RankBuffers& mine) override {
    const allreduce::Order ran = kernel_call(describe(spec), [&] { return process_.get().custom(spec, mine); });
    return {ran, std::string(ran == allreduce::Order::rank_order ? "one-shot" : "two-shot") +
                     " custom kernel, one GPU per process (CUDA IPC)"};
  }

  // One GPU per process: its grid alone on its device (the co-resident one-GPU run is the
  // one-process path's).
  void allreduce_norm_rank(const allreduce::FusedSpec& spec, int, const allreduce::FusedRankBuffers& mine) override {
    if (const std::string why = world_problem(spec.sum_spec()); !why.empty())
      throw NotSupported(name() + " does not run this case one rank per process: " + why +
                         " (without mpirun its ranks run co-resident on one GPU)");
    kernel_call(describe(spec), [&] { process_.get().fused(spec, mine); });
  }

 private:
  std::unique_ptr<gemm::DeviceReference> reference_ = cuda_gemm_reference();
  std::unique_ptr<quant::DeviceReference> quant_reference_ = cuda_quant_reference();
  std::unique_ptr<norm::DeviceReference> norm_reference_ = cuda_norm_reference();
  std::unique_ptr<allreduce::DeviceReference> allreduce_reference_ = cuda_allreduce_reference();
  allreduce_kernels::GpuWorld world_;
  ProcessRank process_;
};

// The vendor library under test: cuBLASLt's FP8 matmul (kernels/gemm/cublaslt.hpp). It runs the
// cublaslt profiles' GEMMs and declines everything else. Its claim is the sm90 model of the mode
// it ran; a split-K algorithm is claimed for the budget tier only.
class VendorBackend : public Backend {
 public:
  std::string name() const override { return "vendor@sm90"; }
  std::string declines(const quant::Spec&) const override { return "no vendor quantization kernels"; }
  std::string declines(const norm::Spec&) const override { return "no vendor RMSNorm kernels"; }
  std::string declines(const gemm::Spec& spec) const override { return gemm_kernels::cublaslt_problem(spec); }
  std::string declines(const gemm::GroupedSpec&) const override { return kNoVendorGroupedGemm; }
  std::string declines(const allreduce::Spec& spec) const override {
    if (spec.variant->order != allreduce::Order::per_hop) return "the vendor backend runs NCCL's all-reduce only";
    return world_problem(spec);
  }

  const allreduce::RingOrder* measured_order(const allreduce::Spec& spec) const override { return nccl_ring(spec, "sm90"); }

  AllreduceClaim allreduce(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) override {
    return {allreduce::Order::per_hop, kernel_call(describe(spec), [&] { return world_.nccl(spec, io); })};
  }

  AllreduceClaim allreduce_rank(const allreduce::Spec& spec, int, const allreduce::RankBuffers& mine) override {
    return {allreduce::Order::per_hop, kernel_call(describe(spec), [&] { return process_.get().nccl(spec, mine); })};
  }

  // Never reached: run_case asks declines() first.
  void quant(const quant::Spec& spec, Format, std::span<const std::byte>, std::span<uint8_t>, std::span<uint8_t>) override {
    require_supported(*this, spec);
  }

  GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) override {
    try {
      const gemm_kernels::CublasLtRun run = gemm_kernels::run_cublaslt(spec, io);
      return {run.model, run.split_k,
              run.algorithm + (run.split_k ? " (split-K: the fp32 partial-sum order is unknown)" : ""), "sm90"};
    } catch (const gemm_kernels::VendorError& e) {
      throw BackendError(std::string(e.what()) + " [" + describe(spec) + "]");
    }
  }

  gemm::DeviceReference* gemm_reference() override { return reference_.get(); }
  allreduce::DeviceReference* allreduce_reference() override { return allreduce_reference_.get(); }

 private:
  std::unique_ptr<gemm::DeviceReference> reference_ = cuda_gemm_reference();
  std::unique_ptr<allreduce::DeviceReference> allreduce_reference_ = cuda_allreduce_reference();
  allreduce_kernels::GpuWorld world_;
  ProcessRank process_;
};

void require_device(std::string_view backend, std::string_view arch) {
  if (arch != "sm90")
    throw UsageError("the " + std::string(backend) + " backend runs sm90 (got --arch " + std::string(arch) + ")");
  const int gpus = quant_kernels::gpu_device_count();
  if (gpus == 0) throw BackendError(std::string(backend) + " backend: no CUDA device present");
  quant_kernels::gpu_use_device(processes().rank % gpus);  // under mpirun, one GPU per process
}

template <class B>
std::unique_ptr<Backend> make_on_device(std::string_view backend, std::string_view arch) {
  require_device(backend, arch);
  return std::make_unique<B>();
}
#endif

}  // namespace

void register_kernel_backends() {
  register_backend("host", [](std::string_view arch) -> std::unique_ptr<Backend> {
    return std::make_unique<HostBackend>(arch_by_name(arch));
  });
  register_backend("model", [](std::string_view arch) -> std::unique_ptr<Backend> {
    return std::make_unique<ModelBackend>(arch_by_name(arch));
  });
#if defined(ULPGATE_HAVE_CUDA)
  register_backend("cuda", [](std::string_view arch) { return make_on_device<CudaBackend>("cuda", arch); });
  register_backend("vendor", [](std::string_view arch) { return make_on_device<VendorBackend>("vendor", arch); });
  plugin::set_device_copies(make_cuda_copies);
  plugin::set_device_references(cuda_device_references);
#endif
}

}  // namespace ulpgate
