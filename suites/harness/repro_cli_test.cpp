// `ulpgate repro` and `run` on cases too large for the machine: refused before anything is
// allocated, with the bytes the case needs, exit 2 (never std::bad_alloc or an OOM kill).
#include <string>

#include <gtest/gtest.h>

#include "suites/cli_run.hpp"

namespace {

TEST(MemoryLimit, AHugeShapeIsRefusedWithTheBytesItNeeds) {
  const CliRun r = ulpgate("repro 'norm.rms/vllm/bf16/99999999x99999999/normal/s1'");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "needs about 3e+17 bytes of host memory, more than the limit of")) << r.out;
  EXPECT_TRUE(has(r, "(half this machine's memory; --max-memory changes it)")) << r.out;
  EXPECT_FALSE(has(r, "bad_alloc")) << r.out;
  // Run, not repro: judged a slab of rows at a time, the case holds its input and output whole
  // (6 bytes an element with the margin) and one slab's references, not the bundle's.
  const CliRun run = ulpgate("run --backend host --case 'norm.rms/vllm/bf16/99999999x99999999/normal/s1'");
  EXPECT_EQ(run.status, 2) << run.out;
  EXPECT_TRUE(has(run, "needs about 6e+16 bytes of host memory")) << run.out;
}

TEST(MemoryLimit, TheLimitIsOverridable) {
  const std::string id = "quant.group/vllm/e4m3fn/bf16/256x1024/gs128/row/normal_sigma=2/s1";
  const CliRun small = ulpgate("repro '" + id + "' --backend host --max-memory 1MB");
  EXPECT_EQ(small.status, 2) << small.out;
  EXPECT_TRUE(has(small, "needs about 4.2e+06 bytes of host memory, more than the limit of 1.05e+06 bytes (--max-memory)"))
      << small.out;
  const CliRun enough = ulpgate("repro '" + id + "' --backend host --max-memory 1GB");
  EXPECT_EQ(enough.status, 0) << enough.out;
  const CliRun sweep = ulpgate("run --backend host --filter 'quant.token/vllm/*' --max-memory 1KB");
  EXPECT_EQ(sweep.status, 2) << sweep.out;
}

}  // namespace
