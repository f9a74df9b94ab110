// Case ids of every family through family_of(id).canonical_id(id): what fuzz_case_id checks, with
// the inputs it found kept as regressions.
#include <gtest/gtest.h>

#include <string>

#include "harness/core/family.hpp"
#include "suites/harness/usage_error.hpp"

namespace ulpgate {
namespace {

std::string canonical(std::string_view id) { return family_of(id).canonical_id(id); }

std::string rejection(std::string_view id) {
  return usage_error([&] { canonical(id); });
}

TEST(CaseIds, CatalogIdsAreCanonical) {
  for (const OpFamily& f : families())
    for (const std::string& id : f.catalog(Tier::full)) EXPECT_EQ(canonical(id), id);
}

TEST(CaseIds, CanonicalFormIsAFixedPoint) {
  const std::string id = "quant.block/sglang/e4m3fnuz/bf16/20003x01/gs0128/row/normal/s0001";
  EXPECT_EQ(canonical(id), "quant.block/sglang/e4m3fnuz/bf16/20003x1/gs128/row/normal/s1");
  EXPECT_EQ(canonical(canonical(id)), canonical(id));
}

// fuzz_case_id: "gs1282147483648" wrapped to the int -2047737856, so the canonical id had a
// negative group size that does not parse; a wrap to a valid size silently named another case.
TEST(CaseIds, GroupSizesBeyondIntAreRejected) {
  EXPECT_EQ(rejection("quant.block/sglang/e4m3fnuz/bf16/20003x01/gs1282147483648/row/normal/s1"),
            "case 'quant.block/sglang/e4m3fnuz/bf16/20003x01/gs1282147483648/row/normal/s1': group size "
            "1282147483648 is too large (at most 2147483647)");
  EXPECT_NE(rejection("norm.rms-quant/vllm/bf16/5x1024/e4m3fn/gs4294967360/row/normal/s1").find("too large"),
            std::string::npos);
}

// The seed corpus's gs0: K % 0 in quant::Spec::problem() (UBSan: division by zero).
TEST(CaseIds, GroupSizeZeroIsRejected) {
  EXPECT_EQ(rejection("quant.group/vllm/e4m3fn/bf16/8x512/gs0/row/normal/s1"),
            "case 'quant.group/vllm/e4m3fn/bf16/8x512/gs0/row/normal/s1': group size 0 is not positive");
  EXPECT_EQ(rejection("quant.block/vllm/e4m3fn/bf16/8x512/gs0/row/normal/s1"),
            "case 'quant.block/vllm/e4m3fn/bf16/8x512/gs0/row/normal/s1': group size 0 is not positive");
}

TEST(CaseIds, UnknownFamiliesAreNamed) {
  EXPECT_EQ(rejection("reduce.sum/nccl"),
            "case 'reduce.sum/nccl': unknown op 'reduce.sum' (families: quant.*, norm.*, gemm.*, moe.*, allreduce, allreduce.rms*)");
  EXPECT_EQ(rejection(""), "case '': unknown op '' (families: quant.*, norm.*, gemm.*, moe.*, allreduce, allreduce.rms*)");
}

}  // namespace
}  // namespace ulpgate
