// tandem-corpus, run as a user runs it.
#include <gtest/gtest.h>

#include "test_support.h"

namespace tandem {
namespace {

using test::run_program;

TEST(CorpusProgramTest, ReportsKeptAndSkippedPairsAndBatches) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/s", "Zwei Hunde.\n\nEin Mann.\n");
  test::write_file(dir + "/t", "Two dogs.\nnothing\nA man.\n");
  const auto r = run_program("tandem-corpus", "-t " + dir + "/s " + dir + "/t -v " + test::sample_model_path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 lines: 2 pairs kept, 1 skipped (1 empty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("batches: 1 in epoch 0"), std::string::npos) << r.out;
}

TEST(CorpusProgramTest, MisalignedFilesAreAnError) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/s", "a\nb\n");
  test::write_file(dir + "/t", "a\n");
  const auto r = run_program("tandem-corpus", "-t " + dir + "/s " + dir + "/t -v " + test::sample_model_path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has 2 lines"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("has 1;"), std::string::npos) << r.err;
}


}  // namespace
}  // namespace tandem
