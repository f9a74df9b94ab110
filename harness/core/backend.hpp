// What a backend implements (host emulation, CUDA, HIP, vendor, plugin; and test-only fault
// backends). Outputs arrive poisoned; a backend writes every element it owns.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "kernels/norm/held_outputs.hpp"
#include "kernels/quant/held_reference.hpp"
#include "reference/allreduce/allreduce.hpp"
#include "reference/allreduce/fused.hpp"
#include "reference/gemm/gemm.hpp"
#include "reference/gemm/grouped.hpp"
#include "reference/norm/norm.hpp"
#include "reference/quant/grouped.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate {

namespace gemm {
class DeviceReference;  // harness/gemm/device_reference.hpp
}
namespace quant {
class DeviceReference;  // harness/quant/device_reference.hpp
}
namespace allreduce {
class DeviceReference;  // harness/allreduce/device_reference.hpp
}
namespace norm {
class DeviceReference;  // harness/norm/device_reference.hpp
}

// The kernel could not run (bad launch, driver error, detected deadlock): verdict `error`.
struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The backend does not run this case at all (a vendor library without the op, the format pair or
// the profile): the sweep skips it and counts it by reason; asked for by name (repro, --case) it
// is bad usage, exit 2.
struct NotSupported : UsageError {
  using UsageError::UsageError;
};

// What a GEMM kernel says it computed. `model` names the accumulator model (gemm::model) its
// outputs follow bit for bit: the bit-exact tier. With budget_only its summation order is not the
// model's (split-K, stream-K, an unknown library order): the suite identifies the order
// (harness/gemm/identify.hpp) and judges by the model's bound where none reproduces the outputs.
// An empty `model` claims nothing: the order is identified among the paths of `arch` (every path
// for a host arch), and judged by the loosest of their bounds where none reproduces the outputs.
// `ran` is free text on what ran (kernel, tiling; a vendor library's algorithm id), reported with
// the case and never part of its golden digest.
struct GemmClaim {
  std::string model;
  bool budget_only = false;
  std::string ran;
  std::string arch;
};

// The kernel refused its input, naming the rule (a view that is not weakly contiguous, a size it
// does not take): a pass where the case's spec allows the refusal (allreduce::Spec::may_refuse),
// the verdict `error` elsewhere.
struct Refused : BackendError {
  using BackendError::BackendError;
};

// What an all-reduce says it ran: the order its sums follow (rank_order or rotated: fp32, rounded
// once; per_hop: rounded to the element type at every hop, in an order it does not state) and
// free text on what ran (kernel, algorithm, protocol), reported with the case.
struct AllreduceClaim {
  allreduce::Order order = allreduce::Order::per_hop;
  std::string ran;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Why this backend does not run a case of the spec (empty: it does). Asked before the case's
  // inputs are generated, so a declined case costs nothing; run_case throws NotSupported with it.
  virtual std::string declines(const quant::Spec& spec) const { return (void)spec, ""; }
  virtual std::string declines(const norm::Spec& spec) const { return (void)spec, ""; }
  virtual std::string declines(const gemm::Spec& spec) const { return (void)spec, ""; }
  virtual std::string declines(const gemm::GroupedSpec& spec) const { return (void)spec, ""; }
  virtual std::string declines(const quant::GroupedSpec& spec) const { return declines(spec.base); }
  virtual std::string declines(const allreduce::Spec& spec) const { return (void)spec, ""; }
  virtual std::string declines(const allreduce::FusedSpec& spec) const {
    return (void)spec, "it has no fused all-reduce + RMSNorm kernels";
  }
  // Quantizes x (raw elements of dtype `input`) into codes [M*K] and scale storage (spec.layout).
  virtual void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x,
                     std::span<uint8_t> codes, std::span<uint8_t> scales) = 0;
  // quant() on the backend's device: x is its quantization reference's copy of the input there
  // (HeldReference::input_on_device, x_bytes long), the codes and scale storage are left there,
  // and a case judged against that reference fetches them a slab at a time (issue 30) instead of
  // holding input and outputs whole here. nullptr (the default): it has no such path, and
  // quant() reads and writes host buffers.
  virtual std::unique_ptr<quant_kernels::HeldOutputs> quant_held(const quant::Spec& spec, Format input,
                                                                 const void* x_on_device, std::size_t x_bytes) {
    (void)spec, (void)input, (void)x_on_device, (void)x_bytes;
    return nullptr;
  }
  // Quantizes a grouped op's x [rows, K] per expert into codes [rows, K] and the scale storage
  // (reference/quant/grouped.hpp), reading its row map (m_indices [rows] or masked_m [experts]);
  // writes the tokens' rows only. Backends without one keep this default (`error`).
  virtual void grouped_quant(const quant::GroupedSpec& spec, Format input, std::span<const std::byte> x,
                             std::span<const int32_t> row_map, std::span<uint8_t> codes, std::span<uint8_t> scales) {
    (void)spec, (void)input, (void)x, (void)row_map, (void)codes, (void)scales;
    throw BackendError(name() + " has no grouped quantization kernels");
  }
  // Runs an RMSNorm op: reads io's inputs, writes the outputs the op has (norm/norm.hpp).
  // Backends without norm kernels keep this default, which reports the case as `error`.
  virtual void norm(const norm::Spec& spec, const norm::Buffers& io) {
    (void)spec, (void)io;
    throw BackendError(name() + " has no RMSNorm kernels");
  }
  // norm() on the backend's device: x and the residual made and copied there a slab of rows at a
  // time (the residual's rows: none without one), kept there with the outputs (y or the codes and
  // scales, the written-back residual), as quant_held; nullptr (the default): norm() reads and
  // writes host buffers.
  virtual std::unique_ptr<norm_kernels::HeldOutputs> norm_held(const norm::Spec& spec, const InputRows& x,
                                                               const InputRows& residual, std::span<const std::byte> weight) {
    (void)spec, (void)x, (void)residual, (void)weight;
    return nullptr;
  }
  // Runs a GEMM: reads io's A, B and scale storage (gemm.hpp Buffers), writes D, and says what it
  // claims. Backends without GEMM kernels keep this default, which reports the case as `error`.
  virtual GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) {
    (void)spec, (void)io;
    throw BackendError(name() + " has no GEMM kernels");
  }
  // Runs a grouped (MoE) GEMM: reads io's A, B, scales and row map (reference/gemm/grouped.hpp),
  // writes the tokens' rows of D and nothing else. Backends without one keep this default (`error`).
  virtual GemmClaim grouped_gemm(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io) {
    (void)spec, (void)io;
    throw BackendError(name() + " has no grouped GEMM kernels");
  }
  // grouped_gemm with B and its scale storage made by `weights` a part at a time (io.b and io.sb
  // empty), so that a backend with a device holds them there alone. The default makes them whole
  // here and calls grouped_gemm.
  virtual GemmClaim grouped_gemm_streamed(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io,
                                          const gemm::ExpertWeights& weights);
  // Runs an all-reduce over a world of spec.world ranks: io[r] holds rank r's input and output
  // storage (allreduce::RankBuffers); afterwards every rank's output view holds the sum of all
  // ranks' input views. Throws Refused for an input it does not take. Backends without all-reduce
  // keep this default, which reports the case as `error`.
  virtual AllreduceClaim allreduce(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) {
    (void)spec, (void)io;
    throw BackendError(name() + " has no all-reduce");
  }
  // allreduce.rms / allreduce.rms-quant over a world of spec.world ranks: io[r] holds rank r's x,
  // residual, weights and outputs; every rank writes the norm stage's outputs (its residual_out,
  // and y or codes and scales). Only backends that override declines(FusedSpec) are asked.
  virtual void allreduce_norm(const allreduce::FusedSpec& spec, std::span<const allreduce::FusedRankBuffers> io) {
    (void)spec, (void)io;
    throw BackendError(name() + " has no fused all-reduce + RMSNorm kernels");
  }
  // The order this backend's all-reduce was measured to follow for spec (NCCL's ring on this arch,
  // reference/allreduce/nccl_ring.hpp), or nullptr: where there is one, outputs are held to its
  // sum bit for bit, as a custom kernel is to its documented order.
  virtual const allreduce::RingOrder* measured_order(const allreduce::Spec& spec) const {
    (void)spec;
    return nullptr;
  }
  // One rank of an all-reduce whose other ranks are other processes (mpirun): this process is
  // rank `rank` of spec.world and `mine` its buffers. Backends without it decline the case.
  virtual AllreduceClaim allreduce_rank(const allreduce::Spec& spec, int rank, const allreduce::RankBuffers& mine) {
    (void)spec, (void)rank, (void)mine;
    throw NotSupported(name() + " runs an all-reduce's ranks in one process only");
  }
  // The GEMM reference on this backend's device (harness/gemm/device_reference.hpp), used in
  // place of the host's where it replays the claimed model; none by default.
  virtual gemm::DeviceReference* gemm_reference() { return nullptr; }
  // The quantization reference on this backend's device (harness/quant/device_reference.hpp), used
  // in place of the host's for the cases it computes; none by default.
  virtual quant::DeviceReference* quant_reference() { return nullptr; }
  // The RMSNorm reference on this backend's device (harness/norm/device_reference.hpp), likewise.
  virtual norm::DeviceReference* norm_reference() { return nullptr; }
  // The all-reduce reference on this backend's device (harness/allreduce/device_reference.hpp), likewise.
  virtual allreduce::DeviceReference* allreduce_reference() { return nullptr; }
  // One rank of allreduce.rms / allreduce.rms-quant whose other ranks are other processes
  // (mpirun), as allreduce_rank. Backends without it decline the case (NotSupported, thrown by
  // every rank alike before any rank waits for another).
  virtual void allreduce_norm_rank(const allreduce::FusedSpec& spec, int rank, const allreduce::FusedRankBuffers& mine) {
    (void)spec, (void)rank, (void)mine;
    throw NotSupported(name() + " runs a fused all-reduce's ranks in one process only");
  }
};

using BackendFactory = std::function<std::unique_ptr<Backend>(std::string_view arch)>;

// Backends register themselves by name; `make_backend` throws UsageError listing the known ones.
// A backend kind takes an argument after a colon: `plugin:PATH`.
using ArgumentFactory = std::function<std::unique_ptr<Backend>(std::string_view argument, std::string_view arch)>;
void register_backend(std::string name, BackendFactory factory);
void register_backend_kind(std::string kind, ArgumentFactory factory);
std::unique_ptr<Backend> make_backend(std::string_view name, std::string_view arch);
std::string backend_names();

// Throws NotSupported naming the backend and its reason when it declines the spec.
template <class Spec>
void require_supported(const Backend& backend, const Spec& spec) {
  if (std::string why = backend.declines(spec); !why.empty()) throw NotSupported(backend.name() + " does not run this case: " + why);
}

}  // namespace ulpgate
