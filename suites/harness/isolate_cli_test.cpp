// `--isolate`, `--jobs` and `--timeout` through the built binary: golden update writes the same
// rows with each case in a child process, or in three worker processes, as without, and --timeout means nothing without --isolate (exit 2).
// `list --host-bytes` shows the estimate --jobs and --max-memory go by.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "suites/cli_run.hpp"
#include "suites/harness/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;

const std::string kSlice = "--backend host --filter 'quant.token/vllm/*' ";

TEST(IsolateCli, GoldenUpdateWritesTheSameRowsWithCasesInChildProcesses) {
  const ulpgate::TempDir dir;
  const std::string update = "golden update --arch host " + kSlice;
  const CliRun direct = ulpgate(update + "--root " + (dir.path / "direct").string());
  const CliRun isolated = ulpgate(update + "--isolate --timeout 60 --root " + (dir.path / "isolated").string());
  const CliRun workers = ulpgate(update + "--jobs 3 --root " + (dir.path / "workers").string());
  ASSERT_EQ(direct.status, 0) << direct.out;
  ASSERT_EQ(isolated.status, 0) << isolated.out;
  ASSERT_EQ(workers.status, 0) << workers.out;
  const std::string rows = read_text(dir.path / "direct/host/quant.csv");
  EXPECT_NE(rows.find("quant.token/vllm/"), std::string::npos) << rows;
  EXPECT_EQ(read_text(dir.path / "isolated/host/quant.csv"), rows);
  EXPECT_EQ(read_text(dir.path / "workers/host/quant.csv"), rows);
}

TEST(IsolateCli, RunWithIsolationPasses) {
  const CliRun r = ulpgate("run --arch host-w32 --isolate " + kSlice);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_FALSE(has(r, "FAIL")) << r.out;
}

TEST(IsolateCli, ATimeoutWithoutIsolationIsBadUsage) {
  const CliRun r = ulpgate("run --arch host-w32 --timeout 5 " + kSlice);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "--timeout requires --isolate")) << r.out;
}

// Each id after its family's host estimate: an all-reduce case's is (world x 24 + 32) bytes an
// element, 536870912 x 80 here.
TEST(IsolateCli, ListShowsEachCasesHostEstimate) {
  const CliRun r = ulpgate("list --tier full --host-bytes --filter 'allreduce/nccl/bf16/w2/536870912/*'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "   42.95 allreduce/nccl/bf16/w2/536870912/out-of-place/normal/s1\n");
}

}  // namespace
