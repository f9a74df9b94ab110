// golden/budgets.csv reader: lookup with wildcard fallback, and a file:line UsageError for each
// kind of malformed input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "harness/golden/budgets.hpp"
#include "reference/formats/formats.hpp"

namespace ulpgate {
namespace {

const char* kHeader = "op,profile,output,rule,limit,reason\n";

TEST(Budgets, ReadsRowsCommentsAndQuotedReasons) {
  const std::string text = std::string("# budgets: constraints, never loosened without a reason\n") +
                           kHeader +
                           "\n"
                           "quant.group,*,codes,bit-exact,0,codes follow the profile exactly\n"
                           "quant.group, vllm-triton ,codes,max-ulp,1,\"approximate division, <= 2 ulp\"\n"
                           "quant.group,*,codes-vs-ideal,tie-flip,0.5,IEEE division: half an ulp\n"
                           "*,*,scales,bit-exact,0,scales are computed exactly\n";
  const BudgetTable t = BudgetTable::parse(text, "budgets.csv");
  ASSERT_EQ(t.rows().size(), 4u);
  const Budget& triton = t.rows()[1];
  EXPECT_EQ(triton.profile, "vllm-triton");  // trimmed
  EXPECT_EQ(triton.rule, BudgetRule::max_ulp);
  EXPECT_EQ(triton.limit, 1);
  EXPECT_EQ(triton.reason, "approximate division, <= 2 ulp");
  EXPECT_EQ(triton.line, 5u);
  EXPECT_EQ(t.rows()[2].rule, BudgetRule::tie_flip);
  EXPECT_EQ(t.rows()[2].limit, 0.5);
}

TEST(Budgets, LookupPrefersTheMostSpecificRow) {
  const std::string text = std::string(kHeader) +
                           "*,*,codes,max-ulp,4,anything\n"
                           "*,vllm,codes,max-ulp,3,any op under vllm\n"
                           "quant.group,*,codes,max-ulp,2,group quant\n"
                           "quant.group,vllm,codes,max-ulp,1,group quant under vllm\n";
  const BudgetTable t = BudgetTable::parse(text, "b.csv");
  EXPECT_EQ(t.lookup("quant.group", "vllm", "codes").limit, 1);
  EXPECT_EQ(t.lookup("quant.group", "aiter", "codes").limit, 2);
  EXPECT_EQ(t.lookup("quant.block", "vllm", "codes").limit, 3);
  EXPECT_EQ(t.lookup("quant.block", "aiter", "codes").limit, 4);
  EXPECT_EQ(t.find("quant.group", "vllm", "scales"), nullptr);
  try {
    t.lookup("quant.group", "vllm", "scales");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "b.csv: no budget for op 'quant.group', profile 'vllm', output "
                           "'scales' (add a row, with its reason)");
  }
  EXPECT_EQ(t.lookup("quant.group", "vllm", "codes", BudgetRule::max_ulp).limit, 1);
  try {
    t.lookup("quant.group", "vllm", "codes", BudgetRule::bit_exact);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "b.csv:5: rule max-ulp is not implemented for quant.group output 'codes' (expected bit-exact)");
  }
}

void expect_error(const std::string& text, const std::string& message) {
  try {
    BudgetTable::parse(text, "golden/budgets.csv");
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const UsageError& e) {
    EXPECT_EQ(e.what(), message);
  }
}

