// Language models from the command line: tandem-train --type lm, tandem-score
// and tandem-sample, run as a user runs them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "tandem/model/checkpoint.h"
#include "tandem/util/utf8.h"
#include "tandem/vocab/special_ids.h"
#include "tandem/vocab/tokenizer.h"
#include "test_support.h"

namespace tandem {
namespace {

using test::run_program;

const std::string kSentence = "Ein Hund läuft durch den Schnee.";

// Trains a language model on `text` into a new folder's lm/; `extra` adds options
// (--vocabs, or the size of the vocabulary trained on the text).
std::string train_lm(const std::string& text, const std::string& extra) {
  const std::string d = test::temp_dir();
  test::write_file(d + "/text.txt", text);
  const auto r = run_program("tandem-train", "--type lm --model " + d + "/lm -t " + d + "/text.txt" +
                                                 " --cell lstm --dim-emb 16 --dim-rnn 32 --valid-freq 0 --quiet"
                                                 " --cpu-threads 1 " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return d;
}

// An LM that has learnt one sentence by heart.
const std::string& memorized_lm() {
  static const std::string dir = [] {
    std::string text;
    for (int i = 0; i < 32; ++i) text += kSentence + "\n";
    // Its own vocabulary of 22 pieces (the sentence's 17 characters, a few longer pieces, the special ids).
    return train_lm(text, "--dim-vocabs 22 --after-updates 120 --learn-rate 0.02 --dropout-emb 0 --dropout-rnn 0 "
                          "--dropout-out 0");
  }();
  return dir;
}

// An LM that has barely trained: its samples vary.
const std::string& barely_trained_lm() {
  static const std::string dir = [] {
    std::string text;
    for (const auto& s : test::sample_sentences()) text += s + "\n";
    return train_lm(text, "--vocabs " + test::sample_model_path() + " --after-updates 3");
  }();
  return dir;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// log P(line): bos in, every piece and eos predicted, summed by hand step by step.
double log_prob_by_hand(model::Seq2Seq& lm, const vocab::Tokenizer& tokenizer, const std::string& line) {
  torch::NoGradGuard no_grad;
  lm->eval();
  const auto ids = tokenizer.encode(line);
  auto state = lm->start(lm->encode(torch::full({1, 1}, vocab::kEosId, torch::kInt64), torch::ones({1}, torch::kInt64)));
  int64_t previous = vocab::kBosId;
  double sum = 0.0;
  for (size_t t = 0; t <= ids.size(); ++t) {
    const int64_t next = t < ids.size() ? ids[t] : vocab::kEosId;
    const auto out = lm->step(torch::full({1}, previous, torch::kInt64), state);
    sum += torch::log_softmax(lm->logits(out.features), /*dim=*/-1)[0][next].item<double>();
    previous = next;
  }
  return sum;
}

TEST(LanguageModelProgramTest, AMemorizedSentenceComesBackGreedyColdAndFromItsPrefix) {
  const auto& d = memorized_lm();
  auto r = run_program("tandem-sample", "-m " + d + "/lm -n 3 --beam-size 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out), std::vector<std::string>(3, kSentence)) << r.out;
  r = run_program("tandem-sample", "-m " + d + "/lm -n 3 --temperature 0.0001 --quiet");  // cold sampling is greedy
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out), std::vector<std::string>(3, kSentence)) << r.out;
  test::write_file(d + "/prefixes.txt", "Ein Hund\n\n");
  r = run_program("tandem-sample", "-m " + d + "/lm -i " + d + "/prefixes.txt --beam-size 3 --quiet --output-scores");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 2u);  // one line per input line
  EXPECT_EQ(out[0].substr(0, out[0].find(" ||| ")), kSentence);
  EXPECT_EQ(out[1].substr(0, out[1].find(" ||| ")), kSentence);
  // The score is log P of the whole sentence, prefix included.
  auto lm = model::load_checkpoint(d + "/lm/model.ckpt", torch::kCPU);
  const auto tokenizer = vocab::Tokenizer::from_bytes(lm.meta.target_vocab, "lm");
  EXPECT_NEAR(std::stod(out[0].substr(out[0].find(" ||| ") + 5)), log_prob_by_hand(lm.model, tokenizer, kSentence),
              1e-4);
}

TEST(LanguageModelProgramTest, SamplesDependOnTheSeedAndNotOnTheBatching) {
  const auto& d = barely_trained_lm();
  const std::string common = "-m " + d + "/lm -n 24 --seed 3 --max-length 12 --quiet ";
  const auto one = run_program("tandem-sample", common + "--mini-batch 1");
  const auto many = run_program("tandem-sample", common + "--mini-batch 64");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(many.out, one.out);
  const auto lines = lines_of(one.out);
  ASSERT_EQ(lines.size(), 24u);
  EXPECT_NE(std::count(lines.begin(), lines.end(), lines[0]), 24) << one.out;  // novel sentences, not one
  const auto again = run_program("tandem-sample", common + "--mini-batch 5");
  EXPECT_EQ(again.out, one.out);
  const auto other = run_program("tandem-sample", "-m " + d + "/lm -n 24 --seed 4 --max-length 12 --quiet");
  EXPECT_NE(other.out, one.out);
  const auto topk = run_program("tandem-sample", common + "--top-k 3 --temperature 0.7");
  ASSERT_EQ(topk.exit_code, 0) << topk.err;
  EXPECT_EQ(lines_of(topk.out).size(), 24u);
}

TEST(LanguageModelProgramTest, ScoresAreLogProbabilitiesOfTheLines) {
  const auto& d = barely_trained_lm();
  const std::vector<std::string> lines = {"Zwei Hunde spielen im Schnee.", "Ein Mann fährt.", "Děti si hrají."};
  std::string text;
  for (const auto& line : lines) text += line + "\r\n";  // CRLF is cleaned as everywhere
  test::write_file(d + "/score.txt", text);
  const auto r = run_program("tandem-score", "-m " + d + "/lm -t " + d + "/score.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lm = model::load_checkpoint(d + "/lm/model.ckpt", torch::kCPU);
  const auto tokenizer = vocab::Tokenizer::from_bytes(lm.meta.target_vocab, "lm");
  const auto scores = lines_of(r.out);
  ASSERT_EQ(scores.size(), lines.size());
  double total = 0.0;
  int64_t pieces = 0;
  int64_t characters = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const double by_hand = log_prob_by_hand(lm.model, tokenizer, lines[i]);
    EXPECT_NEAR(std::stod(scores[i]), by_hand, 2e-5) << lines[i];
    total += by_hand;
    pieces += static_cast<int64_t>(tokenizer.encode(lines[i]).size()) + 1;
    characters += static_cast<int64_t>(util::decode_utf8(lines[i]).size()) + 1;
  }
  const auto summary = run_program("tandem-score", "-m " + d + "/lm -t " + d + "/score.txt --summary");
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  double ce = 0, ppl = 0, bpc = 0;
  ASSERT_EQ(std::sscanf(summary.out.c_str(), "cross-entropy %lf perplexity %lf", &ce, &ppl), 2) << summary.out;
  ASSERT_NE(summary.out.find("bits per character "), std::string::npos) << summary.out;
  bpc = std::stod(summary.out.substr(summary.out.find("bits per character ") + 19));
  EXPECT_NEAR(ce, -total / static_cast<double>(pieces), 1e-5);
  EXPECT_NEAR(ppl, std::exp(ce), 1e-3 * ppl);
  EXPECT_NEAR(bpc, -total / std::log(2.0) / static_cast<double>(characters), 1e-4);
}

TEST(LanguageModelProgramTest, ACharacterLevelModelGetsLengthLimitsForCharacters) {
  const std::string d = test::temp_dir();
  std::string text;
  for (int copy = 0; copy < 4; ++copy) {
    for (const auto& s : test::sample_sentences()) text += s + "\n";
  }
  const std::string long_line = "Ein sehr langer Satz, der weit mehr als hundert Zeichen hat, damit ihn die Grenze "
                                "für Teilwörter verwürfe, die für Zeichen aber behält.";
  ASSERT_GT(long_line.size(), 120u);
  test::write_file(d + "/text.txt", text + long_line + "\n");
  auto r = run_program("tandem-vocab", "-i " + d + "/text.txt -o " + d + "/char.spm --model-type char --vocab-size 70 "
                                       "--character-coverage 0.99");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string train = "--type lm -t " + d + "/text.txt --vocabs " + d + "/char.spm --dim-emb 8 --dim-rnn 8 "
                            "--after-updates 1 --valid-freq 0 --cpu-threads 1 ";
  r = run_program("tandem-train", train + "--model " + d + "/char");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("max length: 400 pieces (a character vocabulary)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0 too long"), std::string::npos) << r.err;  // the long line is kept
  r = run_program("tandem-train", train + "--model " + d + "/char100 --max-length 100");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 too long"), std::string::npos) << r.err;
  r = run_program("tandem-sample", "-m " + d + "/char -n 2 --quiet");  // up to 400 characters a sentence
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 2u);
  r = run_program("tandem-sample", "--help");
  EXPECT_NE(r.out.find("100, or 400 for characters"), std::string::npos) << r.out;
}

