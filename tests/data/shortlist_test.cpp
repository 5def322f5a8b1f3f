// Vocabulary shortlists: built from a corpus, saved and read back, Marian's
// lexical shortlists, and translation over a shortlist.
#include "tandem/data/shortlist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"
#include "test_support.h"

namespace tandem::data {
namespace {

ParallelCorpus sample_corpus(const std::string& dir) {
  std::string source, target;
  for (const auto& s : test::sample_sentences()) {
    source += s + "\n";
    target += s + " " + s + "\n";  // each target holds its source's pieces
  }
  test::write_file(dir + "/src.txt", source);
  test::write_file(dir + "/tgt.txt", target);
  CorpusOptions options;
  options.source_path = dir + "/src.txt";
  options.target_path = dir + "/tgt.txt";
  return ParallelCorpus::load(options, test::sample_tokenizer(), test::sample_tokenizer());
}

TEST(ShortlistTest, BuiltFromACorpusSavedAndReadBack) {
  const std::string dir = test::temp_dir();
  const auto corpus = sample_corpus(dir);
  const auto list = Shortlist::build(corpus, /*keep=*/5);
  // Frequencies: the first piece is the most frequent target piece.
  std::map<int32_t, int64_t> counts;
  for (int64_t i = 0; i < corpus.size(); ++i) {
    for (const int32_t t : corpus.pair(i).target) ++counts[t];
  }
  ASSERT_EQ(list.frequent().size(), counts.size());
  for (const auto& [id, n] : counts) EXPECT_LE(n, counts[list.frequent().front()]);
  // A source's best associated pieces include pieces it always appears with.
  const auto pair = corpus.pair(0);
  const auto candidates = list.candidates({pair.source}, /*first=*/0, /*best=*/5);
  EXPECT_TRUE(std::is_sorted(candidates.begin(), candidates.end()));
  EXPECT_EQ(std::adjacent_find(candidates.begin(), candidates.end()), candidates.end());
  for (const int32_t special : {vocab::kPadId, vocab::kUnkId, vocab::kBosId, vocab::kEosId}) {
    EXPECT_TRUE(std::binary_search(candidates.begin(), candidates.end(), special));
  }
  EXPECT_GT(candidates.size(), 4u);
  EXPECT_LE(candidates.size(), 4u + 5u * pair.source.size());
  const auto with_first = list.candidates({pair.source}, /*first=*/3, /*best=*/5);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_TRUE(std::binary_search(with_first.begin(), with_first.end(), list.frequent()[k]));
  }
  // Saved and read back: the same candidates for every sentence.
  list.save(dir + "/list.txt", test::sample_tokenizer(), test::sample_tokenizer());
  const auto loaded = Shortlist::load(dir + "/list.txt", test::sample_tokenizer(), test::sample_tokenizer());
  EXPECT_EQ(loaded.frequent(), list.frequent());
  for (int64_t i = 0; i < corpus.size(); ++i) {
    EXPECT_EQ(loaded.candidates({corpus.pair(i).source}, 7, 3), list.candidates({corpus.pair(i).source}, 7, 3)) << i;
  }
}

TEST(ShortlistTest, ABuildInShardsOfSourcePiecesEqualsABuildInOne) {
  const std::string dir = test::temp_dir();
  const auto corpus = sample_corpus(dir);
  const auto& tok = test::sample_tokenizer();
  Shortlist::build(corpus, /*keep=*/4).save(dir + "/one.txt", tok, tok);
  // A bound of one row's bytes: one source piece a shard, a pass over the corpus each.
  Shortlist::build(corpus, /*keep=*/4, /*memory_bytes=*/1).save(dir + "/rows.txt", tok, tok);
  Shortlist::build(corpus, /*keep=*/4, /*memory_bytes=*/7 * 4 * tok.vocab_size()).save(dir + "/seven.txt", tok, tok);
  const std::string one = test::read_file(dir + "/one.txt");
  EXPECT_GT(std::count(one.begin(), one.end(), '\n'), 100);
  EXPECT_EQ(test::read_file(dir + "/rows.txt"), one);
  EXPECT_EQ(test::read_file(dir + "/seven.txt"), one);
}

TEST(ShortlistTest, MarianLexicalShortlistsAndBadFiles) {
  const std::string dir = test::temp_dir();
  const auto& tok = test::sample_tokenizer();
  const std::string a = tok.piece(10), b = tok.piece(11), c = tok.piece(12);
  // Marian: TARGET SOURCE PROB; FIRST is the first ids of the vocabulary.
  test::write_file(dir + "/lex.s2t", b + " " + a + " 0.2\n" + c + " " + a + " 0.7\nunknownword " + a + " 0.1\n");
  const auto lex = Shortlist::load(dir + "/lex.s2t", tok, tok);
  const auto ids = lex.candidates({{10}}, /*first=*/6, /*best=*/1);
  EXPECT_EQ(ids, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 12}));  // the most probable of source 10 is 12
  test::write_file(dir + "/bad.txt", "f " + a + "\nl " + a + " " + b + " notanumber\n");
  try {
    Shortlist::load(dir + "/bad.txt", tok, tok);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/bad.txt:2: 'notanumber' is not a number"), std::string::npos) << e.what();
  }
  test::write_file(dir + "/other.txt", "f ▁NotAPieceOfThisVocabulary\n");
  try {
    Shortlist::load(dir + "/other.txt", tok, tok);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.txt:1: '▁NotAPieceOfThisVocabulary' is not a piece"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Shortlist::load(dir + "/missing.txt", tok, tok), Error);
}

