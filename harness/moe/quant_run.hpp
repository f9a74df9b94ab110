// Runs one moe.quant case on a backend: the grouped kernel once over all experts, then each
// expert's tokens judged as its own dense quantization case (harness/quant/compare.hpp, with its
// diagnosis), its reference made then and dropped; the rows that are not tokens checked untouched
// and the layout's padding bytes as defined; a failing expert's codes or scales looked for where a
// grouped kernel's mistakes put them (rows an alignment or a slot away: another expert's place).
// Messages name the expert and its rows.
#pragma once

#include "harness/core/backend.hpp"
#include "harness/core/case_result.hpp"
#include "harness/moe/quant_case.hpp"

namespace ulpgate::moe {

CaseResult run_quant_case(const QuantCase& c, Backend& backend);

// Host bytes one case needs: the kernel's input, its codes and scale storage (with the layout's
// frame), and one expert at a time judged as its dense case (the dense family's 32 bytes an
// element: its fp32 values, expected, ideal and actual codes, and its diagnosis).
double quant_host_bytes(const QuantCase& c);

}  // namespace ulpgate::moe
