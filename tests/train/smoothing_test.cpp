#include "train/smoothing.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <stdexcept>

#include "tandem/model/seq2seq.h"

namespace tandem::train {
namespace {

model::Seq2Seq small_model() {
  torch::manual_seed(3);
  return model::Seq2Seq(model::ModelOptions(20, 20).dim_emb(4).dim_rnn(6));
}

// Validation runs with the smoothed weights; the raw ones come back after, also
// when validation throws (a full disk while writing valid.output, say).
TEST(SmoothedWeightsTest, RunWithPutsTheRawWeightsBackWhenTheBodyThrows) {
  auto model = small_model();
  std::vector<torch::Tensor> smoothed;
  for (const auto& p : model->parameters()) smoothed.push_back(torch::zeros_like(p));
  const SmoothedWeights weights(0.5, model, smoothed);
  std::vector<torch::Tensor> raw;
  for (const auto& p : model->parameters()) raw.push_back(p.detach().clone());

  bool saw_smoothed = false;
  weights.run_with(model, [&] { saw_smoothed = model->parameters()[0].abs().sum().item<double>() == 0; });
  EXPECT_TRUE(saw_smoothed);
  EXPECT_THROW(weights.run_with(model, [] { throw std::runtime_error("disk full"); }), std::runtime_error);
  const auto params = model->parameters();
  ASSERT_EQ(params.size(), raw.size());
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_TRUE(torch::equal(params[i], raw[i])) << i;
}

}  // namespace
}  // namespace tandem::train
