// `ulpgate bench`: the quantization and RMSNorm kernels' effective bandwidth on a CUDA device, as
// a fraction of the device's copy bandwidth measured in the same run (issue 4, "Performance";
// issue 5 adds the norm rows); the GEMM reference's exact ideal + comparison and its sm90 model
// replay against time targets, beside the kernel under test (cuBLASLt) timed on the same shape in
// the same run (issue 14). A benchmark result, not a test: exit 1 when a row misses its target;
// exit 3 without CUDA support or device.
#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "harness/build_info.hpp"
#include "harness/cli/allreduce_bench.hpp"
#include "harness/cli/command.hpp"
#include "harness/allreduce/compare.hpp"
#include "harness/allreduce/fused_case.hpp"
#include "harness/gemm/gemm_case.hpp"
#include "harness/moe/moe_case.hpp"
#include "harness/moe/quant_case.hpp"
#include "harness/golden/golden_update.hpp"
#include "harness/report/svg.hpp"
#include "harness/quant/quant_case.hpp"
#include "harness/report/html_report.hpp"
#include "kernels/norm/norm_plan.hpp"
#include "kernels/norm/reference_plan.hpp"
#include "kernels/portable/arch.hpp"
#include "kernels/quant/quant_plan.hpp"
#include "reference/gemm/model.hpp"
#include "reference/norm/profile.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/allreduce/fused_gpu.hpp"
#include "kernels/allreduce/reference_gpu.hpp"
#include "kernels/gemm/cublaslt.hpp"
#include "kernels/gemm/reference_gpu.hpp"
#include "kernels/norm/norm_bench.hpp"
#include "kernels/norm/reference_gpu.hpp"
#include "kernels/quant/quant_bench.hpp"
#include "kernels/quant/reference_gpu.hpp"
#endif

