#include "harness/core/backend.hpp"

#include <map>

namespace ulpgate {
namespace {
std::map<std::string, BackendFactory, std::less<>>& registry() {
  static std::map<std::string, BackendFactory, std::less<>> r;
  return r;
}
}  // namespace

void register_backend(std::string name, BackendFactory factory) { registry()[std::move(name)] = std::move(factory); }

std::string backend_names() {
  std::string s;
  for (auto& [n, f] : registry()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::unique_ptr<Backend> make_backend(std::string_view name, std::string_view arch) {
  const auto it = registry().find(name);
  if (it == registry().end())
    throw UsageError("unknown backend '" + std::string(name) + "' (available: " + backend_names() + ")");
  return it->second(arch);
}

}  // namespace ulpgate
