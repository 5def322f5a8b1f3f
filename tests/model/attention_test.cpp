#include "tandem/model/attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace tandem::model {
namespace {

// Without gradients (search) the Bahdanau scores are taken a few sentences at a
// time; with gradients (training) all at once. Both must give the same weights
// and context, padded positions included.
TEST(AttentionTest, BahdanauTakenInChunksEqualsTakenWhole) {
  torch::manual_seed(11);
  const int64_t B = 10, G = 4, S = 64, M = 32, Q = 256;  // G x S x Q = 65,536 a sentence: chunks of 4 sentences
  Attention attention(AttentionType::kBahdanau, M, Q);
  const auto values = torch::randn({B, S, M});
  const auto lengths = torch::randint(1, S + 1, {B}, torch::kInt64);
  const auto mask = torch::arange(S).unsqueeze(0) < lengths.unsqueeze(1);  // [B, S]
  const auto query = torch::randn({B * G, Q});

  const auto whole_memory = attention->prepare(values, mask);
  const auto [whole_context, whole_weights] = attention->forward(query, whole_memory);
  ASSERT_TRUE(whole_context.requires_grad());  // the path training takes

  torch::NoGradGuard no_grad;
  const auto memory = attention->prepare(values, mask);
  const auto [context, weights] = attention->forward(query, memory);
  EXPECT_TRUE(torch::allclose(context, whole_context, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(weights, whole_weights, 1e-6, 1e-7));
  const auto padded = mask.logical_not().repeat_interleave(G, 0);  // [B x G, S]
  EXPECT_EQ(weights.masked_select(padded).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::allclose(weights.sum(-1), torch::ones({B * G}), 1e-5, 1e-5));
}

}  // namespace
}  // namespace tandem::model
