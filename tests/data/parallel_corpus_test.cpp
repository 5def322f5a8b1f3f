#include "tandem/data/parallel_corpus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "tandem/data/batcher.h"
#include "tandem/error.h"
#include "tandem/io/id_cache.h"
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

namespace tandem::data {
namespace {

std::string sample_text(size_t repeat) {
  std::string text;
  for (size_t r = 0; r < repeat; ++r) {
    for (const auto& s : test::sample_sentences()) text += s + "\n";
  }
  return text;
}

void expect_same_pairs(const ParallelCorpus& a, const ParallelCorpus& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.report().summary(), b.report().summary());
  for (int64_t i = 0; i < a.size(); ++i) {
    const auto x = a.pair(i);
    const auto y = b.pair(i);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.target, y.target);
    EXPECT_EQ(x.line, y.line);
    EXPECT_EQ(a.source_length(i), static_cast<int64_t>(y.source.size()));
  }
}

// Two builders of one cache at once, with no lock between them (ranks of several
// machines on a file system without flock): each stages its own files and
// publishes a whole cache by rename; what is left is complete and right.
TEST(IdCacheCorpusTest, TwoWritersOfOneCacheAtOnceLeaveAWholeCache) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/ids";
  io::IdCacheWriter a(path, "key"), b(path, "key");
  for (int32_t i = 0; i < 100; ++i) {
    const int32_t source[3] = {i, i + 1, i + 2};
    const int32_t target[2] = {-i, 7};
    a.add(source, 3, target, 2, static_cast<uint64_t>(i + 1));
    b.add(source, 3, target, 2, static_cast<uint64_t>(i + 1));
  }
  a.finish("report");
  b.finish("report");
  std::string why;
  const auto cache = io::IdCache::open(path, "key", &why);
  ASSERT_NE(cache, nullptr) << why;
  ASSERT_EQ(cache->size(), 100);
  for (int64_t i = 0; i < 100; ++i) {
    const auto& e = cache->entry(i);
    EXPECT_EQ(e.line, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(cache->ids()[e.offset], i);
    EXPECT_EQ(cache->ids()[e.offset + 3], -i);
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {  // no staging file left behind
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

// A side of more than 65,535 pieces (no --max-length) keeps its exact length,
// read from the text and from the cache alike.
TEST(IdCacheCorpusTest, ASideOfMoreThan65535PiecesKeepsItsExactLength) {
  const std::string dir = test::temp_dir();
  std::string long_line;
  for (int i = 0; i < 70000; ++i) long_line += i % 2 == 0 ? "dog " : "cat ";
  auto options = files(dir, "a short one\n" + long_line + "\n", long_line + "\nanother short one\n");
  options.max_length = 0;
  const auto& tok = test::sample_tokenizer();
  const auto plain = ParallelCorpus::load(options, tok, tok);
  ASSERT_EQ(plain.size(), 2);
  const auto pair = plain.pair(1);
  ASSERT_GT(pair.source.size(), 65535u) << "the line must be longer than 65,535 pieces for this test";
  EXPECT_EQ(plain.source_length(1), static_cast<int64_t>(pair.source.size()));
  EXPECT_EQ(plain.target_length(0), static_cast<int64_t>(plain.pair(0).target.size()));
  EXPECT_GT(plain.target_length(0), 65535);
  options.cache_folder = dir + "/cache";
  ParallelCorpus::load(options, tok, tok);
  const auto reused = ParallelCorpus::load(options, tok, tok);
  ASSERT_EQ(reused.cache_status(), "reused");
  expect_same_pairs(plain, reused);
  EXPECT_EQ(reused.target_length(0), plain.target_length(0));
}

// Footer counts so large that the regions' sizes would wrap around are a
// damaged file, rejected, never mapped past its end.
TEST(IdCacheCorpusTest, AFooterWhoseSizesOverflowIsDamaged) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/ids";
  {
    io::IdCacheWriter writer(path, "key");
    const int32_t ids[2] = {5, 6};
    writer.add(ids, 1, ids + 1, 1, 1);
    writer.finish("report");
  }
  const std::string bytes = test::read_file(path);
  const size_t footer = bytes.size() - 16 - 4 * sizeof(uint64_t);
  for (const uint64_t pairs : {uint64_t{1} << 61, UINT64_MAX, (UINT64_MAX / 24) + 1}) {
    std::string damaged = bytes;
    std::memcpy(&damaged[footer + sizeof(uint64_t)], &pairs, sizeof(pairs));
    test::write_file(path, damaged);
    std::string why;
    EXPECT_EQ(io::IdCache::open(path, "key", &why), nullptr) << pairs;
    EXPECT_EQ(why, "damaged (sizes disagree)") << pairs;
  }
  for (const uint64_t ids : {UINT64_MAX, UINT64_MAX / 4 + 1}) {
    std::string damaged = bytes;
    std::memcpy(&damaged[footer], &ids, sizeof(ids));
    test::write_file(path, damaged);
    std::string why;
    EXPECT_EQ(io::IdCache::open(path, "key", &why), nullptr) << ids;
    EXPECT_EQ(why, "damaged (sizes disagree)") << ids;
  }
}

TEST(IdCacheCorpusTest, TheCacheGivesThePairsTheTextGivesAndIsReused) {
  const std::string dir = test::temp_dir();
  // Enough lines for several tokenization chunks on several threads, one pair too long.
  auto options = files(dir, sample_text(700) + "x\n", sample_text(700) + std::string(300, 'a') + "\n");
  options.max_length = 60;
  options.threads = 3;
  const auto& tok = test::sample_tokenizer();
  const auto plain = ParallelCorpus::load(options, tok, tok);
  EXPECT_TRUE(plain.cache_path().empty());
  options.cache_folder = dir + "/cache";
  const auto built = ParallelCorpus::load(options, tok, tok);
  EXPECT_EQ(built.cache_status(), "built");
  expect_same_pairs(plain, built);
  EXPECT_EQ(built.report().skipped_too_long, 1);
  options.threads = 1;
  const auto reused = ParallelCorpus::load(options, tok, tok);
  EXPECT_EQ(reused.cache_status(), "reused");
  expect_same_pairs(plain, reused);
  // Identical batches from the cache and from the text.
  const auto lengths = [](const ParallelCorpus& c) {
    return Batcher(
        c.size(), [&c](int64_t i) { return c.source_length(i); }, [&c](int64_t i) { return c.target_length(i); },
        BatchOptions{});
  };
  EXPECT_EQ(lengths(plain).plan(2), lengths(reused).plan(2));
}

TEST(IdCacheCorpusTest, ChangedTextAnotherVocabularyOrATruncatedFileRebuildTheCache) {
  const std::string dir = test::temp_dir();
  auto options = files(dir, sample_text(3), sample_text(3));
  options.cache_folder = dir + "/cache";
  const auto& tok = test::sample_tokenizer();
  const auto first = ParallelCorpus::load(options, tok, tok);
  ASSERT_EQ(first.cache_status(), "built");
  const std::string path = first.cache_path();

  // The text changes (size and time): rebuilt, with the new pairs.
  test::write_file(dir + "/src.txt", sample_text(2));
  test::write_file(dir + "/tgt.txt", sample_text(2));
  const auto changed = ParallelCorpus::load(options, tok, tok);
  EXPECT_EQ(changed.cache_status(), "rebuilt (the old one was built from other files or another vocabulary)");
  auto plain_options = options;
  plain_options.cache_folder.clear();
  expect_same_pairs(ParallelCorpus::load(plain_options, tok, tok), changed);

  // A truncated copy (a full disk, an interrupted copy) is detected and rebuilt.
  const std::string bytes = test::read_file(path);
  test::write_file(path, bytes.substr(0, bytes.size() - 100));
  const auto repaired = ParallelCorpus::load(options, tok, tok);
  EXPECT_EQ(repaired.cache_status(), "rebuilt (the old one was truncated or damaged)");
  expect_same_pairs(changed, repaired);
  test::write_file(path, "x");
  EXPECT_NE(ParallelCorpus::load(options, tok, tok).cache_status().find("rebuilt (the old one was truncated"),
            std::string::npos);

  // Another length limit is another cache file; the first stays valid.
  options.max_length = 5;
  const auto shorter = ParallelCorpus::load(options, tok, tok);
  EXPECT_NE(shorter.cache_path(), path);
  EXPECT_EQ(shorter.cache_status(), "built");
  EXPECT_LT(shorter.size(), changed.size());
}

}  // namespace
}  // namespace tandem::data
