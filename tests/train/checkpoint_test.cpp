#include "tandem/train/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "tandem/error.h"
#include "test_support.h"

namespace tandem::train {
namespace {

CheckpointMeta tiny_meta() {
  CheckpointMeta meta;
  const auto& tok = test::sample_tokenizer();
  meta.options = model::ModelOptions(tok.vocab_size(), tok.vocab_size()).dim_emb(8).dim_rnn(12).cell(model::CellType::kLstm);
  meta.source_vocab = tok.model_bytes();
  meta.target_vocab = tok.model_bytes();
  meta.state.updates = 42;
  meta.state.position = {3, 7};
  meta.state.best = {{"bleu", 12.5}, {"perplexity", 3.25}};
  meta.state.scheduler = "1 0";
  return meta;
}

torch::Tensor some_logits(model::Seq2Seq& model) {
  torch::NoGradGuard no_grad;
  model->eval();
  auto source = torch::tensor({{5, 6, 7, 3}, {8, 3, 0, 0}}, torch::kInt64);
  auto lengths = torch::tensor({4, 2}, torch::kInt64);
  auto state = model->start(model->encode(source, lengths));
  return model->logits(model->step(torch::tensor({2, 2}, torch::kInt64), state).features);
}

TEST(CheckpointTest, SaveAndLoadGiveTheSameModel) {
  const std::string dir = test::temp_dir();
  const auto meta = tiny_meta();
  torch::manual_seed(7);
  model::Seq2Seq model(meta.options);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(0.01));
  save_checkpoint(dir + "/m.ckpt", model, &adam, meta);
  auto loaded = load_checkpoint(dir + "/m.ckpt", torch::kCPU);
  EXPECT_TRUE(torch::equal(some_logits(model), some_logits(loaded.model)));
  EXPECT_EQ(loaded.meta.options, meta.options);
  EXPECT_EQ(loaded.meta.state.updates, 42);
  EXPECT_EQ(loaded.meta.state.position, (data::BatchPosition{3, 7}));
  EXPECT_EQ(loaded.meta.state.best, meta.state.best);
  EXPECT_EQ(loaded.meta.state.scheduler, "1 0");
  EXPECT_EQ(loaded.meta.source_vocab, meta.source_vocab);
  torch::optim::Adam other(loaded.model->parameters(), torch::optim::AdamOptions(0.01));
  restore_optimizer(loaded, other, "m.ckpt");
  EXPECT_FALSE(std::filesystem::exists(dir + "/m.ckpt.tmp"));
}

TEST(CheckpointTest, RandomStateComesBack) {
  const std::string dir = test::temp_dir();
  const auto meta = tiny_meta();
  model::Seq2Seq model(meta.options);
  torch::manual_seed(11);
  save_checkpoint(dir + "/m.ckpt", model, nullptr, meta);
  const auto expected = torch::rand({5});
  auto loaded = load_checkpoint(dir + "/m.ckpt", torch::kCPU);
  restore_random_state(loaded, "m.ckpt");
  EXPECT_TRUE(torch::equal(torch::rand({5}), expected));
}

std::string load_error(const std::string& path) {
  try {
    load_checkpoint(path, torch::kCPU);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CheckpointTest, DamagedOrForeignFilesGiveErrorsNamingThem) {
  const std::string dir = test::temp_dir();
  EXPECT_NE(load_error(dir + "/missing.ckpt").find("missing.ckpt"), std::string::npos);
  test::write_file(dir + "/garbage.ckpt", "definitely not a checkpoint");
  EXPECT_NE(load_error(dir + "/garbage.ckpt").find("garbage.ckpt"), std::string::npos);
  const auto meta = tiny_meta();
  model::Seq2Seq model(meta.options);
  save_checkpoint(dir + "/good.ckpt", model, nullptr, meta);
  const auto bytes = test::read_file(dir + "/good.ckpt");
  test::write_file(dir + "/truncated.ckpt", bytes.substr(0, bytes.size() / 3));
  EXPECT_NE(load_error(dir + "/truncated.ckpt").find("truncated.ckpt"), std::string::npos);
  // A plain LibTorch archive without Tandem's metadata.
  torch::serialize::OutputArchive foreign;
  foreign.write("weights", torch::ones({2}));
  foreign.save_to(dir + "/foreign.ckpt");
  EXPECT_NE(load_error(dir + "/foreign.ckpt").find("foreign.ckpt"), std::string::npos);
}

TEST(CheckpointTest, WeightsThatDoNotMatchTheOptionsAreAnError) {
  const std::string dir = test::temp_dir();
  auto meta = tiny_meta();
  model::Seq2Seq model(meta.options);
  meta.options.dim_rnn(16);  // claims another architecture
  save_checkpoint(dir + "/mismatch.ckpt", model, nullptr, meta);
  const auto message = load_error(dir + "/mismatch.ckpt");
  EXPECT_NE(message.find("do not match"), std::string::npos) << message;
}

TEST(CheckpointTest, UnwritablePlaceIsAnErrorAndKeepsTheOldFile) {
  const auto meta = tiny_meta();
  model::Seq2Seq model(meta.options);
  EXPECT_THROW(save_checkpoint("/nonexistent/dir/m.ckpt", model, nullptr, meta), Error);
}

}  // namespace
}  // namespace tandem::train
