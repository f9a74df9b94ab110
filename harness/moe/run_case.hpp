// The moe family: moe.gemm (below) and moe.quant (quant_run.hpp).
// Runs one moe.gemm case on a backend: the grouped kernel once over all experts, then each
// expert's rows judged as its own dense GEMM (harness/gemm/compare.hpp, with its diagnosis), the
// rows that are not tokens checked untouched, and a failing expert's outputs tested against the
// grouped kernel's own mistakes: another expert's weights or B scales, rows read at an offset
// (a neighbour's tokens, padding), not-token rows written. Messages name the expert and its rows.
#pragma once

#include <string_view>

#include "harness/core/backend.hpp"
#include "harness/core/family.hpp"
#include "harness/moe/moe_case.hpp"
#include "harness/report/bundle.hpp"

namespace ulpgate::moe {

CaseResult run_case(const Case& c, Backend& backend);

// The family's entry points (harness/core/family.hpp).
std::vector<std::string> catalog_ids(Tier tier);
CaseResult run_case_id(std::string_view id, Backend& backend, std::vector<BundleTensor>* tensors);
double host_bytes(std::string_view id);
std::string canonical_id(std::string_view id);  // moe.gemm* and moe.quant* ids

}  // namespace ulpgate::moe
