#include "tandem/translator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <random>
#include <sstream>

#include "tandem/error.h"
#include "tandem/model/checkpoint.h"
#include "tandem/vocab/vocab_trainer.h"
#include "test_support.h"

namespace tandem {
namespace {

model::Seq2Seq tiny_model(uint64_t seed) {
  torch::manual_seed(seed);
  const auto v = test::sample_tokenizer().vocab_size();
  model::Seq2Seq m(model::ModelOptions(v, v).dim_emb(8).dim_rnn(12));
  m->eval();
  return m;
}

Translator tiny_translator(uint64_t seed = 31) {
  return Translator({tiny_model(seed)}, test::sample_tokenizer(), test::sample_tokenizer(), torch::kCPU);
}

size_t count_lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

TEST(TranslatorTest, ALineBreakSpelledInBytesStaysOnItsLine) {
  // With byte fallback a model can emit the piece <0x0A>; make it the only choice.
  const std::string dir = test::temp_dir();
  std::string text;
  for (int copy = 0; copy < 10; ++copy) {
    for (size_t i = 0; i < 12; ++i) text += test::sample_sentences()[i] + "\n";
  }
  test::write_file(dir + "/text.txt", text);
  vocab::VocabOptions vocab_options;
  vocab_options.inputs = {dir + "/text.txt"};
  vocab_options.vocab_size = 340;
  vocab_options.byte_fallback = true;
  vocab::train_vocab(vocab_options, dir + "/bytes.spm");
  const auto tok = vocab::Tokenizer::load(dir + "/bytes.spm");
  int32_t newline = -1;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.piece(id) == "<0x0A>") newline = id;
  }
  ASSERT_GE(newline, 0);
  torch::manual_seed(1);
  model::Seq2Seq m(model::ModelOptions(tok.vocab_size(), tok.vocab_size()).dim_emb(8).dim_rnn(12));
  m->eval();
  {
    torch::NoGradGuard no_grad;
    m->named_parameters()["decoder.output_bias"][newline] = 1000.0;
  }
  Translator translator({m}, tok, tok, torch::kCPU);
  TranslateOptions options;
  options.search.beam_size = 2;
  const auto results = translator.translate({"Ein Mann.", "Zwei Hunde."}, options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[0].hypotheses.front().tokens.empty());
  EXPECT_EQ(results[0].hypotheses.front().tokens.front(), newline);
  for (const auto& r : results) EXPECT_EQ(r.texts.front().find('\n'), std::string::npos);
  std::istringstream in("Ein Mann.\nZwei Hunde.\n");
  std::ostringstream out;
  translator.translate_stream(in, out, options);
  EXPECT_EQ(count_lines(out.str()), 2u);
}

TEST(TranslatorTest, OneOutputLinePerInputLineWhateverTheInput) {
  auto translator = tiny_translator();
  TranslateOptions options;
  options.search.beam_size = 2;
  options.mini_batch = 3;
  options.maxi_batch = 2;
  options.max_input_length = 20;
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"", " ", "   ", "Ein Mann fährt.", "\xff\xfe", "\r", "\t", "日本",
                                           "😀", std::string(3000, 'x'), "a\xc3", "Zwei Hunde ", "\xEF\xBB\xBF"};
  for (int round = 0; round < 5; ++round) {
    std::string input;
    const int lines = 1 + static_cast<int>(rng() % 40);
    if (round == 1) input += "\xEF\xBB\xBF";  // a byte order mark
    for (int l = 0; l < lines; ++l) {
      const int parts = static_cast<int>(rng() % 4);
      for (int p = 0; p < parts; ++p) input += pieces[rng() % pieces.size()];
      input += round == 2 ? "\r\n" : "\n";
    }
    if (round == 3) input.pop_back();  // no newline at the end
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream log;
    const auto stats = translator.translate_stream(in, out, options, &log);
    EXPECT_EQ(stats.lines, lines) << "round " << round;
    EXPECT_EQ(count_lines(out.str()), static_cast<size_t>(lines)) << "round " << round;
  }
  std::istringstream empty_in("");
  std::ostringstream empty_out;
  EXPECT_EQ(translator.translate_stream(empty_in, empty_out, options).lines, 0);
  EXPECT_EQ(empty_out.str(), "");
}

