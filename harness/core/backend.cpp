#include "harness/core/backend.hpp"

#include <map>

namespace ulpgate {
namespace {
std::map<std::string, BackendFactory, std::less<>>& registry() {
  static std::map<std::string, BackendFactory, std::less<>> r;
  return r;
}
std::map<std::string, ArgumentFactory, std::less<>>& kinds() {
  static std::map<std::string, ArgumentFactory, std::less<>> r;
  return r;
}
}  // namespace

GemmClaim Backend::grouped_gemm_streamed(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io,
                                         const gemm::ExpertWeights& weights) {
  const int64_t experts = spec.experts();
  std::vector<uint8_t> b(size_t(experts * spec.base.n * spec.base.k)), sb(size_t(experts * weights.sb_bytes));
  weights.fill(0, experts, b, sb);
  gemm::GroupedBuffers whole = io;
  whole.b = b, whole.sb = sb;
  return grouped_gemm(spec, whole);
}

void register_backend(std::string name, BackendFactory factory) { registry()[std::move(name)] = std::move(factory); }
void register_backend_kind(std::string kind, ArgumentFactory factory) { kinds()[std::move(kind)] = std::move(factory); }

std::string backend_names() {
  std::string s;
  for (auto& [n, f] : registry()) s += (s.empty() ? "" : ", ") + n;
  for (auto& [n, f] : kinds()) s += (s.empty() ? "" : ", ") + n + ":PATH";
  return s;
}

std::unique_ptr<Backend> make_backend(std::string_view name, std::string_view arch) {
  if (const size_t colon = name.find(':'); colon != std::string_view::npos)
    if (const auto kind = kinds().find(name.substr(0, colon)); kind != kinds().end())
      return kind->second(name.substr(colon + 1), arch);
  const auto it = registry().find(name);
  if (it == registry().end())
    throw UsageError("unknown backend '" + std::string(name) + "' (available: " + backend_names() + ")");
  return it->second(arch);
}

}  // namespace ulpgate
