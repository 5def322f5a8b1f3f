// Language models on one continuous stream, the benchmarks' way (PTB, char-rnn):
// the words vocabulary, the stream and its columns, truncated backpropagation
// with the state carried and resumed exactly, stream scoring and sampling.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tandem/data/token_stream.h"
#include "tandem/model/checkpoint.h"
#include "tandem/model/stream_lm.h"
#include "tandem/vocab/special_ids.h"
#include "tandem/vocab/tokenizer.h"
#include "test_support.h"

namespace tandem {
namespace {

using test::run_program;

// A small text of PTB's shape: lower-case words, N for numbers, <unk> for rare words.
std::string ptb_like_text(int lines, uint64_t seed) {
  const std::vector<std::string> words = {"the", "company", "said", "N", "<unk>", "shares", "rose", "in",
                                          "trading", "of", "a", "new", "york", "market", "'s", "fell"};
  std::string text;
  uint64_t x = seed;
  for (int i = 0; i < lines; ++i) {
    const int n = 3 + static_cast<int>(i % 7);
    for (int w = 0; w < n; ++w) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      text += (w > 0 ? " " : " ") + words[(x >> 33) % words.size()];  // PTB's lines start with a space
    }
    text += " \n";
  }
  return text;
}

// Counts whitespace-separated words and lines: the benchmark's token count.
int64_t benchmark_tokens(const std::string& text) {
  std::istringstream in(text);
  int64_t tokens = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    for (std::string w; words >> w;) ++tokens;
    ++tokens;  // the line's <eos>
  }
  return tokens;
}

struct StreamFiles {
  std::string dir;
  std::string train, valid, vocab;
};

const StreamFiles& stream_files() {
  static const StreamFiles files = [] {
    StreamFiles f;
    f.dir = test::temp_dir();
    f.train = f.dir + "/train.txt";
    f.valid = f.dir + "/valid.txt";
    f.vocab = f.dir + "/words.vocab";
    test::write_file(f.train, ptb_like_text(400, 1));
    test::write_file(f.valid, ptb_like_text(40, 2));
    const auto r = run_program("tandem-vocab", "-i " + f.train + " -o " + f.vocab + " --model-type words --quiet");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return f;
  }();
  return files;
}

const std::string kStreamOptions =
    " --type lm --lm-stream --bptt 7 --mini-batch 4 --cell lstm --dim-emb 16 --dim-rnn 16 --dec-depth 2"
    " --dropout-emb 0.2 --dropout-rnn 0.2 --dropout-out 0.2 --init-range 0.1 --optim sgd --learn-rate 5"
    " --clip-norm 0.25 --lr-schedule plateau --lr-decay 0.25 --lr-patience 1 --early-stopping 0 --cpu-threads 1"
    " --disp-freq 1 --quiet";

// The "train" lines of a train.log.jsonl: one per update with --disp-freq 1.
std::vector<std::string> loss_lines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  const std::regex loss("\"loss\":[^,}]*");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.find("\"train\"") != std::string::npos && std::regex_search(line, m, loss)) lines.push_back(m.str());
  }
  return lines;
}

