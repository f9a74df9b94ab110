// What a backend implements (host emulation, CUDA, HIP, vendor, plugin; and test-only fault
// backends). Outputs arrive poisoned; a backend writes every element it owns.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "reference/norm/norm.hpp"
#include "reference/quant/quant.hpp"

namespace ulpgate {

// The kernel could not run (bad launch, driver error, detected deadlock): verdict `error`.
struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
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
};

using BackendFactory = std::function<std::unique_ptr<Backend>(std::string_view arch)>;

// Backends register themselves by name; `make_backend` throws UsageError listing the known ones.
void register_backend(std::string name, BackendFactory factory);
std::unique_ptr<Backend> make_backend(std::string_view name, std::string_view arch);
std::string backend_names();

}  // namespace ulpgate
