// Throughput of the quantization reference on one core (issue targets: profile-exact >= 100 M
// elements/s, ideal >= 20 M elements/s). A benchmark, not a test: prints a table, exits 1 when a
// row misses its target.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "harness/quant/quant_case.hpp"

using namespace ulpgate;
using namespace ulpgate::quant;

namespace {

template <class Fn>
double best_seconds(int reps, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main() {
  const char* ids[] = {
      "quant.group/vllm/e4m3fn/bf16/2048x7168/gs128/row/normal_sigma=2/s1",
      "quant.group/sglang/e4m3fn/bf16/2048x7168/gs128/ue8m0-packed/normal_sigma=2/s1",
      "quant.mx/te/e4m3fn/bf16/2048x7168/gs32/mx-swizzle-128x4/normal_sigma=2/s1",
  };
  std::printf("%-78s %14s %14s\n", "case (one core, best of 5)", "profile M el/s", "ideal M el/s");
  bool ok = true;
  for (const char* id : ids) {
    const Case c = Case::parse(id);
    const Inputs in = c.inputs();
    const double n = double(in.values.size());
    Result r;
    const double tp = best_seconds(5, [&] { r = quantize_profile(c.spec, in.values); });
    std::vector<uint8_t> ideal;
    const double ti = best_seconds(5, [&] { ideal = quantize_ideal(c.spec, in.values, r.scales); });
    const double mp = n / tp / 1e6, mi = n / ti / 1e6;
    ok = ok && mp >= 100 && mi >= 20;
    std::printf("%-78s %9.1f %s %9.1f %s\n", id, mp, mp >= 100 ? "pass" : "FAIL", mi, mi >= 20 ? "pass" : "FAIL");
  }
  std::printf("targets: profile-exact >= 100 M elements/s per core, ideal >= 20 M elements/s per core\n");
  return ok ? 0 : 1;
}