TEST(WordsVocabularyTest, HoldsEveryWordExactlyAsWrittenMostFrequentFirst) {
  const std::string d = test::temp_dir();
  // Words NFKC would change (a ligature, full-width digits), punctuation glued to words, tabs.
  test::write_file(d + "/t.txt", "b a\tﬁne １２\n a b b \n\nc, a\n");
  const auto r = run_program("tandem-vocab", "-i " + d + "/t.txt -o " + d + "/w.vocab --model-type words --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto tok = vocab::Tokenizer::load(d + "/w.vocab");
  EXPECT_TRUE(tok.is_word_level());
  EXPECT_FALSE(tok.is_character_level());
  ASSERT_EQ(tok.vocab_size(), 4 + 5);  // b a ﬁne １２ c,
  EXPECT_EQ(tok.piece(4), "b");        // 3 times
  EXPECT_EQ(tok.piece(5), "a");        // 3 times, seen after b
  EXPECT_EQ(tok.piece(6), "ﬁne");
  EXPECT_EQ(tok.piece(7), "１２");
  EXPECT_EQ(tok.piece(8), "c,");
  EXPECT_EQ(tok.encode("  c, ﬁne\tb "), (std::vector<int32_t>{8, 6, 4}));
  EXPECT_EQ(tok.decode(tok.encode("a  ﬁne")), "a ﬁne");
  EXPECT_EQ(tok.encode("fine"), (std::vector<int32_t>{vocab::kUnkId}));  // no normalization: not "ﬁne"
  EXPECT_FALSE(tok.maps_unknown_words());
}

TEST(WordsVocabularyTest, AnUnknownWordIsAnErrorNamingFileAndLineUnlessTheVocabularyHasUnk) {
  const std::string d = test::temp_dir();
  test::write_file(d + "/train.txt", "a b c\nb c a\nc a b\na c b\n");
  test::write_file(d + "/valid.txt", "a b\nb zebra c\n");
  ASSERT_EQ(run_program("tandem-vocab", "-i " + d + "/train.txt -o " + d + "/w.vocab --model-type words --quiet").exit_code, 0);
  const auto tok = vocab::Tokenizer::load(d + "/w.vocab");
  try {
    data::read_token_stream(d + "/valid.txt", tok);
    FAIL() << "an unknown word was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d + "/valid.txt:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'zebra'"), std::string::npos) << e.what();
  }
  // The same through tandem-train: validation text with an unknown word.
  const auto r = run_program("tandem-train", "--model " + d + "/m -t " + d + "/train.txt --valid-sets " + d +
                                                 "/valid.txt -v " + d + "/w.vocab --after-updates 1" +
                                                 kStreamOptions);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("valid.txt:2"), std::string::npos) << r.err;
  // With the benchmark's <unk> among its words, an unknown word reads as <unk>.
  test::write_file(d + "/train2.txt", "a b <unk>\n");
  ASSERT_EQ(run_program("tandem-vocab", "-i " + d + "/train2.txt -o " + d + "/u.vocab --model-type words --quiet").exit_code, 0);
  const auto with_unk = vocab::Tokenizer::load(d + "/u.vocab");
  EXPECT_TRUE(with_unk.maps_unknown_words());
  const auto stream = data::read_token_stream(d + "/valid.txt", with_unk);
  EXPECT_EQ(stream.ids[5], with_unk.encode("<unk>").front());  // eos a b eos b [zebra] c eos
  EXPECT_EQ(stream.unknown, 0);
}

TEST(TokenStreamTest, EveryLineEndsWithEosAndTheStreamOpensWithOne) {
  const auto& f = stream_files();
  const auto tok = vocab::Tokenizer::load(f.vocab);
  const std::string d = test::temp_dir();
  test::write_file(d + "/t.txt", " the company\n\n said N \n");
  const auto s = data::read_token_stream(d + "/t.txt", tok, /*count_characters=*/true);
  const auto id = [&](const char* w) { return tok.encode(w).front(); };
  EXPECT_EQ(s.ids, (std::vector<int32_t>{vocab::kEosId, id("the"), id("company"), vocab::kEosId, vocab::kEosId,
                                         id("said"), id("N"), vocab::kEosId}));
  EXPECT_EQ(s.predicted(), 7);  // 4 words and 3 line ends
  EXPECT_EQ(s.lines, 3);
  EXPECT_EQ(s.characters, 11 + 1 + 0 + 1 + 6 + 1);  // "the company", "", "said N", each line end one
  const std::string text = test::read_file(f.train);
  EXPECT_EQ(data::read_token_stream(f.train, tok).predicted(), benchmark_tokens(text));
}

