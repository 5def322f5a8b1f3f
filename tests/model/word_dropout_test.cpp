// Word dropout (--dropout-src, --dropout-trg): whole embedding vectors dropped in
// training, nothing changed outside it; the options round-trip and validate.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "tandem/error.h"
#include "tandem/model/encoder.h"
#include "tandem/model/seq2seq.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::model {
namespace {

TEST(WordDropoutTest, ZeroesWholeVectorsAndScalesTheOthers) {
  torch::manual_seed(3);
  const auto x = torch::randn({6, 50, 16}).requires_grad_(true);  // [B, T, E]
  const double p = 0.25;
  const auto y = word_dropout(x, p, /*training=*/true);
  int64_t dropped = 0;
  for (int64_t b = 0; b < 6; ++b) {
    for (int64_t t = 0; t < 50; ++t) {
      const auto row = y[b][t];
      if (torch::equal(row, torch::zeros_like(row))) {
        ++dropped;
      } else {
        EXPECT_TRUE(torch::allclose(row, x[b][t] / (1.0 - p))) << b << ", " << t;
      }
    }
  }
  EXPECT_GT(dropped, 300 * 0.15);  // 75 expected of 300; the bounds are 3.8 standard deviations away
  EXPECT_LT(dropped, 300 * 0.35);
  // The gradient reaches the kept positions, scaled, and not the dropped ones.
  y.sum().backward();
  const auto grad = x.grad();
  const auto scaled = torch::full_like(grad, 1.0 / (1.0 - p));
  EXPECT_TRUE(torch::allclose(grad, torch::where(y == 0, torch::zeros_like(grad), scaled)));
  // One step's embeddings [B, E] drop whole rows too.
  const auto step = word_dropout(torch::ones({400, 8}), 0.5, true);
  const auto per_row = step.sum(/*dim=*/1);  // 0 or 16
  EXPECT_TRUE(torch::logical_or(per_row == 0, per_row == 16).all().item<bool>());
  // Outside training, or with p = 0, the input itself.
  EXPECT_TRUE(word_dropout(x, p, false).is_same(x));
  EXPECT_TRUE(word_dropout(x, 0.0, true).is_same(x));
}

ModelOptions small(double src, double trg) {
  return ModelOptions(19, 19)
      .dim_emb(8)
      .dim_rnn(12)
      .dropout_emb(0)
      .dropout_rnn(0)
      .dropout_out(0)
      .dropout_src(src)
      .dropout_trg(trg);
}

data::Batch batch() {
  data::Batch b;
  b.source = torch::tensor({4, 5, 6, 7, 8, 9, 10, 11, vocab::kEosId}, torch::kInt64).repeat({4, 1});  // [4, 9]
  b.source_lengths = torch::full({4}, 9, torch::kInt64);
  b.target_input = torch::tensor({vocab::kBosId, 12, 13, 14, 15, 16, 17}, torch::kInt64).repeat({4, 1});
  b.target_output = torch::tensor({12, 13, 14, 15, 16, 17, vocab::kEosId}, torch::kInt64).repeat({4, 1});
  return b;
}

// Training-mode forwards twice: equal exactly when nothing random ran.
bool repeatable(Seq2Seq& model, bool encoder_only) {
  model->train();
  const auto b = batch();
  if (encoder_only) {
    const auto first = model->encode(b.source, b.source_lengths).memory;
    return torch::equal(first, model->encode(b.source, b.source_lengths).memory);
  }
  return torch::equal(model->forward(b), model->forward(b));
}

TEST(WordDropoutTest, TheModelDropsSourceAndTargetWordsInTrainingOnly) {
  torch::manual_seed(5);
  Seq2Seq plain(small(0, 0));
  Seq2Seq source(small(0.3, 0));
  Seq2Seq target(small(0, 0.3));
  for (auto* m : {&source, &target}) {
    torch::NoGradGuard no_grad;
    auto to = (*m)->parameters();
    const auto from = plain->parameters();
    for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
  }
  EXPECT_TRUE(repeatable(plain, false));
  EXPECT_FALSE(repeatable(source, true));  // the encoder's input words drop
  EXPECT_TRUE(repeatable(target, true));   // --dropout-trg leaves the encoder alone
  EXPECT_FALSE(repeatable(target, false));
  // In evaluation, the same function as the model without word dropout.
  const auto b = batch();
  for (auto* m : {&plain, &source, &target}) (*m)->eval();
  const auto expected = plain->forward(b);
  EXPECT_TRUE(torch::equal(source->forward(b), expected));
  EXPECT_TRUE(torch::equal(target->forward(b), expected));
}

TEST(WordDropoutTest, OptionsRoundTripValidateAndDefaultToZeroInOlderModels) {
  const auto o = small(0.1, 1.0 / 3.0);
  const auto back = ModelOptions::from_json(o.to_json(), "x");
  EXPECT_EQ(back.dropout_src(), 0.1);
  EXPECT_EQ(back.dropout_trg(), 1.0 / 3.0);
  auto old = nlohmann::json::parse(o.to_json());
  old.erase("dropout-src");
  old.erase("dropout-trg");
  const auto read = ModelOptions::from_json(old.dump(), "old.ckpt");
  EXPECT_EQ(read.dropout_src(), 0.0);
  EXPECT_EQ(read.dropout_trg(), 0.0);
  try {
    small(1.0, 0).validate();
    ADD_FAILURE() << "--dropout-src 1 validated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--dropout-src must be in [0, 1)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(small(0, -0.1).validate(), Error);
}

}  // namespace
}  // namespace tandem::model
