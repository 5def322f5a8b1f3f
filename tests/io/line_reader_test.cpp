#include "tandem/io/line_reader.h"

#include <gtest/gtest.h>

#include "tandem/error.h"
#include "test_support.h"

namespace tandem::io {
namespace {

std::vector<std::string> all_lines(const std::string& path) {
  LineReader reader(path);
  std::vector<std::string> lines;
  std::string line;
  while (reader.next(line)) {
    lines.push_back(line);
    EXPECT_EQ(reader.line_number(), lines.size());
  }
  return lines;
}

TEST(LineReaderTest, PlainAndGzipReadTheSame) {
  const std::string dir = test::temp_dir();
  const std::string text = "eins\nzwei\n\ndrei";
  test::write_file(dir + "/a.txt", text);
  test::write_gzip(dir + "/a.txt.gz", text);
  const std::vector<std::string> expected = {"eins", "zwei", "", "drei"};
  EXPECT_EQ(all_lines(dir + "/a.txt"), expected);
  EXPECT_EQ(all_lines(dir + "/a.txt.gz"), expected);
}

TEST(LineReaderTest, FinalNewlineAddsNoLineAndCarriageReturnsStay) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/a.txt", "x\r\ny\n");
  EXPECT_EQ(all_lines(dir + "/a.txt"), (std::vector<std::string>{"x\r", "y"}));
  test::write_file(dir + "/empty.txt", "");
  EXPECT_TRUE(all_lines(dir + "/empty.txt").empty());
  test::write_file(dir + "/newline.txt", "\n");
  EXPECT_EQ(all_lines(dir + "/newline.txt"), std::vector<std::string>{""});
}

TEST(LineReaderTest, LongLinesSurviveBufferBoundaries) {
  const std::string dir = test::temp_dir();
  const std::string long_line(300000, 'x');
  test::write_gzip(dir + "/long.gz", long_line + "\nshort\n" + long_line);
  const auto lines = all_lines(dir + "/long.gz");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], long_line);
  EXPECT_EQ(lines[1], "short");
  EXPECT_EQ(lines[2], long_line);
}

TEST(LineReaderTest, MissingFileIsAnErrorNamingIt) {
  try {
    LineReader reader("/nonexistent/corpus.de");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/corpus.de"), std::string::npos);
  }
}

TEST(LineReaderTest, TruncatedGzipIsAnError) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line number " + std::to_string(i) + "\n";
  test::write_gzip(dir + "/full.gz", text);
  const std::string bytes = test::read_file(dir + "/full.gz");
  test::write_file(dir + "/cut.gz", bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(all_lines(dir + "/cut.gz"), Error);
}

}  // namespace
}  // namespace tandem::io
