// `--backend plugin:PATH`: a shared library implementing ops through the C API
// (include/ulpgate/ulpgate.h), judged like any backend. Its table says which ops and profiles it
// claims on which archs; every other case is declined (skipped, counted by reason).
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "harness/core/backend.hpp"
#include "include/ulpgate/ulpgate.h"
#include "kernels/portable/device_copies.hpp"

namespace ulpgate::plugin {

// A plugin that cannot be used: not loadable, no entry symbol, another ABI version, a malformed
// table (exit 3, the message naming the file and what is wrong).
struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The plugin at `path` (dlopen; PluginError when it cannot be used).
std::unique_ptr<Backend> load_plugin(std::string_view path, std::string_view arch);
// Where a GPU arch's calls get device memory (a CUDA build registers make_cuda_copies); without it
// a plugin's rows for a GPU arch are errors.
void set_device_copies(std::function<std::unique_ptr<DeviceCopies>()> factory);

// The references a plugin's cases take on the device when asked: ULPGATE_DEVICE_REFERENCES=cuda
// in the environment (which --jobs and --isolate workers inherit) makes a CUDA build compute them
// on the GPU, as for the cuda backend (harness/backends/device_references.hpp), whatever the arch
// the plugin runs for; unset, the host computes them. A CUDA build registers the factory.
struct DeviceReferences {
  std::unique_ptr<quant::DeviceReference> quant;
  std::unique_ptr<norm::DeviceReference> norm;
  std::unique_ptr<gemm::DeviceReference> gemm;
  std::unique_ptr<allreduce::DeviceReference> allreduce;
};
void set_device_references(std::function<DeviceReferences()> factory);

// A backend over a table already in memory (the embedding API's caller-supplied kernel); `origin`
// names it in error messages; the table must outlive the backend.
std::unique_ptr<Backend> table_backend(std::string origin, const ulpgate_plugin& table, std::string_view arch);

}  // namespace ulpgate::plugin