namespace ulpgate::cli {
namespace {

void write_bench_html(const std::string& path, BenchTable table) {
  std::string device;
  for (const auto& [k, v] : table.provenance)
    if (k == "device") device = v;
  HtmlReport page;  // the bench section shows the table's provenance
  page.title = "ulpgate bench" + (device.empty() ? "" : " " + device);
  page.bench = std::move(table);
  write_html(path, page);
  std::printf("wrote %s\n", path.c_str());
}

// `bench --from CSV`: an earlier run's table, printed and drawn.
int show_bench(const std::string& from, const std::string& html) {
  std::ifstream in(from);
  if (!in) throw UsageError("bench --from: cannot read '" + from + "'");
  std::stringstream text;
  text << in.rdbuf();
  const BenchTable table = parse_bench_csv(text.str(), from);
  std::printf("%-76s %10s %9s %7s  %s\n", "case", "median us", "GB/s", "% copy", "result");
  for (const BenchRow& r : table.rows)
    std::printf("%-76s %10.1f %9s %7s  %s\n", r.id.c_str(), r.median_us, r.gbps < 0 ? "-" : std::to_string(int(r.gbps)).c_str(),
                r.pct_copy < 0 ? "-" : (std::to_string(int(r.pct_copy + 0.5)) + "%").c_str(), r.result.c_str());
  if (!html.empty()) write_bench_html(html, table);
  return kPass;
}

// Each row names a case; only its spec and input dtype matter here (the bench fills the input
// on the device, so the distribution and seed segments are not used). Target: fraction of copy.
struct BenchCase {
  const char* id;
  double target;
};
constexpr BenchCase kBenchCases[] = {
    {"quant.group/vllm/e4m3fn/bf16/32768x7168/gs128/row/normal/s1", 0.85},
    {"quant.group/vllm/e4m3fn/bf16/32768x7168/gs128/ue8m0-packed/normal/s1", 0.85},
    {"quant.mx/te/e4m3fn/bf16/32768x7168/gs32/mx-swizzle-128x4/normal/s1", 0.80},
    {"quant.mx/ocp-mx/e4m3fn/bf16/32768x7168/gs32/mx-row/normal/s1", 0.80},
    {"quant.tensor/vllm/e4m3fn/bf16/32768x7168/dynamic/row/normal/s1", 0.85},
    {"quant.tensor/vllm/e4m3fn/bf16/32768x7168/static=0.0123/row/normal/s1", 0.85},
    {"quant.tensor/te/e4m3fn/bf16/32768x7168/dynamic/row/normal/s1", 0.85},
    {"quant.silu-mul/vllm/e4m3fn/bf16/32768x7168/gs128/col-tma/normal/s1", 0.85},
    // SGLang's and TransformerEngine's steps (y rounded to bf16 for the codes, and for the amax in
    // TE's) take the kernel's runtime-profile path: reported beside vLLM's native path, no target.
    {"quant.silu-mul/sglang/e4m3fn/bf16/32768x7168/gs128/col-tma/normal/s1", -1},
    {"quant.silu-mul/te/e4m3fn/bf16/32768x7168/gs32/mx-swizzle-128x4/normal/s1", -1},
    // DeepSeek-V3's MoE layer: 4096 prefill tokens routed top-8 over 256 experts into the
    // grouped GEMMs' layouts (each expert's run padded to 128 rows, which the kernel skips), and
    // the decode batch's 256 routed tokens (latency: no target).
    {"quant.group/deepgemm/e4m3fn/bf16/32768x7168/gs128/col-tma/normal/s1", -1},  // the same tokens, dense
    {"moe.quant/deepgemm/e4m3fn/bf16/contiguous/256x32768x7168/gs128/col-tma/normal/s1", 0.85},
    {"moe.quant-mx/ocp-mx/e4m3fn/bf16/contiguous/256x32768x7168/gs32/mx-swizzle-128x4/normal/s1", 0.80},
    {"moe.quant/deepgemm/e4m3fn/bf16/masked/256x256x7168/gs128/col-tma/normal/s1", -1},
};

// The device references' target: half the copy bandwidth on the bytes the kernel they judge moves.
constexpr double kReferenceTarget = 0.5;

struct Planned {
  std::string id;
  double target;  // < 0: no target
  quant_kernels::QuantPlan plan;
  std::size_t x_bytes, codes_bytes, scale_bytes;
  std::size_t moved;               // read + written (a dynamic per-tensor scale reads x twice)
  std::vector<int32_t> row_map;    // a grouped op's
};

// RMSNorm rows: named by their case ids (the spec is written out here, not parsed from them).
struct NormBenchCase {
  const char* id;
  norm::Op op;
  int gs;
  quant::Layout layout;
  double target;
};
constexpr NormBenchCase kNormBenchCases[] = {
    {"norm.rms/vllm/bf16/32768x7168/normal/s1", norm::Op::rms, 0, quant::Layout::token, 0.90},
    {"norm.rms-add/vllm/bf16/32768x7168/normal/s1", norm::Op::rms_add, 0, quant::Layout::token, 0.90},
    {"norm.rms-quant/vllm/bf16/32768x7168/e4m3fn/gs128/ue8m0-packed/normal/s1", norm::Op::rms_quant, 128,
     quant::Layout::ue8m0_packed, 0.85},
};

// GEMM rows: the reference's exact ideal + comparison and its replay of the sm90 model of the
// case's profile, with time targets (issue 30: 30 ms and 100 ms at 8192^3), the replay with its
// error bound (what run_case uses), and the kernel under test on the same shape.
struct GemmBenchCase {
  const char* id;
  double ideal_compare_target_ms, replay_target_ms;
};
constexpr GemmBenchCase kGemmBenchCases[] = {
    {"gemm.block/cublaslt/e4m3fn.e4m3fn/bf16/8192x8192x8192/normal/s1", 30, 100},
};

// The GPU reference on DeepSeek-V3's MoE layer (the decode batch: 256 tokens routed top-8 over
// 256 experts, the gate/up GEMM): the grouped reference is the dense one per expert, so its time is
// the experts' ideal + comparison and sm90 replay, each timed on its own shape, summed.
constexpr const char* kMoeReferenceCases[] = {"moe.gemm/deepgemm/e4m3fn.e4m3fn/bf16/contiguous/256x256x4096x7168/normal/s1"};

std::vector<moe::Case> plan_moe_reference_cases(const std::string& filter) {
  std::vector<moe::Case> out;
  for (const char* id : kMoeReferenceCases)
    if (fnmatch(filter.c_str(), id, 0) == 0) out.push_back(moe::Case::parse(id));
  return out;
}

std::vector<std::pair<GemmBenchCase, gemm::Spec>> plan_gemm_cases(const std::string& filter) {
  std::vector<std::pair<GemmBenchCase, gemm::Spec>> out;
  for (const GemmBenchCase& b : kGemmBenchCases)
    if (fnmatch(filter.c_str(), b.id, 0) == 0) out.push_back({b, gemm::Case::parse(b.id).spec});
  return out;
}

struct PlannedNorm {
  std::string id;
  double target;
  norm::Spec spec;
  norm_kernels::NormPlan plan;
  norm_kernels::NormSizes sizes;
};

norm::Spec norm_spec(const NormBenchCase& b) {
  norm::Spec s;
  s.op = b.op;
  s.profile = &norm::profile("vllm");
  s.dtype = Format::bf16;
  s.m = 32768;
  s.h = 7168;
  s.format = Format::e4m3fn;
  s.gs = b.gs;
  s.layout = b.layout;
  s.ue8m0 = quant::is_ue8m0_layout(b.layout);
  return s;
}

// The norm bench cases the filter selects, planned for sm90 (which also checks their sizes).
std::vector<PlannedNorm> plan_norm_cases(const std::string& filter) {
  std::vector<PlannedNorm> out;
  for (const NormBenchCase& b : kNormBenchCases) {
    if (fnmatch(filter.c_str(), b.id, 0) != 0) continue;
    const norm::Spec spec = norm_spec(b);
    const norm_kernels::NormSizes sizes = norm_kernels::required_sizes(spec);
    out.push_back({b.id, b.target, spec, norm_kernels::plan_norm(spec, kSm90, sizes), sizes});
  }
  return out;
}

// A grouped case: the kernel reads and writes the tokens' rows only (and m_indices), padding and
// masked rows not.
Planned plan_grouped(const BenchCase& b) {
  const moe::QuantCase c = moe::QuantCase::parse(b.id);
  const std::vector<int32_t> map = c.spec.layout == moe::GroupLayout::masked ? c.spec.masked_m() : c.spec.row_experts();
  const std::size_t elem = c.input == Format::fp32 ? 4 : 2, rows = std::size_t(c.spec.rows()), k = std::size_t(c.spec.base.k);
  const std::size_t x = rows * k * elem, scales = std::size_t(c.spec.scale_bytes()), tokens = std::size_t(c.tokens);
  const std::size_t moved = tokens * k * (elem + 1) + tokens * std::size_t(c.spec.groups()) * (quant::is_ue8m0_layout(c.spec.base.layout) ? 1 : 4) +
                            map.size() * 4;
  return {c.id(), b.target,
          quant_kernels::plan_grouped_quant(c.spec, c.input, kSm90, x, rows * k, scales, map.size()),
          x, rows * k, scales, moved, map};
}

// The bench cases the filter selects, planned for sm90 (which also checks their sizes).
std::vector<Planned> plan_cases(const std::string& filter) {
  std::vector<Planned> out;
  for (const BenchCase& b : kBenchCases) {
    if (std::string_view(b.id).starts_with("moe.")) {
      if (fnmatch(filter.c_str(), b.id, 0) == 0) out.push_back(plan_grouped(b));
      continue;
    }
    const quant::Case c = quant::Case::parse(b.id);
    const std::string id = c.id();
    if (fnmatch(filter.c_str(), id.c_str(), 0) != 0) continue;
    const std::size_t elems = std::size_t(c.spec.m * c.spec.k);
    const std::size_t x = std::size_t(c.spec.m * c.spec.input_cols()) * (c.input == Format::fp32 ? 4 : 2);
    const std::size_t scales = std::size_t(c.spec.scale_bytes());
    const std::size_t x_reads = c.spec.op == quant::Op::tensor && c.spec.writes_scales() ? 2 : 1;
    out.push_back({id, b.target, quant_kernels::plan_quant(c.spec, c.input, kSm90, x, elems, scales), x, elems,
                   scales, x * x_reads + elems + scales, {}});
  }
  return out;
}

// allreduce.rms on one GPU, the ranks' grids co-resident: every rank's traffic against the copy
// (fused_gpu.cu counts it). Two-shot at a prefill size against the bandwidth target; one-shot at a
// decode size (128 tokens, FlashInfer's one-shot limit) is latency, reported without a target.
struct FusedBenchCase {
  const char* id;
  double target;  // < 0: no target
};
constexpr FusedBenchCase kFusedBenchCases[] = {
    {"allreduce.rms/flashinfer-2shot/w2/bf16/16384x7168/w.bf16/normal/s1", 0.85},
    {"allreduce.rms-quant/flashinfer-2shot/w2/bf16/16384x7168/w.fp32/e4m3fn/token/normal/s1", 0.85},
    {"allreduce.rms-quant/flashinfer-1shot/w2/bf16/128x7168/w.fp32/e4m3fn/token/normal/s1", -1},
    // Without targets: what the fp32 weights and the sharding cost at the prefill size.
    {"allreduce.rms-quant/flashinfer-2shot/w2/bf16/16384x7168/w.bf16/e4m3fn/token/normal/s1", -1},
    {"allreduce.rms/flashinfer-1shot/w2/bf16/16384x7168/w.bf16/normal/s1", -1},
    {"allreduce.rms-quant/flashinfer-1shot/w2/bf16/16384x7168/w.fp32/e4m3fn/token/normal/s1", -1},
};

std::vector<std::pair<FusedBenchCase, allreduce::FusedSpec>> plan_fused_cases(const std::string& filter) {
  std::vector<std::pair<FusedBenchCase, allreduce::FusedSpec>> out;
  for (const FusedBenchCase& b : kFusedBenchCases)
    if (fnmatch(filter.c_str(), b.id, 0) == 0) out.push_back({b, allreduce::FusedCase::parse(b.id).spec});
  return out;
}

// The device all-reduce reference (no kernel beside it on one GPU: `bench --allreduce` times the
// all-reduce kernels across GPUs), on the bytes it moves itself: the ranks' words read, the ideal's
// bits, exact sum and |x| sum and the ordered sum written.
constexpr const char* kAllreduceReferenceCases[] = {
    "allreduce/custom-2shot/bf16/w4/33554432/out-of-place/normal/s1",
    "allreduce/nccl/bf16/w8/16777216/out-of-place/normal/s1",
};

std::vector<allreduce::Case> plan_allreduce_reference_cases(const std::string& filter) {
  std::vector<allreduce::Case> out;
  for (const char* id : kAllreduceReferenceCases)
    if (fnmatch(filter.c_str(), id, 0) == 0) out.push_back(allreduce::Case::parse(id));
  return out;
}

struct PlannedAll {
  std::vector<Planned> quant;
  std::vector<PlannedNorm> norm;
  std::vector<std::pair<GemmBenchCase, gemm::Spec>> gemm;
  std::vector<std::pair<FusedBenchCase, allreduce::FusedSpec>> fused;
  std::vector<moe::Case> moe_reference;
  std::vector<allreduce::Case> allreduce_reference;
};

// Every kind of row; at least one must match.
PlannedAll plan_all(const std::string& filter) {
  PlannedAll planned{plan_cases(filter),        plan_norm_cases(filter),          plan_gemm_cases(filter),
                     plan_fused_cases(filter),  plan_moe_reference_cases(filter), plan_allreduce_reference_cases(filter)};
  if (planned.quant.empty() && planned.norm.empty() && planned.gemm.empty() && planned.fused.empty() &&
      planned.moe_reference.empty() && planned.allreduce_reference.empty())
    throw UsageError("bench: no bench case matches --filter '" + filter + "'");
  return planned;
}

#if defined(ULPGATE_HAVE_CUDA)
constexpr std::size_t kCopyBytes = std::size_t(1) << 30;  // 1 GiB each way: far above L2
constexpr const char* kCopyId = "copy.d2d/1GiB";

// A bandwidth row (gbps, pct_copy, target_pct) or a time row (target_us; x_kernel: its time over
// the kernel under test's on the same shape). Negative: not applicable; target_pct and target_us
// both negative: a reference row without a target (the copy, the kernel under test).
struct Row {
  std::string id;
  std::size_t bytes;
  double median_us, min_us, gbps, pct_copy, target_pct;
  bool pass;
  double target_us = -1, x_kernel = -1;
  bool has_target() const { return target_pct >= 0 || target_us >= 0; }
};

// A time row against its target.
Row time_row(std::string id, double median_us, double target_us, double kernel_us) {
  return {std::move(id), 0, median_us, -1, -1, -1, -1, median_us <= target_us, target_us, median_us / kernel_us};
}

double gbps(std::size_t bytes, double us) { return double(bytes) / (us * 1e3); }  // GB = 1e9 B

const char* result_name(const Row& r) { return !r.has_target() ? "ref" : r.pass ? "pass" : "FAIL"; }

// A value with `decimals`, or `none` where it does not apply (negative).
std::string cell(double v, int decimals, const char* none = "-") { return v < 0 ? none : fixed_number(v, decimals); }

std::string target_text(const Row& r) {
  if (r.target_pct >= 0) return fixed_number(r.target_pct, 0) + "%";
  if (r.target_us >= 0) return fixed_number(r.target_us / 1e3, 0) + " ms";
  return "-";
}

void print_table(const std::vector<Row>& rows) {
  std::printf("%-76s %12s %10s %10s %9s %7s %8s %9s  %s\n", "case", "bytes moved", "median us", "min us", "GB/s",
              "% copy", "target", "x kernel", "result");
  for (const Row& r : rows)
    std::printf("%-76s %12s %10.1f %10s %9s %7s %8s %9s  %s\n", r.id.c_str(), r.bytes ? std::to_string(r.bytes).c_str() : "-",
                r.median_us, cell(r.min_us, 1).c_str(), cell(r.gbps, 1).c_str(),
                r.pct_copy < 0 ? "-" : (fixed_number(r.pct_copy, 1) + "%").c_str(), target_text(r).c_str(),
                cell(r.x_kernel, 1).c_str(), result_name(r));
}

// The same table as CSV, under a provenance header like the golden files'.
std::string csv_text(const quant_kernels::BenchDevice& dev, int reps, const std::vector<Row>& rows) {
  std::ostringstream f;
  f << "# ulpgate bench: effective bandwidth = (bytes read + bytes written) / median kernel time;"
       " GB = 1e9 bytes; % copy = of the D2D copy measured in the same run; time rows: target_ms,"
       " x_kernel = the row's time over the kernel under test's on the same shape in the same run\n"
    << "# arch=sm" << dev.sm_major << dev.sm_minor << "\n"
    << "# source=hardware\n"
    << "# device=" << dev.name << "\n"
    << "# driver=CUDA " << dev.driver << "\n"
    << "# toolkit=CUDA " << dev.runtime << "\n"
    << "# suite_version=" << suite_version() << "\n"
    << "# commit=" << suite_commit() << "\n"
    << "# date=" << today_utc() << "\n"
    << "# reps=" << reps << "\n"
    << "case_id,bytes,median_us,min_us,gbps,pct_copy,target_pct,target_ms,x_kernel,result\n";
  for (const Row& r : rows)
    f << r.id << "," << (r.bytes ? std::to_string(r.bytes) : "") << "," << fixed_number(r.median_us, 2) << ","
      << cell(r.min_us, 2, "") << "," << cell(r.gbps, 1, "") << "," << cell(r.pct_copy, 1, "") << ","
      << cell(r.target_pct, 0, "") << "," << cell(r.target_us < 0 ? -1 : r.target_us / 1e3, 0, "") << ","
      << cell(r.x_kernel, 1, "") << "," << result_name(r) << "\n";
  return f.str();
}

// The grouped reference's rows: every expert's dense reference timed on its shape, summed.
void moe_reference_rows(const moe::Case& c, int reps, std::vector<Row>& rows) {
  gemm_kernels::ReferenceTimings sum;
  for (int64_t e = 0; e < c.spec.experts(); ++e) {
    if (c.spec.tokens[size_t(e)] == 0) continue;
    const gemm_kernels::ReferenceTimings t = gemm_kernels::bench_reference_gpu(c.spec.expert_spec(e), gemm::model("sm90"), reps);
    sum.ideal_compare_ms += t.ideal_compare_ms, sum.replay_ms += t.replay_ms;
  }
  const std::string id = c.id();
  rows.push_back({"reference.ideal+compare:" + id, 0, sum.ideal_compare_ms * 1e3, -1, -1, -1, -1, true});
  rows.push_back({"reference.replay-sm90:" + id, 0, sum.replay_ms * 1e3, -1, -1, -1, -1, true});
}

// The kernel under test on the case's shape, then the reference's ideal + comparison and replay.
void gemm_rows(const GemmBenchCase& b, const gemm::Spec& spec, int reps, std::vector<Row>& rows) {
  const gemm_kernels::CublasLtTiming k = gemm_kernels::time_cublaslt(spec, reps);
  std::printf("%s: cuBLASLt ran %s\n", b.id, k.run.algorithm.c_str());
  rows.push_back({b.id, 0, k.timing.median_us, k.timing.min_us, -1, -1, -1, true});
  const gemm_kernels::ReferenceTimings t = gemm_kernels::bench_reference_gpu(spec, gemm::model(k.run.model), std::min(reps, 10));
  const double kernel_us = k.timing.median_us;
  rows.push_back(time_row(std::string("reference.ideal+compare:") + b.id, t.ideal_compare_ms * 1e3,
                          b.ideal_compare_target_ms * 1e3, kernel_us));
  rows.push_back(time_row(std::string("reference.replay-") + k.run.model + ":" + b.id, t.replay_ms * 1e3,
                          b.replay_target_ms * 1e3, kernel_us));
  rows.push_back(time_row(std::string("reference.replay+bound-") + k.run.model + ":" + b.id, t.bounded_replay_ms * 1e3,
                          -1, kernel_us));
  std::printf("%s: ideal %.2f ms, comparison %.2f ms, %lld elements resolved on the host\n", b.id, t.ideal_ms,
              t.compare_ms, (long long)t.host_resolved);
}

int run_bench(const std::string& filter, const std::string& csv, const std::string& html, int reps) {
  const auto [cases, norm_cases, gemm_cases, fused_cases, moe_reference_cases, allreduce_reference_cases] = plan_all(filter);
  if (const std::string why = quant_kernels::gpu_unavailable_reason(); !why.empty()) {
    std::fprintf(stderr, "ulpgate bench: no CUDA device to benchmark on: %s\n", why.c_str());
    return kInfra;
  }
  const quant_kernels::BenchDevice dev = quant_kernels::bench_device();
  std::printf("device: %s (sm_%d%d, L2 %.1f MB, driver CUDA %s, runtime CUDA %s), %d timed runs per row\n",
              dev.name.c_str(), dev.sm_major, dev.sm_minor, double(dev.l2_bytes) / 1e6, dev.driver.c_str(),
              dev.runtime.c_str(), reps);

  const quant_kernels::Timing copy = quant_kernels::time_copy_gpu(kCopyBytes, reps);
  const double copy_gbps = gbps(2 * kCopyBytes, copy.median_us);
  std::printf("copy bandwidth: %.1f GB/s (cudaMemcpyAsync D2D of 1 GiB, read + write, median %.1f us)\n",
              copy_gbps, copy.median_us);

  std::vector<Row> rows{{kCopyId, 2 * kCopyBytes, copy.median_us, copy.min_us, copy_gbps, 100.0, -1, true}};
  // A kernel's bandwidth as a fraction of the copy's, against its target fraction (< 0: none).
  const auto bandwidth_row = [&](const std::string& id, std::size_t moved, const quant_kernels::Timing& t, double target) {
    const double bw = gbps(moved, t.median_us), pct = 100.0 * bw / copy_gbps;
    return Row{id, moved, t.median_us, t.min_us, bw, pct, target < 0 ? -1 : 100.0 * target, pct >= 100.0 * target};
  };
  for (const Planned& c : cases) {
    rows.push_back(bandwidth_row(
        c.id, c.moved, quant_kernels::time_quant_gpu(c.plan, c.x_bytes, c.codes_bytes, c.scale_bytes, reps, c.row_map),
        c.target));
    // The device reference that judges it, on the same bytes (issue 30: at least half the copy's).
    if (c.id.starts_with("moe.")) continue;
    const quant::Case q = quant::Case::parse(c.id);
    if (quant_kernels::reference_declines(q.spec, q.input).empty())
      rows.push_back(bandwidth_row("reference.quant:" + c.id, c.moved,
                                   quant_kernels::time_reference_gpu(q.spec, q.input, reps), kReferenceTarget));
  }
  for (const PlannedNorm& c : norm_cases) {
    const std::size_t moved = norm_kernels::bytes_moved(c.sizes);
    rows.push_back(bandwidth_row(c.id, moved, norm_kernels::time_norm_gpu(c.plan, c.sizes, reps), c.target));
    if (norm_kernels::reference_declines(c.spec).empty())  // its device reference, on the same bytes
      rows.push_back(bandwidth_row("reference.norm:" + c.id, moved, norm_kernels::time_reference_gpu(c.spec, reps), kReferenceTarget));
  }
  for (const auto& [b, spec] : gemm_cases) gemm_rows(b, spec, reps, rows);
  for (const moe::Case& c : moe_reference_cases) moe_reference_rows(c, std::min(reps, 10), rows);
  for (const auto& [b, spec] : fused_cases) {
    const allreduce_kernels::FusedTiming t = allreduce_kernels::time_fused_one_gpu(spec, reps);
    rows.push_back(bandwidth_row(b.id, t.bytes, t.timing, b.target));
  }
  for (const allreduce::Case& c : allreduce_reference_cases) {
    const allreduce::Order order = allreduce::summed_order(c);
    rows.push_back(bandwidth_row("reference.allreduce:" + c.id(), allreduce_kernels::reference_bytes(c.spec, order),
                                 allreduce_kernels::time_reference_gpu(c.spec, order, c.inputs(), reps), kReferenceTarget));
  }
  const bool all_pass = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.pass || !r.has_target(); });
  print_table(rows);
  const std::string table = csv_text(dev, reps, rows);
  if (!csv.empty()) {
    std::ofstream f(csv);
    f << table;
    if (!f) throw std::runtime_error("bench: cannot write " + csv);
    std::printf("wrote %s\n", csv.c_str());
  }
  if (!html.empty()) write_bench_html(html, parse_bench_csv(table, "bench"));
  std::printf("bench: %s\n", all_pass ? "every row meets its target" : "a row misses its target");
  return all_pass ? kPass : kFail;
}
#else
int run_bench(const std::string& filter, const std::string&, const std::string&, int) {
  (void)plan_all(filter);  // the same usage errors as a CUDA build
  std::fprintf(stderr,
               "ulpgate bench: this build has no CUDA support (nvcc not found at configure time, or "
               "ULPGATE_CPU_ONLY); rebuild with the CUDA toolkit to benchmark\n");
  return kInfra;
}
#endif

}  // namespace