TEST(Budgets, MalformedFilesNameFileAndLine) {
  const std::string h = kHeader;
  expect_error("", "golden/budgets.csv:1: no header line: expected 'op,profile,output,rule,limit,reason'");
  expect_error("# only a comment\nop,profile,output,rule,limit\n",
               "golden/budgets.csv:2: header lacks column 'reason': expected "
               "'op,profile,output,rule,limit,reason'");
  expect_error("op,profile,output,rule,limit,reason,owner\n",
               "golden/budgets.csv:1: unknown column 'owner' in header: expected "
               "'op,profile,output,rule,limit,reason'");
  expect_error(h + "quant.group,*,codes,bit-exact,0\n",
               "golden/budgets.csv:2: too few fields: expected the columns "
               "'op,profile,output,rule,limit,reason'");
  expect_error(h + "quant.group,*,codes,max-ulp,1,approximate, division\n",
               "golden/budgets.csv:2: too many fields (quote a field that contains a comma): "
               "expected 'op,profile,output,rule,limit,reason'");
  expect_error(h + "quant.group,*,codes,max-ulp,one,why\n",
               "golden/budgets.csv:2: expected a number in column 'limit', got 'one'");
  expect_error(h + "quant.group,*,codes,max-ulp,1.5x,why\n",
               "golden/budgets.csv:2: expected a number in column 'limit', got '1.5x'");
  expect_error(h + "quant.group,*,codes,max-ulp,,why\n",
               "golden/budgets.csv:2: expected a number in column 'limit', got ''");
  expect_error(h + "#\nquant.group,*,codes,max-ulp,1,\n",
               "golden/budgets.csv:3: expected a reason: every budget says why");
  expect_error(h + "quant.group,*,codes,max-ulp,1,   \n",
               "golden/budgets.csv:2: expected a reason: every budget says why");
  expect_error(h + "quant.group,*,codes,ulp,1,why\n",
               "golden/budgets.csv:2: unknown rule 'ulp': expected bit-exact, max-ulp, tie-flip, rsqrt-flip, "
               "accum-bound or abs-rel");
  expect_error(h + "quant.group,*,codes,bit-exact,1,why\n",
               "golden/budgets.csv:2: rule bit-exact takes limit 0");
  expect_error(h + "quant.group,*,codes,max-ulp,-1,why\n",
               "golden/budgets.csv:2: expected a finite limit >= 0");
  expect_error(h + "quant.group,*,codes,max-ulp,inf,why\n",
               "golden/budgets.csv:2: expected a finite limit >= 0");
  expect_error(h + "quant.group,*,codes,tie-flip,0,why\n",
               "golden/budgets.csv:2: rule tie-flip needs the quotient error in fp32 ulps (> 0)");
  expect_error(h + "quant.group,*,codes,abs-rel,0.01,why\n",
               "golden/budgets.csv:2: rule abs-rel is reserved: no comparator implements it yet");
  expect_error(h + "gemm.block,*,d-ideal,accum-bound,0.5,why\n",
               "golden/budgets.csv:2: rule accum-bound takes a factor >= 1 on the model's proven bound");
  expect_error(h + ",*,codes,max-ulp,1,why\n",
               "golden/budgets.csv:2: expected a non-empty op, profile and output");
  expect_error(h + "quant.group,*,codes,max-ulp,1,\"why\n",
               "golden/budgets.csv:2: a quoted field is not closed");
  expect_error(h + "quant.group,*,codes,max-ulp,1,why\n\nquant.group,*,codes,max-ulp,2,again\n",
               "golden/budgets.csv:4: duplicate budget for quant.group,*,codes (first at line 2)");
  // The CSV parser ends a line at a NUL: ", and more" was dropped silently (seed corpus).
  expect_error(h + "quant.group,*,codes,bit-exact,0,why" + std::string(1, '\0') + ", and more\n",
               "golden/budgets.csv:2: NUL byte: expected text");
  expect_error("\xEF\xBB\xBF" + h, "golden/budgets.csv:1: starts with a UTF-8 byte-order mark: expected plain "
                                    "text (save the file without it)");
}

TEST(Budgets, LoadsFromDiskAndNamesAMissingFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("ulpgate-budgets-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "budgets.csv";
  std::ofstream(path) << kHeader << "quant.group,*,scales,bit-exact,0,exact\n";
  EXPECT_EQ(BudgetTable::load(path).lookup("quant.group", "x", "scales").reason, "exact");
  EXPECT_EQ(BudgetTable::load(path).file(), path.string());
  EXPECT_THROW(BudgetTable::load(dir / "absent.csv"), UsageError);
  std::filesystem::remove_all(dir);
}

TEST(Budgets, RuleNamesRoundTrip) {
  for (BudgetRule r : {BudgetRule::bit_exact, BudgetRule::max_ulp, BudgetRule::tie_flip, BudgetRule::rsqrt_flip,
                       BudgetRule::accum_bound, BudgetRule::abs_rel})
    EXPECT_EQ(parse_budget_rule(budget_rule_name(r)), r);
  EXPECT_EQ(parse_budget_rule("exact"), std::nullopt);
}

}  // namespace
}  // namespace ulpgate
