// `ulpgate reveal` from the command line: a case named by --op / --profile / --shape (the first
// catalog case of the op, its shape replaced) or by --case, for the three families it reveals;
// anything else refused with exit 2 and what it takes.
#include <gtest/gtest.h>

#include "suites/cli_run.hpp"

namespace {

TEST(RevealCli, AnOpAndAShapeNameTheCase) {
  const CliRun norm = ulpgate("reveal --op norm.rms --shape 2x512");
  EXPECT_EQ(norm.status, 0) << norm.out;
  EXPECT_TRUE(has(norm, "reveal norm.rms/vllm/bf16/2x512/normal/s1 on host@host-w32")) << norm.out;
  EXPECT_TRUE(has(norm, "the squares in 16 chains of 32 elements")) << norm.out;  // the host kernel: 16 threads
  EXPECT_TRUE(has(norm, "the budget holds for this kernel")) << norm.out;

  const CliRun gemm = ulpgate("reveal --op gemm.tensor --shape 2x16x512");
  EXPECT_EQ(gemm.status, 0) << gemm.out;
  EXPECT_TRUE(has(gemm, "as a claim: model=\"fp32-fma\"")) << gemm.out;

  const CliRun two_shot = ulpgate("reveal --op allreduce --profile custom-2shot --shape 64");
  EXPECT_EQ(two_shot.status, 0) << two_shot.out;
  EXPECT_TRUE(has(two_shot, "reveal allreduce/custom-2shot/bf16/w2/64/")) << two_shot.out;
}

TEST(RevealCli, WhatItCannotRevealIsAUsageError) {
  EXPECT_TRUE(has(ulpgate("reveal --op quant.group"), "reveal takes gemm.*, norm.* and allreduce cases"));
  EXPECT_EQ(ulpgate("reveal --op quant.group").status, 2);
  EXPECT_EQ(ulpgate("reveal --op norm.rms --profile nosuch").status, 2);
  EXPECT_EQ(ulpgate("reveal --op norm.rms --shape 2x5").status, 2);        // no room for the 7 terms
  EXPECT_EQ(ulpgate("reveal --shape 2x512").status, 2);                    // --shape needs --op
  EXPECT_EQ(ulpgate("reveal").status, 2);
  const CliRun half = ulpgate("reveal --case norm.rms/vllm/fp16/2x64/normal/s1");
  EXPECT_EQ(half.status, 1) << half.out;  // ran, but no tree: fp16 squares cannot overflow fp32
  EXPECT_TRUE(has(half, "fp16 inputs")) << half.out;
}

}  // namespace