TEST(TranslatorTest, EmptyLinesStayEmptyAndLongLinesAreCutWithAWarning) {
  auto translator = tiny_translator();
  TranslateOptions options;
  options.max_input_length = 5;
  const auto results = translator.translate({"", "   ", "Ein Mann fährt mit dem Fahrrad über die Straße.", "bad\xff"},
                                            options);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].texts, std::vector<std::string>{""});
  EXPECT_TRUE(results[0].hypotheses.empty());
  EXPECT_EQ(results[1].texts, std::vector<std::string>{""});
  EXPECT_TRUE(results[2].truncated);
  EXPECT_EQ(results[2].source_pieces, 5);
  EXPECT_EQ(results[3].replaced_bytes, 1u);
  std::istringstream in("Ein Mann fährt mit dem Fahrrad über die Straße.\n");
  std::ostringstream out;
  std::ostringstream log;
  const auto stats = translator.translate_stream(in, out, options, &log);
  EXPECT_EQ(stats.truncated, 1);
  EXPECT_NE(log.str().find("input line 1 has more than 5 pieces"), std::string::npos) << log.str();
}

TEST(TranslatorTest, MiniBatchSizeDoesNotChangeTheTranslations) {
  auto translator = tiny_translator();
  std::vector<std::string> lines;
  for (const auto& s : test::sample_sentences()) lines.push_back(s);
  TranslateOptions one;
  one.mini_batch = 1;
  TranslateOptions many;
  many.mini_batch = 64;
  const auto a = translator.translate(lines, one);
  const auto b = translator.translate(lines, many);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(a[i].texts, b[i].texts) << lines[i];
    EXPECT_EQ(a[i].hypotheses.front().tokens, b[i].hypotheses.front().tokens);
  }
}

TEST(TranslatorTest, NBestScoresEqualTheModelsScoreOfThePair) {
  auto translator = tiny_translator();
  TranslateOptions options;
  options.search.beam_size = 4;
  options.n_best = true;
  const std::vector<std::string> lines = {"Zwei Hunde spielen im Schnee.", "Děti si hrají."};
  const auto results = translator.translate(lines, options);
  std::vector<std::vector<int32_t>> sources;
  std::vector<std::vector<int32_t>> targets;
  std::vector<double> beam_scores;
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(results[i].hypotheses.size(), 4u);
    for (const auto& h : results[i].hypotheses) {
      sources.push_back(translator.source_tokenizer().encode(lines[i]));
      targets.push_back(h.tokens);
      beam_scores.push_back(h.score);
    }
    const auto text = Translator::format(results[i], static_cast<int64_t>(i), options);
    EXPECT_EQ(count_lines(text + "\n"), 4u);
    EXPECT_EQ(text.rfind(std::to_string(i) + " ||| ", 0), 0u) << text;
    EXPECT_NE(text.find(" ||| F0= "), std::string::npos);
  }
  const auto scores = translator.score_ids(sources, targets, 3);
  ASSERT_EQ(scores.size(), 8u);
  for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(scores[i], beam_scores[i], 1e-4) << "hypothesis " << i;
}

