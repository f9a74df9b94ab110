// What a backend implements (host emulation, CUDA, HIP, vendor, plugin; and test-only fault
// backends). Outputs arrive poisoned; a backend writes every element it owns.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "reference/gemm/gemm.hpp"
#include "reference/norm/norm.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate {

// The kernel could not run (bad launch, driver error, detected deadlock): verdict `error`.
struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a GEMM kernel says it computed. `model` names the accumulator model (gemm::model) its
// outputs follow bit for bit: the bit-exact tier. With budget_only its summation order is not the
// model's (split-K, stream-K, an unknown library order): only the error-bound tier judges it, with
// that model's bound. `ran` is free text on what ran (kernel, tiling; a vendor library's algorithm
// id), reported with the case and never part of its golden digest.
struct GemmClaim {
  std::string model;
  bool budget_only = false;
  std::string ran;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Quantizes x (raw elements of dtype `input`) into codes [M*K] and scale storage (spec.layout).
  virtual void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x,
                     std::span<uint8_t> codes, std::span<uint8_t> scales) = 0;
  // Runs an RMSNorm op: reads io's inputs, writes the outputs the op has (norm/norm.hpp).
  // Backends without norm kernels keep this default, which reports the case as `error`.
  virtual void norm(const norm::Spec& spec, const norm::Buffers& io) {
    (void)spec, (void)io;
    throw BackendError(name() + " has no RMSNorm kernels");
  }
  // Runs a GEMM: reads io's A, B and scale storage (gemm.hpp Buffers), writes D, and says what it
  // claims. Backends without GEMM kernels keep this default, which reports the case as `error`.
  virtual GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) {
    (void)spec, (void)io;
    throw BackendError(name() + " has no GEMM kernels");
  }
};

using BackendFactory = std::function<std::unique_ptr<Backend>(std::string_view arch)>;

// Backends register themselves by name; `make_backend` throws UsageError listing the known ones.
void register_backend(std::string name, BackendFactory factory);
std::unique_ptr<Backend> make_backend(std::string_view name, std::string_view arch);
std::string backend_names();

}  // namespace ulpgate
