// The main job in miniature, run as the README runs it (minus the set-up).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

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
                            "== scores on the test split", "tandem (beam 5)", "exact match"}) {
    EXPECT_NE(out.find(stage), std::string::npos) << stage << "\n" << out;
  }
  // One translation per test line.
  const auto translations = test::read_file(work + "/test.out");
  EXPECT_EQ(std::count(translations.begin(), translations.end(), '\n'), 1000);
}

}  // namespace
}  // namespace tandem
