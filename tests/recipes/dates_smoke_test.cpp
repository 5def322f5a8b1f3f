// The main job in miniature, run as the README runs it (minus the set-up).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "test_support.h"

namespace tandem {
namespace {

// The main job in miniature: the dates recipe end to end with a small corpus
// and few updates (seconds), checking that every stage ran and scored.
TEST(DatesRecipeSmokeTest, RunsEndToEnd) {
  const std::string work = test::temp_dir();
  const std::string command = "TANDEM_SKIP_SETUP=1 TANDEM_DATES_WORK=" + work + " TRAIN_SIZE=2000 TRAIN_UPDATES=60 bash " +
                              std::string(TANDEM_SOURCE_DIR) + "/recipes/dates/run.sh > " + work + "/out.txt 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << test::read_file(work + "/out.txt");
  const auto out = test::read_file(work + "/out.txt");
  for (const char* stage : {"== data", "== vocabulary", "== corpus check", "== training", "== translating the test split",
                            "== scores on the test split", "tandem (beam 5)", "exact match", "== figures"}) {
    EXPECT_NE(out.find(stage), std::string::npos) << stage << "\n" << out;
  }
  // One translation per test line.
  const auto translations = test::read_file(work + "/test.out");
  EXPECT_EQ(std::count(translations.begin(), translations.end(), '\n'), 1000);
  // The figures: the attention of the first test line, the learning curves.
  EXPECT_NE(test::read_file(work + "/attention.svg").find("<rect class=\"cell\""), std::string::npos);
  EXPECT_NE(test::read_file(work + "/curves.svg").find("<polyline"), std::string::npos);
}

// The main job at its defaults (the model the server and install tests use):
// it reaches its 99% exact-match target on dates it never saw.
double dates_exact_match(const std::string& precision) {
  const std::string log = test::read_file(test::dates_work_dir(precision) + "/run.log");
  const std::string mark = "tandem (beam 5)              exact match ";
  const auto at = log.find(mark);
  if (at == std::string::npos) throw std::runtime_error("no exact match in the recipe's output:\n" + log);
  return std::stod(log.substr(at + mark.size(), 6));
}

TEST(DatesRecipeTest, ReachesItsTargetAtItsDefaults) { EXPECT_GE(dates_exact_match("float32"), 99.0); }

// --precision bfloat16 (training and translation) reaches the same target.
TEST(DatesRecipeTest, BFloat16ReachesTheTargetToo) {
  EXPECT_GE(dates_exact_match("bfloat16"), 99.0);
  EXPECT_NE(test::read_file(test::dates_work_dir("bfloat16") + "/run.log").find("3000 updates, bfloat16"),
            std::string::npos);
}

}  // namespace
}  // namespace tandem