TEST(TranslatorTest, StreamingFlushesAfterEveryMaxiBatch) {
  struct CountingBuffer : std::stringbuf {
    int syncs = 0;
    int sync() override {
      ++syncs;
      return std::stringbuf::sync();
    }
  };
  auto translator = tiny_translator();
  TranslateOptions options;
  options.search.beam_size = 1;
  options.mini_batch = 2;
  options.maxi_batch = 1;  // a block is 2 lines
  CountingBuffer buffer;
  std::ostream out(&buffer);
  std::istringstream in("Ein Mann.\nZwei Hunde.\nDrei.\nVier.\nFünf.\n");
  int progress_calls = 0;
  translator.translate_stream(in, out, options, nullptr, [&](const StreamStats&) { ++progress_calls; });
  EXPECT_EQ(progress_calls, 3);
  EXPECT_GE(buffer.syncs, 3);
}

TEST(TranslatorTest, OutputFormats) {
  TranslationResult r;
  search::Hypothesis h;
  h.tokens = {5, 6};
  h.score = -1.5;
  h.ranking = -0.75;
  h.attention = {{0.1f, 0.8f, 0.1f}, {0.7f, 0.2f, 0.1f}, {0.3f, 0.3f, 0.4f}};
  r.hypotheses = {h};
  r.texts = {"a b"};
  r.source_pieces = 2;
  TranslateOptions o;
  EXPECT_EQ(Translator::format(r, 0, o), "a b");
  o.output_scores = true;
  EXPECT_EQ(Translator::format(r, 0, o), "a b ||| -0.750000");
  o.output_scores = false;
  o.alignment = AlignmentOutput::kHard;
  EXPECT_EQ(Translator::format(r, 0, o), "a b ||| 1-0 0-1");
  o.alignment = AlignmentOutput::kSoft;
  EXPECT_EQ(Translator::format(r, 0, o), "a b ||| 0.1000,0.8000 0.7000,0.2000");
  o.alignment = AlignmentOutput::kSoftPieces;  // the rows' pieces as the decoder chose them
  r.pieces = {{"\u2581a", "\u2581b"}};
  EXPECT_EQ(Translator::format(r, 0, o), "a b ||| 0.1000,0.8000 0.7000,0.2000 ||| \u2581a \u2581b");
  o.alignment = AlignmentOutput::kNone;
  o.n_best = true;
  EXPECT_EQ(Translator::format(r, 7, o), "7 ||| a b ||| F0= -1.500000 ||| -0.750000");
  TranslationResult empty;
  empty.texts = {""};
  EXPECT_EQ(Translator::format(empty, 8, o), "8 |||  ||| F0= 0.000000 ||| 0.000000");
}

TEST(TranslatorTest, LoadsModelFoldersAndRejectsMismatchedEnsembles) {
  const std::string dir = test::temp_dir();
  EXPECT_THROW(Translator::load({dir}, torch::kCPU), Error);  // no checkpoint inside
  auto m = tiny_model(32);
  model::CheckpointMeta meta;
  meta.options = m->options();
  meta.source_vocab = meta.target_vocab = test::sample_tokenizer().model_bytes();
  save_checkpoint(dir + "/model.ckpt", m, nullptr, meta);
  auto translator = Translator::load({dir}, torch::kCPU);
  const auto direct = Translator({m}, test::sample_tokenizer(), test::sample_tokenizer(), torch::kCPU)
                          .translate({"Ein Mann."}, {});
  EXPECT_EQ(translator.translate({"Ein Mann."}, {})[0].texts, direct[0].texts);
  EXPECT_EQ(resolve_model_path(dir), dir + "/model.ckpt");
  // A second model with another vocabulary cannot join the ensemble.
  const std::string other = test::temp_dir();
  vocab::VocabOptions vo;
  vo.inputs = {test::sample_model_path() + ".txt"};
  vo.vocab_size = 150;
  vocab::train_vocab(vo, other + "/v.spm");
  auto meta2 = meta;
  meta2.source_vocab = meta2.target_vocab = vocab::Tokenizer::load(other + "/v.spm").model_bytes();
  save_checkpoint(other + "/model.ckpt", m, nullptr, meta2);
  EXPECT_THROW(Translator::load({dir, other}, torch::kCPU), Error);
}

}  // namespace
}  // namespace tandem
