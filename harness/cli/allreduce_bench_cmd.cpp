#include "harness/cli/allreduce_bench.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "harness/build_info.hpp"
#include "harness/cli/command.hpp"
#include "harness/golden/golden_update.hpp"
#include "harness/report/svg.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "harness/allreduce/fused_case.hpp"
#include "kernels/allreduce/allreduce_gpu.hpp"
#include "kernels/quant/quant_bench.hpp"
#endif

namespace ulpgate::cli {
#if defined(ULPGATE_HAVE_CUDA)
namespace {

// One row: an implementation at one size on `world` GPUs (bf16, exactly summable inputs filled on
// the devices, out of place; the custom kernels read registered inputs, as under CUDA graphs).
struct AllreduceRow {
  std::string impl;  // "custom", "nccl"; the fused table's "rms:fused-1shot", "rms:nccl+norm", ...
  int world;
  int64_t bytes;  // the all-reduced message
  double us;
  int64_t wrong;
  double algbw() const { return double(bytes) / (us * 1e3); }  // GB/s, GB = 1e9 B
  double busbw() const { return algbw() * 2.0 * (world - 1) / world; }
};

// The custom kernel must be at least as fast as NCCL up to this size (issue 15).
constexpr int64_t kCustomTargetBytes = int64_t(1) << 20;

// The smallest size from which ours is behind at every larger size (-1: ahead at the largest).
int64_t crossover(const std::vector<std::pair<int64_t, bool>>& size_and_ahead) {
  int64_t from = -1;
  for (const auto& [bytes, ahead] : size_and_ahead) from = ahead ? -1 : from < 0 ? bytes : from;
  return from;
}

std::string crossover_line(const std::string& what, int world, int64_t from) {
  return "# crossover " + what + " w" + std::to_string(world) + ": " +
         (from < 0 ? std::string("none (ahead at every size)") : "behind from " + std::to_string(from) + " bytes on") + "\n";
}

// Custom beside NCCL, 16 B to 1 GiB: rows in pairs.
std::vector<AllreduceRow> allreduce_rows(allreduce_kernels::GpuWorld& gpus, int world, std::string& crossovers) {
  std::vector<AllreduceRow> rows;
  std::vector<std::pair<int64_t, bool>> ahead;
  for (int64_t bytes = 16; bytes <= (int64_t(1) << 30); bytes *= 2) {
    const int iterations = int(std::clamp<int64_t>((int64_t(4) << 30) / bytes, 10, 1000));
    const auto custom = gpus.time_custom(world, bytes, iterations);
    const auto nccl = gpus.time_nccl(world, bytes, iterations);
    rows.push_back({"custom", world, bytes, custom.seconds * 1e6, custom.wrong});
    rows.push_back({"nccl", world, bytes, nccl.seconds * 1e6, nccl.wrong});
    ahead.emplace_back(bytes, custom.seconds <= nccl.seconds);
  }
  crossovers += crossover_line("custom vs nccl", world, crossover(ahead));
  return rows;
}

// The fused ops at 1 to 16384 tokens of DeepSeek-V3's hidden size, bf16 weights (the unfused norm
// kernels take no fp32 weights): NCCL + norm, then the one-shot and two-shot fused kernels.
constexpr const char* kFusedCases[][2] = {
    {"rms", "allreduce.rms/flashinfer-%s/w%d/bf16/%lldx7168/w.bf16/normal/s1"},
    {"rms-quant", "allreduce.rms-quant/flashinfer-%s/w%d/bf16/%lldx7168/w.bf16/e4m3fn/token/normal/s1"},
};

allreduce::FusedSpec fused_spec(const char* pattern, const char* sharding, int world, int64_t tokens) {
  char id[200];
  std::snprintf(id, sizeof id, pattern, sharding, world, (long long)tokens);
  return allreduce::FusedCase::parse(id).spec;
}

std::vector<AllreduceRow> fused_rows(allreduce_kernels::GpuWorld& gpus, int world, std::string& crossovers) {
  std::vector<AllreduceRow> rows;
  for (const auto& [op, pattern] : kFusedCases) {
    std::vector<std::pair<int64_t, bool>> ahead;
    for (int64_t tokens = 1; tokens <= 16384; tokens *= 2) {
      const allreduce::FusedSpec one = fused_spec(pattern, "1shot", world, tokens), two = fused_spec(pattern, "2shot", world, tokens);
      const int64_t bytes = one.sum_spec().bytes();
      const int iterations = int(std::clamp<int64_t>((int64_t(1) << 30) / bytes, 10, 500));
      const auto unfused = gpus.time_unfused(one, iterations);
      const auto t1 = gpus.time_fused(one, iterations), t2 = gpus.time_fused(two, iterations);
      rows.push_back({std::string(op) + ":nccl+norm", world, bytes, unfused.seconds * 1e6, unfused.wrong});
      rows.push_back({std::string(op) + ":fused-1shot", world, bytes, t1.seconds * 1e6, t1.wrong});
      rows.push_back({std::string(op) + ":fused-2shot", world, bytes, t2.seconds * 1e6, t2.wrong});
      ahead.emplace_back(bytes, std::min(t1.seconds, t2.seconds) <= unfused.seconds);
    }
    crossovers += crossover_line(std::string(op) + " fused (the faster of 1shot, 2shot) vs nccl+norm", world, crossover(ahead));
  }
  return rows;
}

// "pass"/"FAIL" for a custom row up to the target size (against the NCCL row after it), "-" else.
std::string custom_target(const std::vector<AllreduceRow>& rows, size_t i) {
  const AllreduceRow& r = rows[i];
  if (r.impl != "custom" || r.bytes > kCustomTargetBytes) return "-";
  return r.us <= rows[i + 1].us ? "pass" : "FAIL";
}

void write_header(std::ofstream& f, const std::string& crossovers) {
  const quant_kernels::BenchDevice dev = quant_kernels::bench_device();
  f << "# ulpgate bench, all-reduce (the NCCL test tool's table): bf16 sum, out of place, exactly summable inputs "
       "(the result must be bit-exact: wrong counts elements that are not); time = mean over back-to-back calls; "
       "algbw = bytes / time; busbw = algbw * 2(n-1)/n; GB = 1e9 B; custom: one-shot or two-shot by the selection "
       "rule, inputs registered; nccl: NCCL_NVLS_ENABLE=0; target: custom time <= nccl time up to 1 MiB. "
       "rms / rms-quant (allreduce.rms, allreduce.rms-quant per-token e4m3fn, tokens x 7168, bf16 weights, residual zero: "
       "wrong counts written-back residual elements that are not the exact sum): fused-1shot / fused-2shot, one kernel "
       "per rank, against nccl+norm, NCCL's all-reduce then norm.rms-add(-quant) on every rank; bytes = the message\n"
    << "# arch=sm" << dev.sm_major << dev.sm_minor << "\n# source=hardware\n# device=" << dev.name << " x "
    << allreduce_kernels::gpu_count() << "\n# driver=CUDA " << dev.driver << "\n# toolkit=CUDA " << dev.runtime
    << "\n# suite_version=" << suite_version() << "\n# commit=" << suite_commit() << "\n# date=" << today_utc() << "\n"
    << crossovers << "impl,world,size,count,type,time_us,algbw,busbw,wrong,verdict,target\n";
}

}  // namespace

int run_allreduce_bench(const std::vector<int>& worlds, const std::string& csv) {
  std::vector<AllreduceRow> rows;
  std::string crossovers;
  allreduce_kernels::GpuWorld gpus(int64_t(1) << 30);
  for (int w : worlds) {
    if (w > allreduce_kernels::gpu_count()) {
      std::printf("allreduce bench: world %d skipped: %d GPUs present\n", w, allreduce_kernels::gpu_count());
      continue;
    }
    for (const auto& part : {allreduce_rows(gpus, w, crossovers), fused_rows(gpus, w, crossovers)})
      rows.insert(rows.end(), part.begin(), part.end());
  }
  if (rows.empty()) {
    std::fprintf(stderr, "ulpgate bench --allreduce: no world size fits the %d GPUs present\n", allreduce_kernels::gpu_count());
    return kInfra;
  }
  bool pass = true;
  std::ofstream f;
  if (!csv.empty()) {
    f.open(csv);
    if (!f) throw std::runtime_error("bench: cannot open " + csv + " for writing");
    write_header(f, crossovers);
  }
  std::printf("%-22s %5s %12s %11s %5s %11s %9s %9s %7s %8s %6s\n", "impl", "world", "size", "count", "type", "time us",
              "algbw", "busbw", "#wrong", "verdict", "target");
  for (size_t i = 0; i < rows.size(); ++i) {
    const AllreduceRow& r = rows[i];
    const std::string target = custom_target(rows, i), verdict = r.wrong ? "FAIL" : "exact";
    pass = pass && target != "FAIL" && !r.wrong;
    std::printf("%-22s %5d %12lld %11lld %5s %11.2f %9.2f %9.2f %7lld %8s %6s\n", r.impl.c_str(), r.world, (long long)r.bytes,
                (long long)(r.bytes / 2), "bf16", r.us, r.algbw(), r.busbw(), (long long)r.wrong, verdict.c_str(), target.c_str());
    if (f.is_open())
      f << r.impl << "," << r.world << "," << r.bytes << "," << r.bytes / 2 << ",bf16," << fixed_number(r.us, 2) << ","
        << fixed_number(r.algbw(), 2) << "," << fixed_number(r.busbw(), 2) << "," << r.wrong << "," << verdict << "," << target << "\n";
  }
  std::printf("%s", crossovers.c_str());
  if (f.is_open()) std::printf("wrote %s\n", csv.c_str());
  return pass ? kPass : kFail;
}
#else
int run_allreduce_bench(const std::vector<int>&, const std::string&) {
  std::fprintf(stderr, "ulpgate bench --allreduce: this build has no CUDA support\n");
  return kInfra;
}
#endif

}  // namespace ulpgate::cli