TEST(TokenStreamTest, ColumnsAreTheBenchmarksAndSegmentsWalkDownThemEpochByEpoch) {
  std::vector<int32_t> ids(23);
  for (int32_t i = 0; i < 23; ++i) ids[static_cast<size_t>(i)] = 100 + i;
  data::StreamBatches batches(ids, /*columns=*/3, /*bptt=*/3);  // 3 columns of 7 (2 ids left over)
  EXPECT_EQ(batches.size(), 21);
  EXPECT_EQ(batches.segments_per_epoch(), 2);  // 6 predictions a column: 3 + 3
  auto s = batches.next();
  EXPECT_TRUE(s.starts_epoch);
  EXPECT_TRUE(torch::equal(s.input, torch::tensor({{100, 101, 102}, {107, 108, 109}, {114, 115, 116}}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(s.target, torch::tensor({{101, 102, 103}, {108, 109, 110}, {115, 116, 117}}, torch::kInt64)));
  s = batches.next();
  EXPECT_FALSE(s.starts_epoch);
  EXPECT_TRUE(torch::equal(s.target.select(1, 2), torch::tensor({106, 113, 120}, torch::kInt64)));
  EXPECT_EQ(batches.completed_epochs(), 1);
  EXPECT_EQ(batches.position(), (data::BatchPosition{1, 0}));
  data::StreamBatches shorter(ids, 2, 4);  // 2 columns of 11: 10 predictions = 4 + 4 + 2
  shorter.next();
  shorter.next();
  EXPECT_EQ(shorter.next().input.size(1), 2);
  shorter.seek({5, 1});
  EXPECT_TRUE(torch::equal(shorter.next().input, torch::tensor({{104, 105, 106, 107}, {115, 116, 117, 118}}, torch::kInt64)));
  EXPECT_THROW(data::StreamBatches(ids, 12, 3), Error);  // one id a column
}

TEST(StreamLanguageModelTest, TrainsValidatesEachEpochAndResumesExactlyWithTheCarriedState) {
  const auto& f = stream_files();
  const std::string d = test::temp_dir();
  const std::string common = " -t " + f.train + " --valid-sets " + f.valid + " -v " + f.vocab + " --valid-freq 1e" +
                             kStreamOptions;
  // 400 lines hold 2,799 tokens: 4 columns of 700, 100 segments of 7 an epoch; 3 epochs.
  const auto straight = run_program("tandem-train", "--model " + d + "/a --after-updates 300" + common);
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  // Stopped mid-epoch twice (the carried state and the position in the checkpoint), then resumed.
  for (const int until : {37, 150, 300}) {
    const auto r = run_program("tandem-train", "--model " + d + "/b --after-updates " + std::to_string(until) + common);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto a = loss_lines(test::read_file(d + "/a/train.log.jsonl"));
  const auto b = loss_lines(test::read_file(d + "/b/train.log.jsonl"));
  ASSERT_EQ(a.size(), 300u);
  EXPECT_EQ(a, b);
  const auto log = test::read_file(d + "/a/train.log.jsonl");
  size_t validations = 0;
  for (size_t at = log.find("\"valid\""); at != std::string::npos; at = log.find("\"valid\"", at + 1)) ++validations;
  EXPECT_EQ(validations, 3u);  // one at the end of each epoch
  const auto ca = model::load_checkpoint(d + "/a/model.ckpt", torch::kCPU);
  const auto cb = model::load_checkpoint(d + "/b/model.ckpt", torch::kCPU);
  const auto pa = ca.model->parameters();
  const auto pb = cb.model->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  EXPECT_EQ(ca.meta.state.position, (data::BatchPosition{3, 0}));
  // Without the carried state the resumed losses differ: the state is what the test checks.
  EXPECT_TRUE(ca.meta.stream_state.empty() || ca.meta.stream_state.size() == 2u);
  const auto mid = run_program("tandem-train", "--model " + d + "/c --after-updates 37" + common);
  ASSERT_EQ(mid.exit_code, 0) << mid.err;
  const auto cc = model::load_checkpoint(d + "/c/model.ckpt", torch::kCPU);
  ASSERT_EQ(cc.meta.stream_state.size(), 2u);  // LSTM: h and c
  EXPECT_EQ(cc.meta.stream_state[0].sizes(), (std::vector<int64_t>{2, 4, 16}));
  EXPECT_GT(cc.meta.stream_state[0].abs().sum().item<double>(), 0.0);
}

TEST(StreamLanguageModelTest, ScoresEveryTokenOfAFileWhateverTheChunk) {
  const auto& f = stream_files();
  const std::string d = test::temp_dir();
  ASSERT_EQ(run_program("tandem-train", "--model " + d + "/m -t " + f.train + " -v " + f.vocab + " --after-updates 20" +
                                            " --valid-freq 0" + kStreamOptions).exit_code, 0);
  auto ckpt = model::load_checkpoint(d + "/m/model.ckpt", torch::kCPU);
  ckpt.model->eval();
  const auto tok = vocab::Tokenizer::load(f.vocab);
  const auto text = data::read_token_stream(f.valid, tok);
  const auto whole = model::score_stream(ckpt.model, text.ids, torch::kCPU, model::Precision::kFloat32, 4096);
  const auto pieces = model::score_stream(ckpt.model, text.ids, torch::kCPU, model::Precision::kFloat32, 5);
  EXPECT_EQ(whole.tokens, benchmark_tokens(test::read_file(f.valid)));
  EXPECT_EQ(pieces.tokens, whole.tokens);
  EXPECT_NEAR(pieces.log_prob, whole.log_prob, 1e-6 * std::abs(whole.log_prob));
  // tandem-score --stream prints the same figure and the count.
  const auto r = run_program("tandem-score", "-m " + d + "/m -t " + f.valid + " --stream --quiet --cpu-threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("cross-entropy ([0-9.]+) perplexity [0-9.]+ over ([0-9]+) tokens")))
      << r.out;
  EXPECT_NEAR(std::stod(m[1].str()), -whole.log_prob / static_cast<double>(whole.tokens), 1e-5);
  EXPECT_EQ(std::stoll(m[2].str()), whole.tokens);
  // Sampling continues the prefix: the same seed, the same text; --length tokens, line ends included.
  const std::string sample = "-m " + d + "/m --stream --prefix 'the company' --length 40 --temperature 1 --quiet --cpu-threads 1";
  const auto s1 = run_program("tandem-sample", sample + " --seed 7");
  const auto s2 = run_program("tandem-sample", sample + " --seed 7");
  const auto s3 = run_program("tandem-sample", sample + " --seed 8");
  ASSERT_EQ(s1.exit_code, 0) << s1.err;
  EXPECT_EQ(s1.out, s2.out);
  EXPECT_NE(s1.out, s3.out);
  EXPECT_EQ(s1.out.rfind("the company", 0), 0u) << s1.out;
  // 2 prefix words + 40 drawn tokens = words + line ends (the last line may be open).
  int64_t words = 0;
  int64_t ends = 0;
  std::istringstream in(s1.out);
  for (std::string line; std::getline(in, line); ++ends) {
    std::istringstream ws(line);
    for (std::string w; ws >> w;) ++words;
  }
  const bool open_end = !s1.out.empty() && s1.out.back() == '\n';
  EXPECT_TRUE(words + ends == 42 || words + ends - (open_end ? 1 : 0) == 42) << s1.out;
}

TEST(StreamLanguageModelTest, StreamTrainingSaysWhatItNeeds) {
  const auto& f = stream_files();
  const std::string d = test::temp_dir();
  auto r = run_program("tandem-train", "--model " + d + "/m -t " + f.train + " " + f.train + " -v " + f.vocab +
                                           " --lm-stream --after-updates 1 --quiet");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--lm-stream needs --type lm"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--model " + d + "/n -t " + f.train + " -v " + f.vocab + kStreamOptions +
                                      " --num-processes 2 --after-updates 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--lm-stream trains in one process"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--model " + d + "/o -t " + f.train + " -v " + f.vocab + kStreamOptions +
                                      " --valid-freq 2x");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--valid-freq '2x'"), std::string::npos) << r.err;
}

TEST(StreamLanguageModelTest, BitsPerCharacterCountTheNormalizedText) {
  // Sentence by sentence: runs of spaces are collapsed by the vocabulary's
  // normalization and never predicted, so they are not counted.
  const std::string d = test::temp_dir();
  std::string text;
  for (int i = 0; i < 20; ++i) text += "ab ba\n";
  test::write_file(d + "/t.txt", text);
  test::write_file(d + "/spaced.txt", "ab    ba  \n");
  ASSERT_EQ(run_program("tandem-vocab", "-i " + d + "/t.txt -o " + d + "/c.spm --model-type char --quiet").exit_code, 0);
  ASSERT_EQ(run_program("tandem-train", "--type lm --model " + d + "/m -t " + d + "/t.txt -v " + d +
                                            "/c.spm --dim-emb 8 --dim-rnn 8 --after-updates 2 --valid-freq 0 --quiet "
                                            "--cpu-threads 1").exit_code, 0);
  const auto r = run_program("tandem-score", "-m " + d + "/m -t " + d + "/spaced.txt --summary --quiet --cpu-threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("over 6 characters"), std::string::npos) << r.out;  // "ab ba" and the line end
  EXPECT_NE(r.out.find("0 unknown pieces"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tandem