TEST(LanguageModelProgramTest, EveryProgramChecksTheModelType) {
  const auto& lm = barely_trained_lm();
  test::write_file(lm + "/one.txt", "Ein Mann.\n");
  auto r = run_program("tandem-translate", "-m " + lm + "/lm", "Ein Mann.\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(lm + "/lm: a language model"), std::string::npos) << r.err;
  r = run_program("tandem-score", "-m " + lm + "/lm -t " + lm + "/one.txt " + lm + "/one.txt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a language model: give it one text file"), std::string::npos) << r.err;
  // A translation model: tandem-sample refuses it, and so does resuming it as a language model.
  const std::string s2s = test::temp_dir();
  std::string text;
  for (const auto& s : test::sample_sentences()) text += s + "\n";
  test::write_file(s2s + "/train.txt", text);
  const std::string train = "--model " + s2s + "/m -t " + s2s + "/train.txt " + s2s + "/train.txt --vocabs " +
                            test::sample_model_path() + " --dim-emb 8 --dim-rnn 8 --after-updates 1 --valid-freq 0 --quiet";
  ASSERT_EQ(run_program("tandem-train", train).exit_code, 0);
  r = run_program("tandem-sample", "-m " + s2s + "/m -n 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(s2s + "/m: a translation model"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--type lm --model " + s2s + "/m -t " + s2s + "/train.txt --after-updates 2 --quiet");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(s2s + "/m/model.ckpt: a s2s checkpoint"), std::string::npos) << r.err;
  r = run_program("tandem-train", "--type lm --model " + s2s + "/new -t " + s2s + "/train.txt " + s2s + "/train.txt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--type lm trains on one file"), std::string::npos) << r.err;
  const auto help = run_program("tandem-sample", "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--temperature arg (=1)"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace tandem
