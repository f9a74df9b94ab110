// Predicted golden files: golden/<arch> for a GPU architecture, produced by the host emulation at
// that arch's semantics (kernels/portable/arch.hpp) before its hardware is at hand. Their rows
// carry the backend the hardware will run (hip@gfx942, cuda@sm100), their headers the facts and
// assumptions the prediction rests on (kernels/portable/arch_facts.hpp, and the GEMM accumulator
// models marked unvalidated), and the gate reports a differing digest as "prediction missed".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/golden/gate.hpp"
#include "harness/golden/golden_file.hpp"

namespace ulpgate {

// An emulated file of a hardware arch: what the hardware is expected to do, not what it did.
bool is_prediction(const Provenance& p);

// Whether golden/<arch> of this arch is a prediction when produced on the host (a hardware arch).
bool predicts_hardware(std::string_view arch);

// The host's emulation of a GPU arch: its kernels (host) and, where the arch's vendor library has
// profiles in the catalog, that library's accumulator model (model).
std::vector<std::string> prediction_backends(std::string_view arch);

// The backend an emulation backend's rows predict: host -> the arch's GPU backend ("hip@gfx942",
// "cuda@sm100"), model -> "vendor@sm100"; "" for any other backend and for a host arch.
std::string predicted_backend(const std::string& emulation, std::string_view arch);

// The header lines of arch's predicted <family>.csv: "fact: ... [source]" and
// "assumption (cause): ...", the vendor GEMM models among them.
std::vector<std::string> prediction_notes(std::string_view arch, std::string_view family);

// What a deviation of the gate is grouped under in a sign-off: a missed prediction under the causes
// its family's assumptions name ("rsqrt", "accumulator", ...); a regression under its verdict; a
// drift from hardware observations, new and missing rows under their class.
std::string deviation_cause(std::string_view arch, std::string_view family, const GateEntry& e,
                            std::string_view verdict);

}  // namespace ulpgate