void add_bench_commands(CLI::App& app, int& rc) {
  static std::string filter = "*", csv, html, from;
  static int reps = 100;
  static std::vector<int> worlds;
  auto* bench = app.add_subcommand(
      "bench", "time the quantization and RMSNorm kernels against the device's copy bandwidth, and the GEMM reference "
               "against its time targets beside cuBLASLt (CUDA)");
  bench->add_option("--filter", filter, "glob over the bench case ids");
  bench->add_option("--csv", csv, "also write the table as CSV with a provenance header");
  bench->add_option("--reps", reps, "timed runs per row (median over them)")->check(CLI::Range(50, 100000));
  bench->add_option("--allreduce", worlds,
                    "instead: the all-reduce table (custom vs NCCL, 16 B to 1 GiB; the fused all-reduce + RMSNorm vs NCCL + "
                    "the norm kernel, 1 to 16384 tokens) on these world sizes, e.g. 2 4")
      ->check(CLI::IsMember({2, 4, 6, 8}));
  bench->add_option("--html", html, "write the table and its charts (bandwidth against the copy roofline) as an HTML page");
  auto* from_opt = bench->add_option("--from", from, "measure nothing: show a table an earlier `bench --csv` wrote (e.g. golden/sm90/bench.csv)");
  from_opt->excludes("--allreduce")->excludes("--csv");
  bench->callback([&] {
    rc = !from.empty()      ? show_bench(from, html)
         : worlds.empty()   ? run_bench(filter, csv, html, reps)
                            : run_allreduce_bench(worlds, csv);
  });
}

}  // namespace ulpgate::cli
