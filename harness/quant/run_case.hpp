// Runs one quantization case on a backend: generate, reference, poison, run, compare, digest.
#pragma once

#include "harness/core/backend.hpp"
#include "harness/quant/compare.hpp"

namespace ulpgate::quant {

struct CaseRun {
  Inputs inputs;
  Expected expected;
  std::vector<uint8_t> codes, storage;  // what the backend wrote
  CaseResult result;
};

CaseRun run_case(const Case& c, Backend& backend);

}  // namespace ulpgate::quant
