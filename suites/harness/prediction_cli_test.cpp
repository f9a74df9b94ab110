// Predicted golden files (issue 17): golden/<gpu arch> produced by the host emulation. Their header
// names every assumption; the gate reports a digest the hardware changes as "prediction missed"
// with the verdict against the reference (and a failing verdict as a regression); `golden update
// --check` tells a stale prediction; hardware observations replace a prediction only when asked.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "suites/cli_run.hpp"

namespace {

namespace fs = std::filesystem;

const std::string kSlice = "--backend host --arch gfx942 --filter 'norm.rms/vllm/*' ";

class PredictionCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ulpgate_prediction_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "gfx942");
    norm_ = read_text(fs::path(ULPGATE_SOURCE_DIR) / "golden/gfx942/norm.csv");
    write(norm_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& text) { std::ofstream(root_ / "gfx942/norm.csv") << text; }
  // The committed file with the first vllm row's digest changed to `digest`.
  std::string with_digest(const std::string& digest) const {
    const std::string key = ",hip@gfx942,";
    const size_t at = norm_.find(key, norm_.find("\nnorm.rms/vllm/")) + key.size();
    return norm_.substr(0, at) + digest + norm_.substr(at + digest.size());
  }
  CliRun gate() { return ulpgate("gate --golden " + (root_ / "gfx942").string() + " " + kSlice + " --as-backend hip@gfx942"); }

  fs::path root_;
  std::string norm_;
};

TEST_F(PredictionCli, TheHeaderNamesTheArchsAssumptionsAndFacts) {
  EXPECT_NE(norm_.find("# source=emulation"), std::string::npos);
  EXPECT_NE(norm_.find("# assumption (rsqrt): "), std::string::npos) << norm_;
  EXPECT_NE(norm_.find("# fact: wavefront size 64 ["), std::string::npos) << norm_;
  const std::string gemm = read_text(fs::path(ULPGATE_SOURCE_DIR) / "golden/gfx942/gemm.csv");
  EXPECT_NE(gemm.find("# fact: accumulator model 'gfx942' (reference/gemm/model.cpp): CDNA3"), std::string::npos) << gemm;
  EXPECT_NE(gemm.find("[MMA-Sim 2.1.1: "), std::string::npos) << gemm;
  const std::string gfx950 = read_text(fs::path(ULPGATE_SOURCE_DIR) / "golden/gfx950/gemm.csv");
  EXPECT_NE(gfx950.find("# assumption (accumulator): accumulator model 'gfx950'"), std::string::npos) << gfx950;
  EXPECT_NE(gfx950.find("[hypothesis: "), std::string::npos) << gfx950;
}

TEST_F(PredictionCli, AChangedDigestIsAMissedPredictionWithItsVerdict) {
  EXPECT_EQ(gate().status, 0);
  write(with_digest("0123456789abcdef"));
  const CliRun r = gate();
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r, "prediction missed norm.rms/vllm/")) << r.out;
  EXPECT_TRUE(has(r, "against the reference (predicted ")) << r.out;
  EXPECT_TRUE(has(r, "1 prediction missed")) << r.out;
  EXPECT_FALSE(has(r, "drift      norm")) << r.out;
}

TEST_F(PredictionCli, CheckTellsAStalePredictionAndWritesNothing) {
  const std::string check = "golden update --arch gfx942 --backend host --check --root " + root_.string() +
                            " --filter 'norm.rms/vllm/*'";
  CliRun r = ulpgate(check);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "golden/gfx942 is current")) << r.out;
  const std::string stale = with_digest("0123456789abcdef");
  write(stale);
  r = ulpgate(check);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r, "digest 0123456789abcdef -> ")) << r.out;
  EXPECT_EQ(read_text(root_ / "gfx942/norm.csv"), stale);
  write(std::regex_replace(norm_, std::regex("# assumption \\(rsqrt\\)[^\n]*\n"), ""));
  r = ulpgate(check);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r, "the header's facts and assumptions changed")) << r.out;
}

TEST_F(PredictionCli, TheEmulationIsNeverHardware) {
  const CliRun r = ulpgate("golden update --arch gfx942 --backend host --hardware --root " + root_.string() +
                           " --filter 'norm.rms/vllm/*'");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "the host backend is an emulation, not hardware")) << r.out;
  EXPECT_EQ(read_text(root_ / "gfx942/norm.csv"), norm_);
}

// sm100's prediction runs the kernels and the vendor GEMM model: a filter of a family the model
// does not run is still a selection the prediction runs, not bad usage.
TEST_F(PredictionCli, AFilterOneOfThePredictionsBackendsDeclinesStillRuns) {
  const CliRun r = ulpgate("golden update --arch sm100 --backend host --check --root " +
                           (fs::path(ULPGATE_SOURCE_DIR) / "golden").string() + " --filter 'norm.rms/vllm/*'");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "golden/sm100 is current")) << r.out;
}

TEST_F(PredictionCli, SignoffGroupsAMissedPredictionUnderItsCauseWithItsRepro) {
  const std::string signoff = "signoff --arch gfx942 --golden-root " + root_.string() + " --filter 'norm.rms/vllm/*' --out " +
                              (root_ / "bundle").string();
  CliRun r = ulpgate(signoff);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "ulpgate signoff gfx942: SIGNED OFF")) << r.out;
  EXPECT_TRUE(has(r, "time:     ")) << r.out;  // its wall time and each family's case time
  EXPECT_TRUE(has(r, " s (cases: norm ")) << r.out;
  write(with_digest("0123456789abcdef"));
  r = ulpgate(signoff);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r, "ulpgate signoff gfx942: NOT signed off")) << r.out;
  // The assumptions of gfx942 that concern RMSNorm, and the command that replays the case here.
  EXPECT_TRUE(has(r, "NaN encoding or denormals or rsqrt: 1 case")) << r.out;
  EXPECT_TRUE(has(r, " --backend host --arch gfx942")) << r.out;
  for (const char* f : {"report.html", "junit.xml", "results.csv", "summary.txt"})
    EXPECT_TRUE(fs::exists(root_ / "bundle" / f)) << f;
  EXPECT_NE(read_text(root_ / "bundle/report.html").find("prediction missed"), std::string::npos);
}

}  // namespace
