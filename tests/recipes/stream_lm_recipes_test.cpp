// recipes/ptb/run.sh and recipes/shakespeare/run.sh: options, and short runs end
// to end on the real data (seconds of training: the plumbing and the counts; the
// figures are in the recipes' RESULTS.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "test_support.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = fs::path(TANDEM_SOURCE_DIR) / ".." / "shared" / "data";

TEST(StreamLmRecipesTest, BadOptionsAreClearErrors) {
  const std::string dir = test::temp_dir();
  auto r = test::run_recipe("ptb", dir + "/w", "--config large");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no configuration 'large'"), std::string::npos) << r.out;
  r = test::run_recipe("ptb", dir + "/w", "--epochs zero");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("--epochs must be a positive number"), std::string::npos) << r.out;
  r = test::run_recipe("ptb", dir + "/w", "--data-dir " + dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("holds neither ptb.train.txt nor ptb.train.txt.gz"), std::string::npos) << r.out;
  // A damaged file is refused by its checksum.
  test::write_file(dir + "/ptb.train.txt", " a b\n");
  test::write_file(dir + "/ptb.valid.txt", " a\n");
  test::write_file(dir + "/ptb.test.txt", " b\n");
  r = test::run_recipe("ptb", dir + "/w2", "--data-dir " + dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("does not match"), std::string::npos) << r.out;
  r = test::run_recipe("shakespeare", dir + "/w3", "--config gpt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no configuration 'gpt'"), std::string::npos) << r.out;
  for (const std::string recipe : {"ptb", "shakespeare"}) {
    r = test::run_recipe(recipe, dir + "/w4", "--precision float16");
    EXPECT_EQ(r.exit_code, 1) << recipe;
    EXPECT_NE(r.out.find("--precision must be float32 or bfloat16, got 'float16'"), std::string::npos) << r.out;
  }
}

TEST(StreamLmRecipesTest, PtbRunsEndToEndAndScoresEveryTestToken) {
  TANDEM_REQUIRE_SHARED(!fs::exists(kShared / "ptb" / "ptb.train.txt.gz"), "Penn Treebank at " + kShared.string());
  const std::string work = test::temp_dir() + "/w";
  auto r = test::run_recipe("ptb", work, "--config small --epochs 1 --train-minutes 0.05 --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("9999 words and the line end"), std::string::npos) << r.out;  // PTB: 9,999 words and <eos>
  EXPECT_NE(r.out.find("over 82430 tokens of one stream"), std::string::npos) << r.out;
  const auto samples = test::read_file(work + "/small/samples-0.7.txt");
  EXPECT_EQ(samples.rfind("the company said", 0), 0u) << samples;
}

TEST(StreamLmRecipesTest, ShakespeareRunsEndToEnd) {
  TANDEM_REQUIRE_SHARED(!fs::exists(kShared / "tinyshakespeare" / "input.txt.gz"),
                        "Tiny Shakespeare at " + kShared.string());
  const std::string work = test::temp_dir() + "/w";
  // In bfloat16 (the PTB run above is float32): its own work folder.
  auto r = test::run_recipe("shakespeare", work,
                            "--config char-lstm-small --train-minutes 0.05 --threads 2 --precision bfloat16");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("train.txt 1059598 characters, valid.txt 55796"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("char-lstm-small in bfloat16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nats) over"), std::string::npos) << r.out;
  const auto samples = test::read_file(work + "/char-lstm-small-bfloat16/samples-1.0.txt");
  EXPECT_EQ(samples.rfind("ROMEO:", 0), 0u) << samples;
}

}  // namespace
}  // namespace tandem
