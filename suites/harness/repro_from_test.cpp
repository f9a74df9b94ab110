// `ulpgate repro --from DIR` of the built binary: replays a bundle's case on the bundle's backend
// and arch (unless --backend/--arch say otherwise) and says whether the verdict is the bundle's;
// a bad bundle is exit code 2 with a message naming the file.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "harness/report/bundle.hpp"
#include "suites/cli_run.hpp"
#include "suites/harness/temp_dir.hpp"

namespace {

using ulpgate::Bundle;
using ulpgate::TempDir;

const std::string kCase = "quant.group/vllm/e4m3fn/bf16/3x512/gs128/ue8m0-packed/ties_scale=0.25/s1";

struct DumpedBundle {
  TempDir tmp;
  std::string dir = (tmp.path / "bundle").string();
  DumpedBundle() {
    const CliRun r = ulpgate("repro " + kCase + " --backend host --arch host-w64 --dump " + dir);
    EXPECT_EQ(r.status, 0) << r.out;
  }
};

TEST(ReproFrom, ReplaysTheCaseOnTheBundlesBackendAndArch) {
  const DumpedBundle b;
  const CliRun r = ulpgate("repro --from " + b.dir);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "case     " + kCase + "\nbackend  host@host-w64\nverdict  exact\n")) << r.out;
  EXPECT_TRUE(has(r, "reproduced: exact, as in the bundle\n")) << r.out;
  EXPECT_TRUE(has(ulpgate("repro --from " + b.dir + " --arch host-w32"), "backend  host@host-w32\n"));
}

TEST(ReproFrom, SaysWhenTheVerdictIsNotTheBundles) {
  const DumpedBundle b;
  Bundle bundle = ulpgate::read_bundle(b.dir);
  bundle.verdict = ulpgate::Verdict::over_budget;
  ulpgate::write_bundle(b.dir, bundle);
  const CliRun r = ulpgate("repro --from " + b.dir);
  EXPECT_EQ(r.status, 0) << r.out;  // as `repro`: the exit code judges this run
  EXPECT_TRUE(has(r, "NOT reproduced: bundle says over-budget, this run exact\n")) << r.out;
}

TEST(ReproFrom, BadBundlesAreExitCode2) {
  const DumpedBundle b;
  EXPECT_EQ(ulpgate("repro --from " + b.dir + "/absent").status, 2);
  std::ofstream(b.dir + "/x.bin", std::ios::binary) << "short";
  const CliRun r = ulpgate("repro --from " + b.dir);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "ulpgate: " + b.dir + "/x.bin: 5 bytes, expected 3072 (shape [3, 512] of bf16)\n")) << r.out;
  EXPECT_EQ(ulpgate("repro " + kCase + " --from " + b.dir).status, 2);  // a case id or a bundle
  EXPECT_EQ(ulpgate("repro").status, 2);
}

}  // namespace
