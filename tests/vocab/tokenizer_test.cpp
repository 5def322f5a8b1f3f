#include "tandem/vocab/tokenizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"
#include "tandem/vocab/vocab_trainer.h"
#include "test_support.h"

namespace tandem::vocab {
namespace {

TEST(TokenizerTest, RoundTripsEveryScript) {
  const auto& tok = test::sample_tokenizer();
  const std::vector<std::string> texts = {
      "Größere Häuser stehen am Fluss.",                    // German
      "Où est le café ? Il coûte trois euros.",             // French
      "Příliš žluťoučký kůň úpěl ďábelské ódy.",            // Czech
      "I love pizza 🍕 and coffee ☕ 😀.",                   // emoji
      "我喜欢学习中文。東京は日本の首都です。",                // CJK
      "서울은 한국의 수도입니다.",                             // Hangul
  };
  for (const auto& text : texts) {
    const auto ids = tok.encode(text);
    ASSERT_FALSE(ids.empty()) << text;
    for (const int32_t id : ids) EXPECT_NE(id, kUnkId) << text;
    EXPECT_EQ(tok.decode(ids), text);
  }
}

TEST(TokenizerTest, SpecialIdsAreFixedAndDecodeToNothing) {
  const auto& tok = test::sample_tokenizer();
  EXPECT_EQ(tok.piece(kPadId), "<pad>");
  EXPECT_EQ(tok.piece(kUnkId), "<unk>");
  EXPECT_EQ(tok.piece(kBosId), "<s>");
  EXPECT_EQ(tok.piece(kEosId), "</s>");
  auto ids = tok.encode("Zwei Hunde");
  ids.insert(ids.begin(), kBosId);
  ids.push_back(kEosId);
  ids.push_back(kPadId);
  EXPECT_EQ(tok.decode(ids), "Zwei Hunde");
  EXPECT_LE(tok.vocab_size(), 200);
}

TEST(TokenizerTest, WorksInTheSameProcessAsLibTorch) {
  // The point of the dlmopen isolation: tensors and SentencePiece side by side.
  const auto& tok = test::sample_tokenizer();
  const auto ids = tok.encode("Ein Mann fährt mit dem Fahrrad.");
  std::vector<int64_t> wide(ids.begin(), ids.end());
  auto tensor = torch::tensor(wide, torch::kInt64);
  auto embedded = torch::nn::Embedding(tok.vocab_size(), 8)->forward(tensor);  // [T, 8]
  EXPECT_EQ(embedded.size(0), static_cast<int64_t>(ids.size()));
  std::vector<int32_t> back(tensor.data_ptr<int64_t>(), tensor.data_ptr<int64_t>() + tensor.numel());
  EXPECT_EQ(tok.decode(back), "Ein Mann fährt mit dem Fahrrad.");
}

TEST(TokenizerTest, IsThreadSafe) {
  const auto& tok = test::sample_tokenizer();
  const std::string text = "Les enfants jouent dans le jardin à côté de l'église.";
  const auto expected = tok.encode(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      bool all = true;
      for (int i = 0; i < 200; ++i) all = all && tok.encode(text) == expected && tok.decode(expected) == text;
      ok[static_cast<size_t>(t)] = all ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

TEST(TokenizerTest, SavedBytesLoadAgain) {
  const auto& tok = test::sample_tokenizer();
  const auto copy = Tokenizer::from_bytes(tok.model_bytes(), "checkpoint");
  EXPECT_EQ(copy.encode("Děti si hrají."), tok.encode("Děti si hrají."));
}

TEST(TokenizerTest, BadModelFilesGiveErrorsNamingTheFile) {
  const std::string dir = test::temp_dir();
  EXPECT_THROW(
      {
        try {
          Tokenizer::load(dir + "/missing.spm");
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("missing.spm"), std::string::npos);
          throw;
        }
      },
      Error);
  test::write_file(dir + "/garbage.spm", "this is not a model");
  try {
    Tokenizer::load(dir + "/garbage.spm");
    FAIL() << "garbage loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.spm"), std::string::npos) << e.what();
  }
  const auto bytes = test::read_file(test::sample_model_path());
  test::write_file(dir + "/truncated.spm", bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(Tokenizer::load(dir + "/truncated.spm"), Error);
  test::write_file(dir + "/empty.spm", "");
  EXPECT_THROW(Tokenizer::load(dir + "/empty.spm"), Error);
}

TEST(VocabTrainerTest, TrainsEachModelTypeFromGzipInput) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (int copy = 0; copy < 10; ++copy) {
    for (const auto& s : test::sample_sentences()) text += s + "\n";
  }
  test::write_gzip(dir + "/text.gz", text);
  for (const auto type : {ModelType::kUnigram, ModelType::kBpe, ModelType::kChar}) {
    VocabOptions options;
    options.inputs = {dir + "/text.gz"};
    options.vocab_size = 150;
    options.model_type = type;
    const std::string path = dir + "/m.spm";
    const auto report = train_vocab(options, path);
    EXPECT_EQ(report.lines_read, 170);
    const auto tok = Tokenizer::load(path);
    EXPECT_EQ(tok.decode(tok.encode("Zwei Hunde spielen im Schnee.")), "Zwei Hunde spielen im Schnee.");
  }
}

// SentencePiece's options travel as name/value pairs: a temporary folder, an
// input and a model path with spaces (and '=' and '--') are taken whole.
TEST(VocabTrainerTest, PathsWithSpacesWork) {
  const std::string dir = test::temp_dir() + "/a folder --with=odd names";
  std::filesystem::create_directories(dir + "/tmp dir");
  std::string text;
  for (int copy = 0; copy < 10; ++copy) {
    for (const auto& s : test::sample_sentences()) text += s + "\n";
  }
  test::write_file(dir + "/my text.txt", text);
  const char* saved = std::getenv("TMPDIR");
  const std::string before = saved != nullptr ? saved : "";
  setenv("TMPDIR", (dir + "/tmp dir").c_str(), 1);
  VocabOptions options;
  options.inputs = {dir + "/my text.txt"};
  options.vocab_size = 150;
  std::string error;
  try {
    train_vocab(options, dir + "/my model.spm");
  } catch (const Error& e) {
    error = e.what();
  }
  if (saved != nullptr) setenv("TMPDIR", before.c_str(), 1);
  else unsetenv("TMPDIR");
  ASSERT_EQ(error, "");
  EXPECT_EQ(Tokenizer::load(dir + "/my model.spm").vocab_size(), 150);
}

TEST(VocabTrainerTest, CharacterModelsAreRecognized) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (int copy = 0; copy < 10; ++copy) {
    for (const auto& s : test::sample_sentences()) text += s + "\n";
  }
  test::write_file(dir + "/text.txt", text);
  VocabOptions options;
  options.inputs = {dir + "/text.txt"};
  options.vocab_size = 150;
  train_vocab(options, dir + "/unigram.spm");
  EXPECT_FALSE(Tokenizer::load(dir + "/unigram.spm").is_character_level());
  options.model_type = ModelType::kChar;
  options.vocab_size = 60;
  options.character_coverage = 0.99;
  train_vocab(options, dir + "/char.spm");
  const auto chars = Tokenizer::load(dir + "/char.spm");
  EXPECT_TRUE(chars.is_character_level());
  EXPECT_EQ(chars.encode("Hunde").size(), 6u);  // "▁", then one piece a character
}

