// Throughput of the quantization reference on one core (issue targets: profile-exact >= 100 M
// elements/s, ideal >= 20 M elements/s). A benchmark, not a test: prints a table, exits 1 when a
// row misses its target. Each rate is reported by wall time and by CPU time; the targets are per
// core, so CPU time decides (wall time also counts the time other processes held the core).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "harness/quant/quant_case.hpp"

using namespace ulpgate;
using namespace ulpgate::quant;

namespace {

struct Timing {
  double wall_s = 1e30, cpu_s = 1e30;  // best of the repetitions, each
};

template <class Fn>
Timing best_of(int reps, Fn&& fn) {
  Timing best;
  for (int i = 0; i < reps; ++i) {
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
    best.wall_s = std::min(best.wall_s, wall);
    best.cpu_s = std::min(best.cpu_s, cpu);
  }
  return best;
}

// "wall / cpu M el/s" and whether the CPU-time rate meets the target.
bool print_rates(double n, const Timing& t, double target) {
  const double wall = n / t.wall_s / 1e6, cpu = n / t.cpu_s / 1e6;
  std::printf(" %7.1f %7.1f %s", wall, cpu, cpu >= target ? "pass" : "FAIL");
  return cpu >= target;
}

}  // namespace

int main() {
  const char* ids[] = {
      "quant.group/vllm/e4m3fn/bf16/2048x7168/gs128/row/normal_sigma=2/s1",
      "quant.group/sglang/e4m3fn/bf16/2048x7168/gs128/ue8m0-packed/normal_sigma=2/s1",
      "quant.mx/te/e4m3fn/bf16/2048x7168/gs32/mx-swizzle-128x4/normal_sigma=2/s1",
  };
  std::printf("%-78s %-20s %-20s\n", "case (one thread, best of 5; M elements/s)", " profile: wall   cpu",
              " ideal:   wall   cpu");
  bool ok = true;
  for (const char* id : ids) {
    const Case c = Case::parse(id);
    const Inputs in = c.inputs();
    const double n = double(in.values.size());
    Result r;
    const Timing tp = best_of(5, [&] { r = quantize_profile(c.spec, in.values); });
    std::vector<uint8_t> ideal;
    const Timing ti = best_of(5, [&] { ideal = quantize_ideal(c.spec, in.values, r.scales); });
    std::printf("%-78s", id);
    ok = print_rates(n, tp, 100) && ok;
    ok = print_rates(n, ti, 20) && ok;
    std::printf("\n");
  }
  std::printf("targets (by CPU time): profile-exact >= 100 M elements/s per core, ideal >= 20 per core\n");
  return ok ? 0 : 1;
}
