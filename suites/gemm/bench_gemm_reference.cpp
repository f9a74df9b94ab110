// Seconds of the GEMM reference on the shapes the brief names: the ideal and every model's replay
// of a block-scaled e4m3 GEMM (fp32 scales) at 1024^3 and at DeepSeek's M=128, N=7168, K=2048.
// A benchmark, not a test: `bench_gemm_reference [model...]` (default: every model).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <tuple>

#include "gemm_test_util.hpp"

using namespace gemm_test;

namespace {

template <class Fn>
double seconds(Fn fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) names.emplace_back(argv[i]);
  if (names.empty())
    for (const AccumModel& m : models()) names.emplace_back(m.name);
  for (auto [m, n, k] : {std::tuple{1024, 1024, 1024}, {128, 7168, 2048}}) {
    const Spec s = make_spec(Op::block, "cublaslt", m, n, k, Format::e4m3fn, Format::e4m3fn, Format::bf16);
    const Operands in = random_operands(s, 1, Data::normal);
    std::printf("gemm.block e4m3fn %dx%dx%d, %u threads\n", m, n, k, std::thread::hardware_concurrency());
    std::printf("  %-16s %6.2f s\n", "ideal", seconds([&] { gemm_ideal(s, in); }));
    for (const std::string& name : names) {
      std::printf("  %-16s %6.2f s", name.c_str(), seconds([&] { gemm_model(s, model(name), in); }));
      std::printf("   (with bounds %.2f s)\n", seconds([&] { gemm_replay(s, model(name), in); }));
    }
  }
}