TEST(VocabTrainerTest, ByteFallbackSpellsUnseenCharacters) {
  const std::string dir = test::temp_dir();
  std::string text;
  for (int copy = 0; copy < 10; ++copy) {
    for (size_t i = 0; i < 12; ++i) text += test::sample_sentences()[i] + "\n";  // no emoji, no CJK
  }
  test::write_file(dir + "/text.txt", text);
  VocabOptions options;
  options.inputs = {dir + "/text.txt"};
  options.vocab_size = 340;
  options.byte_fallback = true;
  train_vocab(options, dir + "/bytes.spm");
  const auto tok = Tokenizer::load(dir + "/bytes.spm");
  const std::string unseen = "dogs 🐕 and 猫";
  const auto ids = tok.encode(unseen);
  for (const int32_t id : ids) EXPECT_NE(id, kUnkId);
  EXPECT_EQ(tok.decode(ids), unseen);
}

TEST(VocabTrainerTest, InvalidUtf8NamesFileAndLine) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/bad.txt", "good line\nalso good\nbad \xff byte\n");
  VocabOptions options;
  options.inputs = {dir + "/bad.txt"};
  try {
    train_vocab(options, dir + "/m.spm");
    FAIL() << "invalid UTF-8 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt:3"), std::string::npos) << e.what();
  }
}

TEST(VocabTrainerTest, RejectsBadOptions) {
  VocabOptions options;
  EXPECT_THROW(train_vocab(options, "x.spm"), Error);  // no inputs
  options.inputs = {test::sample_model_path()};
  options.vocab_size = 3;
  EXPECT_THROW(train_vocab(options, "x.spm"), Error);
  EXPECT_THROW(parse_model_type("wordpiece"), Error);
}

}  // namespace
}  // namespace tandem::vocab