// With the dates recipe's small model: a shortlist holding every piece of the references
// and of the unrestricted translations gives the same greedy translations, and one
// holding the whole vocabulary the same beam-5 translations; a tight one is
// still one line per line. tandem-corpus writes a shortlist tandem-translate reads.
TEST(ShortlistProgramTest, AShortlistWithEveryNeededPieceTranslatesAsTheWholeVocabulary) {
  const std::string work = test::small_dates_work_dir();
  const std::string dir = test::temp_dir();
  std::istringstream src(test::read_file(work + "/data/test.src")), tgt(test::read_file(work + "/data/test.tgt"));
  std::string source_text, reference_text;
  std::string line;
  for (int i = 0; i < 300 && std::getline(src, line); ++i) source_text += line + "\n";
  for (int i = 0; i < 300 && std::getline(tgt, line); ++i) reference_text += line + "\n";
  test::write_file(dir + "/in.txt", source_text);
  const std::string model = "-m " + work + "/model --cpu-threads 1 --quiet -i " + dir + "/in.txt ";
  auto r = test::run_program("tandem-translate", model + "-b 1 -o " + dir + "/greedy.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_program("tandem-translate", model + "-b 5 -o " + dir + "/beam.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto tok = vocab::Tokenizer::load(work + "/vocab.spm");
  std::set<std::string> pieces;
  for (const std::string& text : {reference_text, test::read_file(dir + "/greedy.txt")}) {
    std::istringstream lines(text);
    while (std::getline(lines, line)) {
      for (const int32_t id : tok.encode(line)) pieces.insert(tok.piece(id));
    }
  }
  std::string needed = "# the pieces of the references and of the greedy translations\n";
  for (const auto& p : pieces) needed += "f " + p + "\n";
  test::write_file(dir + "/needed.txt", needed);
  r = test::run_program("tandem-translate",
                        model + "-b 1 -o " + dir + "/greedy-sl.txt --shortlist " + dir + "/needed.txt " +
                            std::to_string(pieces.size()) + " 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(dir + "/greedy-sl.txt"), test::read_file(dir + "/greedy.txt"));
  std::string whole;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) whole += "f " + tok.piece(id) + "\n";
  test::write_file(dir + "/whole.txt", whole);
  r = test::run_program("tandem-translate", model + "-b 5 -o " + dir + "/beam-sl.txt --shortlist " + dir +
                                                "/whole.txt " + std::to_string(tok.vocab_size()) + " 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(dir + "/beam-sl.txt"), test::read_file(dir + "/beam.txt"));
  // Built by tandem-corpus from the training pairs, tight: still a line for every line.
  r = test::run_program("tandem-corpus", "-t " + work + "/data/train.src " + work + "/data/train.tgt --vocabs " + work +
                                             "/vocab.spm --write-shortlist " + dir + "/corpus.txt --cpu-threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("shortlist: " + dir + "/corpus.txt"), std::string::npos) << r.out;
  r = test::run_program("tandem-translate", model + "-b 5 -o " + dir + "/tight.txt --shortlist " + dir +
                                                "/corpus.txt 20 10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto tight = test::read_file(dir + "/tight.txt");
  EXPECT_EQ(std::count(tight.begin(), tight.end(), '\n'), 300);
  r = test::run_program("tandem-translate", model + "-o " + dir + "/x.txt --shortlist " + dir + "/corpus.txt ten");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--shortlist: FIRST must be a count, not 'ten'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem::data
