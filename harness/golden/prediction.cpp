#include "harness/golden/prediction.hpp"

#include <set>

#include "kernels/portable/arch.hpp"
#include "kernels/portable/arch_facts.hpp"
#include "reference/gemm/model.hpp"

namespace ulpgate {

namespace {

const Arch* hardware_arch(std::string_view name) {
  for (const Arch& a : kAllArches)
    if (a.name == name && a.hardware) return &a;
  return nullptr;
}

bool concerns(const ArchFact& f, std::string_view arch, std::string_view family) {
  return f.arch == arch && (f.family.empty() || f.family == family);
}

}  // namespace

bool is_prediction(const Provenance& p) {
  return p.source == GoldenSource::emulation && hardware_arch(p.arch);
}

bool predicts_hardware(std::string_view arch) { return hardware_arch(arch) != nullptr; }

std::vector<std::string> prediction_backends(std::string_view arch) {
  if (arch_by_name(arch).vendor_profile.empty()) return {"host"};
  return {"host", "model"};
}

std::string predicted_backend(const std::string& emulation, std::string_view arch) {
  const Arch& a = arch_by_name(arch);
  if (!a.hardware) return "";
  const std::string at = "@" + std::string(a.name);
  return emulation == "host" ? std::string(a.backend) + at : emulation == "model" ? "vendor" + at : "";
}

std::vector<std::string> prediction_notes(std::string_view arch, std::string_view family) {
  std::vector<std::string> notes = {"prediction for " + std::string(arch) +
                                    ": the host emulation at its semantics; rows hold what " +
                                    predicted_backend("host", arch) + " is expected to produce" +
                                    (family == "gemm" && prediction_backends(arch).size() > 1
                                         ? " and, from the vendor library's accumulator model, vendor@" + std::string(arch)
                                         : "")};
  for (const ArchFact& f : arch_facts())
    if (concerns(f, arch, family))
      notes.push_back(f.source.empty() ? "assumption (" + std::string(f.cause) + "): " + std::string(f.fact)
                                       : "fact: " + std::string(f.fact) + " [" + std::string(f.source) + "]");
  if (family == "gemm")  // every model row of the arch, with what validated it
    for (const gemm::AccumModel& m : gemm::models()) {
      if (m.arch != arch) continue;
      const std::string vendor =
          prediction_backends(arch).size() > 1
              ? ". The vendor rows replay it, for every case of the " + std::string(arch_by_name(arch).vendor_profile) +
                    " profiles the model can take (which of them the library runs on " + std::string(arch) +
                    " is not known)"
              : ". Vendor rows are not predicted (no profile of this arch's vendor library in the catalog): they "
                "arrive as new rows";
      const std::string row = "accumulator model '" + std::string(m.name) + "' (reference/gemm/model.cpp): " +
                              std::string(m.source) + vendor;
      notes.push_back(m.validated ? "fact: " + row + " [" + std::string(m.validation) + "]"
                                  : "assumption (accumulator): " + row + " [" + std::string(m.validation) + "]");
    }
  return notes;
}

std::string deviation_cause(std::string_view arch, std::string_view family, const GateEntry& e,
                            std::string_view verdict) {
  if (e.cls == GateClass::regression) return "regression: " + std::string(verdict);
  if (e.cls != GateClass::prediction_missed) return std::string(gate_class_name(e.cls));
  std::set<std::string_view> causes;
  for (const ArchFact& f : arch_facts())
    if (concerns(f, arch, family) && f.source.empty()) causes.insert(f.cause);
  if (family == "gemm")
    for (const gemm::AccumModel& m : gemm::models())
      if (m.arch == arch && !m.validated) causes.insert("accumulator");
  std::string s;
  for (std::string_view c : causes) s += (s.empty() ? "" : " or ") + std::string(c);
  return s.empty() ? "unexplained (no assumption of " + std::string(arch) + " concerns " + std::string(family) + ")" : s;
}

}  // namespace ulpgate
