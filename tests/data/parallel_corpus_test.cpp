#include "tandem/data/parallel_corpus.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tandem/error.h"
#include "test_support.h"

namespace tandem::data {
namespace {

CorpusOptions files(const std::string& dir, const std::string& source, const std::string& target) {
  test::write_file(dir + "/src.txt", source);
  test::write_file(dir + "/tgt.txt", target);
  CorpusOptions options;
  options.source_path = dir + "/src.txt";
  options.target_path = dir + "/tgt.txt";
  return options;
}

std::string error_of(const CorpusOptions& options) {
  try {
    ParallelCorpus::load(options, test::sample_tokenizer(), test::sample_tokenizer());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ParallelCorpusTest, ReadsAlignedGzipAndPlainFiles) {
  const std::string dir = test::temp_dir();
  test::write_gzip(dir + "/src.gz", "Zwei Hunde spielen.\nEin Mann fährt.\n");
  test::write_file(dir + "/tgt.txt", "Two dogs are running.\r\nA young woman.\r\n");
  CorpusOptions options;
  options.source_path = dir + "/src.gz";
  options.target_path = dir + "/tgt.txt";
  const auto& tok = test::sample_tokenizer();
  const auto corpus = ParallelCorpus::load(options, tok, tok);
  ASSERT_EQ(corpus.size(), 2);
  EXPECT_EQ(tok.decode(corpus.pair(1).source), "Ein Mann fährt.");
  EXPECT_EQ(tok.decode(corpus.pair(1).target), "A young woman.");  // '\r' removed
  EXPECT_EQ(corpus.pair(1).line, 2);
  EXPECT_EQ(corpus.report().kept, 2);
}

TEST(ParallelCorpusTest, LineCountMismatchNamesBothFilesAndCounts) {
  const std::string dir = test::temp_dir();
  const auto message = error_of(files(dir, "a\nb\nc\n", "x\ny\n"));
  EXPECT_NE(message.find("src.txt has 3 lines"), std::string::npos) << message;
  EXPECT_NE(message.find("tgt.txt has 2;"), std::string::npos) << message;
}

TEST(ParallelCorpusTest, InvalidUtf8IsAnErrorOrACountedSkip) {
  const std::string dir = test::temp_dir();
  auto options = files(dir, "Ein Mann.\nZwei \xff Hunde.\nDrei.\n", "A man.\nTwo dogs.\nThree.\n");
  const auto message = error_of(options);
  EXPECT_NE(message.find("src.txt:2"), std::string::npos) << message;
  EXPECT_NE(message.find("--skip-invalid-utf8"), std::string::npos) << message;
  options.skip_invalid_utf8 = true;
  const auto corpus = ParallelCorpus::load(options, test::sample_tokenizer(), test::sample_tokenizer());
  EXPECT_EQ(corpus.size(), 2);
  EXPECT_EQ(corpus.report().skipped_invalid, 1);
  EXPECT_EQ(corpus.pair(1).line, 3);
}

TEST(ParallelCorpusTest, NulBytesAreInvalidText) {
  const std::string dir = test::temp_dir();
  const auto message = error_of(files(dir, std::string("a\0b\n", 4), "x\n"));
  EXPECT_NE(message.find("src.txt:1: NUL"), std::string::npos) << message;
}

TEST(ParallelCorpusTest, EmptyAndLongPairsAreSkippedAndCounted) {
  const std::string dir = test::temp_dir();
  auto options = files(dir, "\xEF\xBB\xBFZwei Hunde.\n\n   \nEin Mann fährt mit dem Fahrrad über die Straße.\nDrei.\n",
                       "Two dogs.\nnothing\nspaces\nA man rides a bike across the street.\n\n");
  const auto& tok = test::sample_tokenizer();
  options.max_length = static_cast<int64_t>(
      std::max(tok.encode("Zwei Hunde.").size(), tok.encode("Two dogs.").size()));
  ASSERT_GT(static_cast<int64_t>(tok.encode("Ein Mann fährt mit dem Fahrrad über die Straße.").size()),
            options.max_length);
  const auto corpus = ParallelCorpus::load(options, tok, tok);
  const auto& report = corpus.report();
  EXPECT_EQ(report.lines, 5);
  EXPECT_EQ(report.kept, 1);
  EXPECT_EQ(report.skipped_empty, 3);
  EXPECT_EQ(report.skipped_too_long, 1);
  EXPECT_EQ(report.kept + report.skipped_empty + report.skipped_too_long + report.skipped_invalid, report.lines);
  EXPECT_EQ(tok.decode(corpus.pair(0).source), "Zwei Hunde.");  // BOM removed
  EXPECT_NE(report.summary().find("3 empty"), std::string::npos);
}

TEST(ParallelCorpusTest, MissingFileIsAnError) {
  CorpusOptions options;
  options.source_path = "/nonexistent/a.en";
  options.target_path = "/nonexistent/a.de";
  EXPECT_NE(error_of(options).find("/nonexistent/a.en"), std::string::npos);
}

}  // namespace
}  // namespace tandem::data
