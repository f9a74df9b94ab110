#include "harness/plugin/plugin_backend.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "harness/allreduce/device_reference.hpp"
#include "harness/gemm/device_reference.hpp"
#include "harness/norm/device_reference.hpp"
#include "harness/plugin/op_call.hpp"
#include "harness/quant/device_reference.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/portable/guard.hpp"

namespace ulpgate::plugin {
namespace {

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  std::stringstream in{std::string(s)};
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// The library stays loaded for the process's life: a plugin's static destructors may run code
// its table pointed at, and unloading buys nothing in a sweep.
const ulpgate_plugin& open_table(const std::string& path) {
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) throw PluginError("plugin " + path + ": cannot load: " + dlerror());
  void* entry = dlsym(lib, ULPGATE_PLUGIN_ENTRY);
  if (!entry)
    throw PluginError("plugin " + path + ": does not export " ULPGATE_PLUGIN_ENTRY " (the ulpgate plugin ABI, include/ulpgate/ulpgate.h)");
  const ulpgate_plugin* table = reinterpret_cast<ulpgate_plugin_entry_fn>(entry)();
  if (!table) throw PluginError("plugin " + path + ": " ULPGATE_PLUGIN_ENTRY "() returned no table");
  if (table->abi_version < ULPGATE_ABI_MIN_VERSION || table->abi_version > ULPGATE_ABI_VERSION)
    throw PluginError("plugin " + path + ": built for ulpgate plugin ABI version " + std::to_string(table->abi_version) +
                      ", this ulpgate speaks versions " + std::to_string(ULPGATE_ABI_MIN_VERSION) + " to " +
                      std::to_string(ULPGATE_ABI_VERSION));
  if (table->n_ops < 0 || (table->n_ops > 0 && !table->ops))
    throw PluginError("plugin " + path + ": its op table is malformed (n_ops " + std::to_string(table->n_ops) + ")");
  for (int32_t i = 0; i < table->n_ops; ++i) {
    const ulpgate_op& op = table->ops[i];
    if (!op.op || !op.profile || !op.archs || !op.run)
      throw PluginError("plugin " + path + ": op row " + std::to_string(i) + " lacks its op, profile, archs or function");
  }
  return *table;
}

std::function<std::unique_ptr<DeviceCopies>()>& device_copies() {
  static std::function<std::unique_ptr<DeviceCopies>()> factory;
  return factory;
}

std::function<DeviceReferences()>& device_references() {
  static std::function<DeviceReferences()> factory;
  return factory;
}

// The references ULPGATE_DEVICE_REFERENCES asks for (none: the host's).
DeviceReferences requested_references() {
  const char* asked = std::getenv("ULPGATE_DEVICE_REFERENCES");
  if (!asked || !*asked) return {};
  if (std::string_view(asked) != "cuda")
    throw PluginError("ULPGATE_DEVICE_REFERENCES=" + std::string(asked) +
                      ": expected cuda (references on the CUDA device), or unset (references on the host)");
  if (!device_references())
    throw PluginError("ULPGATE_DEVICE_REFERENCES=cuda: this build computes references on the host only (built "
                      "without CUDA)");
  return device_references()();
}

// A GPU arch's calls take its backend's device memory (kernels/portable/arch.hpp); the host archs'
// take the harness's buffers.
std::string_view device_backend(std::string_view arch) { return arch_by_name(arch).backend; }
bool on_device(std::string_view arch) { return !device_backend(arch).empty(); }

class PluginBackend : public Backend {
 public:
  PluginBackend(std::string origin, const ulpgate_plugin& table, std::string arch)
      : path_(std::move(origin)), arch_(std::move(arch)), table_(table), references_(requested_references()) {}

  gemm::DeviceReference* gemm_reference() override { return references_.gemm.get(); }
  quant::DeviceReference* quant_reference() override { return references_.quant.get(); }
  norm::DeviceReference* norm_reference() override { return references_.norm.get(); }
  allreduce::DeviceReference* allreduce_reference() override { return references_.allreduce.get(); }

  std::string name() const override { return "plugin:" + std::string(table_.name ? table_.name : "unnamed") + "@" + arch_; }

  std::string declines(const quant::Spec& s) const override { return unclaimed(quant::op_name(s.op), s.profile->name); }
  std::string declines(const norm::Spec& s) const override { return unclaimed(norm::op_name(s.op), s.profile->name); }
  std::string declines(const gemm::Spec& s) const override { return unclaimed(gemm::op_name(s.op), s.profile->name); }
  std::string declines(const gemm::GroupedSpec& s) const override { return unclaimed(s.op_name(), s.base.profile->name); }
  std::string declines(const quant::GroupedSpec& s) const override { return unclaimed(s.op_name(), s.base.profile->name); }
  std::string declines(const allreduce::Spec& s) const override {
    if (on_device(arch_)) return "the plugin ABI carries an all-reduce's ranks in host memory only (host archs)";
    return unclaimed("allreduce", s.variant->name);
  }

