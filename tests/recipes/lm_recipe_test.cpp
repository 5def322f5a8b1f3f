// recipes/lm/run.sh: options, and a short run end to end on the real Multi30k
// English (a few seconds of training: the plumbing, not the figures, which are
// in recipes/lm/RESULTS.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "test_support.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

TEST(LmRecipeTest, BadOptionsAreClearErrors) {
  const std::string dir = test::temp_dir();
  auto r = test::run_recipe("lm", dir + "/w", "--lang ja");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("'ja' is not one of en de fr cs"), std::string::npos) << r.out;
  r = test::run_recipe("lm", dir + "/w", "--config transformer");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no configuration 'transformer'"), std::string::npos) << r.out;
  r = test::run_recipe("lm", dir + "/w", "--data-dir " + dir + "/nowhere");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("nowhere/train.en.gz is missing"), std::string::npos) << r.out;
}

TEST(LmRecipeTest, ACharacterModelRunsEndToEndAndFinishedStagesAreSkipped) {
  const fs::path data = fs::path(TANDEM_SOURCE_DIR) / ".." / "shared" / "data" / "multi30k";
  TANDEM_REQUIRE_SHARED(!fs::exists(data / "train.en.gz"), "Multi30k data at " + data.string());
  const std::string work = test::temp_dir() + "/w";
  const std::string args = "--config lstm-char --train-minutes 0.05 --samples 2 --threads 2 --data-dir " + data.string();
  auto r = test::run_recipe("lm", work, args);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("char.spm: every character"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bits per character"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("temperature 0.7:"), std::string::npos) << r.out;
  const std::string run = work + "/en/lstm-char";
  for (const char* name : {"samples-0.7.txt", "samples-1.0.txt"}) {
    const auto samples = test::read_file(run + "/" + name);
    EXPECT_EQ(std::count(samples.begin(), samples.end(), '\n'), 2) << name;
  }
  r = test::run_recipe("lm", work, args);  // again: every stage is done
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("char.spm exists"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train.done exists"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tandem
