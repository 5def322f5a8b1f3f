#include "tandem/util/progress_line.h"

#include <gtest/gtest.h>

#include <sstream>

namespace tandem::util {
namespace {

TEST(ProgressLineTest, RewritesOneLineAndClearsItForTheLog) {
  std::ostringstream out;
  ProgressLine progress(out, /*enabled=*/true, /*min_interval_seconds=*/3600);
  progress.show("a");
  progress.show("b");  // too soon: not written
  progress.show("c", /*force=*/true);
  progress.clear();
  progress.clear();  // nothing shown: nothing written
  progress.show("d");
  progress.finish();
  EXPECT_EQ(out.str(), "\ra\033[K\rc\033[K\r\033[K\rd\033[K\n");
}

TEST(ProgressLineTest, DisabledWritesNothing) {
  std::ostringstream out;
  ProgressLine progress(out, /*enabled=*/false);
  progress.show("a", true);
  progress.clear();
  progress.finish();
  EXPECT_EQ(out.str(), "");
}

TEST(ProgressLineTest, DurationsReadAsClockTimes) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65.4), "1:05");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(format_duration(-1), "?");
}

}  // namespace
}  // namespace tandem::util
