// `ulpgate bench --allreduce W ...`: the NCCL test tool's table on W GPUs, one process driving them
// (P2P): the custom all-reduce beside NCCL from 16 B to 1 GiB, then the fused all-reduce + residual
// + RMSNorm (+ FP8 per token) beside what it replaces (NCCL's all-reduce, then the norm kernel on
// every rank) at 1 to 16384 tokens of 7168. A benchmark result, not a test: exit 1 when a result is
// not exact or a custom row misses its target; exit 3 without CUDA.
#pragma once

#include <string>
#include <vector>

namespace ulpgate::cli {

int run_allreduce_bench(const std::vector<int>& worlds, const std::string& csv);

}  // namespace ulpgate::cli
