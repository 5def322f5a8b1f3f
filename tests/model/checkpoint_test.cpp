#include "tandem/model/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "tandem/error.h"
#include "test_support.h"

namespace tandem::model {
namespace {

CheckpointMeta tiny_meta() {
  CheckpointMeta meta;
  const auto& tok = test::sample_tokenizer();
  meta.options = ModelOptions(tok.vocab_size(), tok.vocab_size()).dim_emb(8).dim_rnn(12).cell(CellType::kLstm);
  meta.source_vocab = tok.model_bytes();
  meta.target_vocab = tok.model_bytes();
  meta.state.updates = 42;
  meta.state.position = {3, 7};
  meta.state.best = {{eval::Metric::kBleu, 12.5}, {eval::Metric::kPerplexity, 1.0 / 3.0}};
  meta.state.seconds = 0.1 + 0.2;  // 0.30000000000000004: six digits would lose it
  meta.state.cpu_threads = 2;
  meta.state.scheduler = "1 0";
  return meta;
}

torch::Tensor some_logits(Seq2Seq& model) {
  torch::NoGradGuard no_grad;
  model->eval();
  auto source = torch::tensor({{5, 6, 7, 3}, {8, 3, 0, 0}}, torch::kInt64);
  auto lengths = torch::tensor({4, 2}, torch::kInt64);
  auto state = model->start(model->encode(source, lengths));
  return model->logits(model->step(torch::tensor({2, 2}, torch::kInt64), state).features);
}

torch::Tensor some_logits_with_grad(Seq2Seq& model) {
  auto source = torch::tensor({{5, 6, 7, 3}, {8, 3, 0, 0}}, torch::kInt64);
  auto lengths = torch::tensor({4, 2}, torch::kInt64);
  auto state = model->start(model->encode(source, lengths));
  return model->logits(model->step(torch::tensor({2, 2}, torch::kInt64), state).features);
}

TEST(CheckpointTest, SaveAndLoadGiveTheSameModel) {
  const std::string dir = test::temp_dir();
  const auto meta = tiny_meta();
  torch::manual_seed(7);
  Seq2Seq model(meta.options);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(0.01));
  save_checkpoint(dir + "/m.ckpt", model, &adam, meta);
  auto loaded = load_checkpoint(dir + "/m.ckpt", torch::kCPU);
  EXPECT_TRUE(torch::equal(some_logits(model), some_logits(loaded.model)));
  EXPECT_EQ(loaded.meta.options, meta.options);
  EXPECT_EQ(loaded.meta.state.updates, 42);
  EXPECT_EQ(loaded.meta.state.position, (data::BatchPosition{3, 7}));
  EXPECT_EQ(loaded.meta.state.best, meta.state.best);
  EXPECT_EQ(loaded.meta.state, meta.state);  // every field, doubles exactly
  EXPECT_EQ(loaded.meta.state.seconds, 0.1 + 0.2);
  EXPECT_EQ(loaded.meta.state.scheduler, "1 0");
  EXPECT_EQ(loaded.meta.source_vocab, meta.source_vocab);
  for (const auto& e : std::filesystem::directory_iterator(dir)) {  // no staging file left behind
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

// One Adam step on the logits' sum; Adam's moments decide how far it moves.
void adam_step(Seq2Seq& model, torch::optim::Adam& adam) {
  model->eval();  // no dropout: the three runs see the same function
  adam.zero_grad();
  some_logits_with_grad(model).sum().backward();
  adam.step();
}

TEST(CheckpointTest, TheOptimizerResumesWithItsMoments) {
  const std::string dir = test::temp_dir();
  const auto meta = tiny_meta();
  torch::manual_seed(7);
  Seq2Seq model(meta.options);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(0.01));
  for (int i = 0; i < 3; ++i) adam_step(model, adam);  // moments and step counts that are not the initial ones
  save_checkpoint(dir + "/m.ckpt", model, &adam, meta);
  auto resumed = load_checkpoint(dir + "/m.ckpt", torch::kCPU);
  torch::optim::Adam restored(resumed.model->parameters(), torch::optim::AdamOptions(0.01));
  restore_optimizer(resumed, restored, "m.ckpt");
  auto fresh = load_checkpoint(dir + "/m.ckpt", torch::kCPU);
  torch::optim::Adam unrestored(fresh.model->parameters(), torch::optim::AdamOptions(0.01));
  adam_step(model, adam);
  adam_step(resumed.model, restored);
  adam_step(fresh.model, unrestored);
  const auto original = model->named_parameters();
  const auto fresh_parameters = fresh.model->named_parameters();
  bool fresh_differs = false;
  for (const auto& p : resumed.model->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), original[p.key()])) << p.key();
    fresh_differs = fresh_differs || !torch::equal(fresh_parameters[p.key()], original[p.key()]);
  }
  EXPECT_TRUE(fresh_differs);  // without the saved moments the step is another one
}

TEST(CheckpointTest, RandomStateComesBack) {
  const std::string dir = test::temp_dir();
  const auto meta = tiny_meta();
  Seq2Seq model(meta.options);
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
  Seq2Seq model(meta.options);
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
  Seq2Seq model(meta.options);
  meta.options.dim_rnn(16);  // claims another architecture
  save_checkpoint(dir + "/mismatch.ckpt", model, nullptr, meta);
  const auto message = load_error(dir + "/mismatch.ckpt");
  EXPECT_NE(message.find("do not match"), std::string::npos) << message;
}

TEST(CheckpointTest, UnwritablePlaceIsAnErrorAndKeepsTheOldFile) {
  const auto meta = tiny_meta();
  Seq2Seq model(meta.options);
  EXPECT_THROW(save_checkpoint("/nonexistent/dir/m.ckpt", model, nullptr, meta), Error);
}

}  // namespace
}  // namespace tandem::model