  void quant(const quant::Spec& spec, Format input, std::span<const std::byte> x, std::span<uint8_t> codes,
             std::span<uint8_t> scales) override {
    OpCall call(std::string(quant::op_name(spec.op)), std::string(spec.profile->name), arch_);
    describe_quant(call, spec, input, x, codes, scales);
    invoke(call);
  }

  void grouped_quant(const quant::GroupedSpec& spec, Format input, std::span<const std::byte> x,
                     std::span<const int32_t> row_map, std::span<uint8_t> codes, std::span<uint8_t> scales) override {
    OpCall call(std::string(spec.op_name()), std::string(spec.base.profile->name), arch_);
    describe_grouped_quant(call, spec, input, x, row_map, codes, scales);
    invoke(call);
  }

  void norm(const norm::Spec& spec, const norm::Buffers& io) override {
    OpCall call(std::string(norm::op_name(spec.op)), std::string(spec.profile->name), arch_);
    describe_norm(call, spec, io);
    invoke(call);
  }

  GemmClaim gemm(const gemm::Spec& spec, const gemm::Buffers& io) override {
    OpCall call(std::string(gemm::op_name(spec.op)), std::string(spec.profile->name), arch_);
    describe_gemm(call, spec, io);
    const ulpgate_op& row = invoke(call);  // a row without a model: the order is identified
    return {row.model ? row.model : "", false, path_, arch_};
  }

  GemmClaim grouped_gemm(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io) override {
    OpCall call(std::string(spec.op_name()), std::string(spec.base.profile->name), arch_);
    describe_grouped_gemm(call, spec, io);
    const ulpgate_op& row = invoke(call);
    return {row.model ? row.model : "", false, path_, arch_};
  }

  // The row claims the variant, so the order its outputs follow is the variant's.
  AllreduceClaim allreduce(const allreduce::Spec& spec, std::span<const allreduce::RankBuffers> io) override {
    OpCall call("allreduce", std::string(spec.variant->name), arch_);
    describe_allreduce(call, spec, io);
    invoke(call);
    return {allreduce::resolved_order(spec), path_};
  }

 private:
  const ulpgate_op* find(std::string_view op, std::string_view profile) const {
    for (int32_t i = 0; i < table_.n_ops; ++i) {
      const ulpgate_op& row = table_.ops[i];
      if (row.op != op || row.profile != profile) continue;
      for (const std::string& a : split_commas(row.archs))
        if (a == arch_) return &row;
    }
    return nullptr;
  }

  // A device copy or the stream failing (a plugin kernel that faulted): the verdict error; a
  // write outside an output stays out-of-bounds.
  template <class Fn>
  void device_step(Fn fn) const {
    try {
      fn();
    } catch (const guard::OutOfBounds&) {
      throw;
    } catch (const std::runtime_error& e) {
      throw BackendError(path_ + ", on " + arch_ + ": " + e.what());
    }
  }

  std::string unclaimed(std::string_view op, std::string_view profile) const {
    return find(op, profile) ? "" : "it claims no " + std::string(op) + " with profile " + std::string(profile) + " on " + arch_;
  }

  // Calls the row claiming the call's op and profile; returns it.
  const ulpgate_op& invoke(OpCall& call) {
    std::unique_ptr<DeviceCopies> copies;
    if (on_device(arch_)) {
      const std::string backend(device_backend(arch_));
      if (!device_copies() || backend != "cuda")
        throw BackendError(path_ + ": rows for " + arch_ + " take " + backend + " device memory, which this ulpgate cannot provide");
      device_step([&] { copies = device_copies()(), call.to_device(*copies); });
    }
    const ulpgate_call& c = call.c();
    const ulpgate_op* row = find(c.op, c.profile);
    char message[1024] = "";
    const int rc = row->run(table_.state, &c, message, sizeof message);
    message[sizeof message - 1] = '\0';
    if (copies) device_step([&] { copies->finish(); });
    if (rc == ULPGATE_REFUSED)
      throw Refused(path_ + ", " + c.op + " (" + c.profile + ") refused the input: " + (message[0] ? message : "(no rule named)"));
    if (rc != 0)
      throw BackendError(path_ + ", " + c.op + " (" + c.profile + ") returned " + std::to_string(rc) + ": " +
                         (message[0] ? message : "(no message)"));
    return *row;
  }

  std::string path_, arch_;
  const ulpgate_plugin& table_;
  DeviceReferences references_;
};

}  // namespace

std::unique_ptr<Backend> load_plugin(std::string_view path, std::string_view arch) {
  return table_backend("plugin " + std::string(path), open_table(std::string(path)), arch);
}

void set_device_copies(std::function<std::unique_ptr<DeviceCopies>()> factory) { device_copies() = std::move(factory); }
void set_device_references(std::function<DeviceReferences()> factory) { device_references() = std::move(factory); }

std::unique_ptr<Backend> table_backend(std::string origin, const ulpgate_plugin& table, std::string_view arch) {
  return std::make_unique<PluginBackend>(std::move(origin), table, std::string(arch));
}

}  // namespace ulpgate::plugin
