// The formats commands of the built `ulpgate` binary: results, and exit code 2 with a message
// naming the problem and the valid choices on bad input (label `harness`).
#include <string>

#include <gtest/gtest.h>

#include "reference/formats/formats.hpp"
#include "suites/cli_run.hpp"

namespace {

TEST(FormatsCli, ConvertExplainsATieToEven) {
  const CliRun r = ulpgate("convert --to e4m3fn:satfinite 1.064453125 0x43e80000 0x1.8p+3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "0x39 = 1.125")) << r.out;        // decimal input
  EXPECT_TRUE(has(r, "input   fp32 0x43e80000")) << r.out;  // bit pattern: 464
  EXPECT_TRUE(has(r, "0x7e = 448")) << r.out;
  EXPECT_TRUE(has(r, "exact   12 = 0x1.8p+3")) << r.out;  // hex-float
}

TEST(FormatsCli, ConvertFromDoubleWhenNotAnFp32Value) {
  const CliRun r = ulpgate("convert --to ue8m0:satfinite:rz 0.1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "input   fp64 0x3fb999999999999a")) << r.out;
  EXPECT_TRUE(has(r, "0x7b")) << r.out;  // 2^-4
}

TEST(FormatsCli, DecodeShowsClassAndFields) {
  const CliRun r = ulpgate("decode e4m3fn 0x7e 0x01 0x7f");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "e4m3fn 0x7e: 448 = 0x1.cp+8 (normal)")) << r.out;
  EXPECT_TRUE(has(r, "sign 0  exponent 1111 (field 15, bias 7)  mantissa 110")) << r.out;
  EXPECT_TRUE(has(r, "(subnormal)")) << r.out;
  EXPECT_TRUE(has(r, "NaN")) << r.out;
}

TEST(FormatsCli, TableWritesTheBytesInInputOrder) {
  const auto path = std::filesystem::temp_directory_path() / ("ulpgate_table_" + std::to_string(::getpid()));
  const CliRun r = ulpgate("formats table --from bf16 --to e4m3fnuz:satfinite --out " + path.string());
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  ASSERT_EQ(bytes.size(), 65536u);
  const ulpgate::Conversion c = ulpgate::Conversion::parse("e4m3fnuz:satfinite");
  for (uint32_t b = 0; b < 65536; ++b)
    ASSERT_EQ(uint8_t(bytes[b]), ulpgate::encode(ulpgate::bf16_to_float(uint16_t(b)), c)) << b;
  EXPECT_EQ(uint8_t(bytes[0x3f80]), 0x40);  // 1.0 in e4m3fnuz
}

TEST(FormatsCli, VerifyPassesOnOneMode) {
  const CliRun r = ulpgate("formats verify --format e5m2fnuz --policy hip-host --random 1000");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "e5m2fnuz  hip-host")) << r.out;
  EXPECT_TRUE(has(r, "PASS")) << r.out;
}

// Bad input: exit code 2 and a message that names the problem and the valid choices.
TEST(FormatsCli, UnknownPolicy) {
  const CliRun r = ulpgate("convert --to e4m3fn:saturate 1");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "unknown overflow policy 'saturate'") && has(r, "satfinite, nosat")) << r.out;
}

TEST(FormatsCli, UnknownFormat) {
  const CliRun r = ulpgate("decode e3m4 0x01");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "unknown format 'e3m4'") && has(r, "e4m3fn, e4m3fnuz")) << r.out;
  EXPECT_EQ(ulpgate("formats verify --format fp32").status, 2);
  EXPECT_EQ(ulpgate("formats verify --policy sat").status, 2);
}

TEST(FormatsCli, UnparsableValueAndCode) {
  const CliRun value = ulpgate("convert --to e4m3fn 1.5x");
  EXPECT_EQ(value.status, 2) << value.out;
  EXPECT_TRUE(has(value, "cannot parse value '1.5x'") && has(value, "hex-float")) << value.out;
  const CliRun wide = ulpgate("convert --to e4m3fn 0x123456789");  // 9 hex digits: not an fp32 pattern
  EXPECT_EQ(wide.status, 2) << wide.out;
  const CliRun code = ulpgate("decode e5m2 0x100");
  EXPECT_EQ(code.status, 2) << code.out;
  EXPECT_TRUE(has(code, "does not fit")) << code.out;
}

TEST(FormatsCli, UnwritableTableFile) {
  const CliRun r = ulpgate("formats table --from fp16 --to e5m2 --out /nonexistent-dir/table.bin");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r, "cannot write '/nonexistent-dir/table.bin'")) << r.out;
  const CliRun from = ulpgate("formats table --from fp32 --to e5m2 --out /tmp/x");
  EXPECT_EQ(from.status, 2) << from.out;
  EXPECT_TRUE(has(from, "valid: bf16, fp16")) << from.out;
}

TEST(FormatsCli, MissingArgumentsAreUsageErrors) {
  EXPECT_EQ(ulpgate("convert 1.0").status, 2);
  EXPECT_EQ(ulpgate("formats table --from bf16").status, 2);
}

}  // namespace
