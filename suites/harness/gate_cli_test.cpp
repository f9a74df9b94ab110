// `ulpgate gate` as CI runs it: it never passes by accident. A missing golden directory or
// family file is exit 2 naming the path; a case without a golden row fails unless --allow-new;
// a golden row whose case did not run fails as missing (label `harness`).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "suites/cli_run.hpp"

namespace {

namespace fs = std::filesystem;

// A small slice of the catalog, so each run takes a fraction of a second.
const std::string kSlice = "--backend host --arch host-w32 --filter 'quant.token/*' ";

// A scratch golden directory holding golden/host/quant.csv edited by `edit`.
class GateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ulpgate_gate_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_quant(const std::string& text) { std::ofstream(dir_ / "quant.csv") << text; }
  std::string golden(const std::string& family = "quant") const {
    return read_text(fs::path(ULPGATE_SOURCE_DIR) / ("golden/host/" + family + ".csv"));
  }
  CliRun gate(const std::string& extra = "") { return ulpgate("gate --golden " + dir_.string() + " " + kSlice + extra); }

  fs::path dir_;
};

TEST_F(GateCli, PassesAgainstTheRealGoldenFile) {
  write_quant(golden());
  const CliRun r = gate();
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "0 drift, 0 regression, 0 new, 0 missing")) << r.out;
}

TEST_F(GateCli, AMissingGoldenDirectoryIsBadInputNotAPass) {
  const CliRun r = ulpgate("gate --golden " + (dir_ / "typo").string() + " " + kSlice);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "golden directory '" + (dir_ / "typo").string() + "' does not exist")) << r.out;
}

TEST_F(GateCli, AFilterThatSelectsNothingIsBadInputNotAPass) {
  for (const std::string& cmd : {std::string("run"), "gate --golden " + fs::path(ULPGATE_SOURCE_DIR).string() + "/golden/host"}) {
    const CliRun r = ulpgate(cmd + " --backend host --filter 'quant.tokn/*'");
    EXPECT_EQ(r.status, 2) << cmd << ": " << r.out;
    EXPECT_TRUE(has(r, "--filter 'quant.tokn/*' selects no case of the ci catalog")) << cmd << ": " << r.out;
  }
}

TEST_F(GateCli, AMissingFamilyFileIsBadInputNamingThePath) {
  const CliRun r = gate();  // the directory exists, quant.csv does not
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "no golden file " + (dir_ / "quant.csv").string())) << r.out;
}

TEST_F(GateCli, ADeletedRowFailsAsNewUnlessNewCasesAreAllowed) {
  std::string text = golden();
  const size_t row = text.find("\nquant.token/");
  ASSERT_NE(row, std::string::npos);
  text.erase(row, text.find('\n', row + 1) - row);
  write_quant(text);
  const CliRun strict = gate();
  EXPECT_EQ(strict.status, 1) << strict.out;
  EXPECT_TRUE(has(strict, ", 1 new, 0 missing")) << strict.out;
  const CliRun allowed = gate("--allow-new");
  EXPECT_EQ(allowed.status, 0) << allowed.out;
  EXPECT_TRUE(has(allowed, "(new cases allowed)")) << allowed.out;
}

TEST_F(GateCli, ARowWhoseCaseNoLongerExistsFailsAsMissing) {
  write_quant(golden() + "quant.token/vllm/e4m3fn/bf16/3x640/renamed/s1,host@host-w32,0123456789abcdef,1920,0,1920,0,0,0,0,exact\n");
  const CliRun r = gate("--allow-new");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r, "missing    quant.token/vllm/e4m3fn/bf16/3x640/renamed/s1 [host@host-w32]")) << r.out;
}

// Tiers: a ci run (the host's default) leaves the full tier's golden rows alone, but a row whose
// case is in no tier is still missing.
TEST_F(GateCli, AFullTierRowIsNotMissingInACiRunButARowOfNoTierIs) {
  const std::string slice = "--backend host --arch host-w32 --filter 'gemm.block/deepgemm/*/*x7168x2048/*' ";
  const std::string full_row =
      "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/4096x7168x2048/normal/s1,host@host-w32,0123456789abcdef,1,0,1,0,0,0,0,exact\n";
  std::ofstream(dir_ / "gemm.csv") << golden("gemm") + full_row;
  const CliRun ci = ulpgate("gate --golden " + dir_.string() + " " + slice);
  EXPECT_EQ(ci.status, 0) << ci.out;
  EXPECT_TRUE(has(ci, "2 identical, 0 drift, 0 regression, 0 new, 0 missing")) << ci.out;
  std::ofstream(dir_ / "gemm.csv") << golden("gemm") + full_row +
      "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/5x7168x2048/normal/s1,host@host-w32,0123456789abcdef,1,0,1,0,0,0,0,exact\n";
  const CliRun gone = ulpgate("gate --golden " + dir_.string() + " " + slice);
  EXPECT_EQ(gone.status, 1) << gone.out;
  EXPECT_TRUE(has(gone, "missing    gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/5x7168x2048/normal/s1 [host@host-w32]")) << gone.out;
  EXPECT_TRUE(has(gone, "0 new, 1 missing")) << gone.out;
}

TEST_F(GateCli, TheTierIsCiOrFull) {
  const CliRun r = ulpgate("list --tier nightly");
  EXPECT_EQ(r.status, 2) << r.out;
  const CliRun ci = ulpgate("list --tier ci --filter 'gemm*'"), full = ulpgate("list --tier full --filter 'gemm*'");
  EXPECT_FALSE(has(ci, "4096x7168x18432")) << ci.out;
  EXPECT_TRUE(has(full, "gemm.block/deepgemm/e4m3fn.e4m3fn/bf16/4096x7168x18432/normal/s1")) << full.out;
}

TEST_F(GateCli, HelpStatesTheRules) {
  const CliRun r = ulpgate("gate --help");
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* s : {"--allow-new", "missing", "exit 2 when the golden directory"}) EXPECT_TRUE(has(r, s)) << s;
}

}  // namespace
