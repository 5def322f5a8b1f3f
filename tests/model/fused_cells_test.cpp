// The fused GRU, LSTM and tanh RNN steps against LibTorch's element-wise ops.
#include "model/fused_cells.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cstdlib>
#include <limits>
#include <string>

namespace tandem::model {
namespace {

// LibTorch's ops for the same steps (rnn_stack.cpp's cell_step without the fused path).
std::pair<torch::Tensor, torch::Tensor> lstm_ops(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& c) {
  const auto g = (gi + gh).chunk(4, 1);
  const auto c_next = torch::sigmoid(g[1]) * c + torch::sigmoid(g[0]) * torch::tanh(g[2]);
  return {torch::sigmoid(g[3]) * torch::tanh(c_next), c_next};
}
torch::Tensor gru_ops(const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& h) {
  const auto i = gi.chunk(3, 1);
  const auto g = gh.chunk(3, 1);
  const auto r = torch::sigmoid(i[0] + g[0]);
  const auto z = torch::sigmoid(i[1] + g[1]);
  const auto n = torch::tanh(i[2] + r * g[2]);
  return n + z * (h - n);
}

void expect_close(const torch::Tensor& fused, const torch::Tensor& ops, const std::string& what) {
  ASSERT_TRUE(fused.defined()) << what;
  EXPECT_EQ(fused.sizes(), ops.sizes()) << what;
  EXPECT_TRUE(torch::allclose(fused, ops, 1e-5, 1e-6)) << what << ": largest gap " << (fused - ops).abs().max().item<float>();
}

// Hidden sizes that fill whole vectors (16, 512) and leave a partial one (13, 37);
// rows that split over threads; gradients through h, c and both of their uses.
class FusedCellTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(FusedCellTest, LstmStepAndGradientsEqualLibTorchsOps) {
  const int64_t hidden = GetParam();
  torch::manual_seed(hidden);
  const auto gi = (3 * torch::randn({9, 4 * hidden})).requires_grad_();
  const auto gh = torch::randn({9, 4 * hidden}).requires_grad_();
  const auto c = torch::randn({9, hidden}).requires_grad_();
  ASSERT_TRUE(fused::applies(gi, gh, c));
  const auto [h1, c1] = fused::lstm(gi, gh, c);
  const auto [h2, c2] = lstm_ops(gi, gh, c);
  expect_close(h1, h2, "h");
  expect_close(c1, c2, "c");
  const auto wh = torch::randn({9, hidden});
  const auto wc = torch::randn({9, hidden});
  const auto grads = [&](const torch::Tensor& h, const torch::Tensor& cn) {
    return torch::autograd::grad({(h * wh).sum() + (cn * wc).sum()}, {gi, gh, c}, {}, /*retain_graph=*/true);
  };
  const auto fused_grads = grads(h1, c1);
  const auto ops_grads = grads(h2, c2);
  expect_close(fused_grads[0], ops_grads[0], "d gi");
  expect_close(fused_grads[1], ops_grads[1], "d gh");
  expect_close(fused_grads[2], ops_grads[2], "d c");
  // Only h used (c_next's gradient undefined), as at a sequence's last step.
  const auto only_h = torch::autograd::grad({(h1 * wh).sum()}, {gi, c});
  const auto only_h_ops = torch::autograd::grad({(h2 * wh).sum()}, {gi, c});
  expect_close(only_h[0], only_h_ops[0], "d gi, h only");
  expect_close(only_h[1], only_h_ops[1], "d c, h only");
}

TEST_P(FusedCellTest, GruStepAndGradientsEqualLibTorchsOps) {
  const int64_t hidden = GetParam();
  torch::manual_seed(hidden + 1);
  const auto gi = (3 * torch::randn({9, 3 * hidden})).requires_grad_();
  const auto gh = torch::randn({9, 3 * hidden}).requires_grad_();
  const auto h = torch::randn({9, hidden}).requires_grad_();
  ASSERT_TRUE(fused::applies(gi, gh, h));
  const auto fused_h = fused::gru(gi, gh, h);
  const auto ops_h = gru_ops(gi, gh, h);
  expect_close(fused_h, ops_h, "h");
  const auto w = torch::randn({9, hidden});
  const auto fused_grads = torch::autograd::grad({(fused_h * w).sum()}, {gi, gh, h});
  const auto ops_grads = torch::autograd::grad({(ops_h * w).sum()}, {gi, gh, h});
  expect_close(fused_grads[0], ops_grads[0], "d gi");
  expect_close(fused_grads[1], ops_grads[1], "d gh");
  expect_close(fused_grads[2], ops_grads[2], "d h");
}

TEST_P(FusedCellTest, RnnStepAndGradientsEqualLibTorchsOps) {
  const int64_t hidden = GetParam();
  torch::manual_seed(hidden + 2);
  const auto gi = (3 * torch::randn({9, hidden})).requires_grad_();
  const auto gh = torch::randn({9, hidden}).requires_grad_();
  const auto h = torch::randn({9, hidden});
  ASSERT_TRUE(fused::applies(gi, gh, h));
  const auto fused_h = fused::rnn(gi, gh);
  const auto ops_h = torch::tanh(gi + gh);
  expect_close(fused_h, ops_h, "h");
  const auto w = torch::randn({9, hidden});
  const auto fused_grads = torch::autograd::grad({(fused_h * w).sum()}, {gi, gh});
  const auto ops_grads = torch::autograd::grad({(ops_h * w).sum()}, {gi, gh});
  expect_close(fused_grads[0], ops_grads[0], "d gi");
  expect_close(fused_grads[1], ops_grads[1], "d gh");
  // bfloat16 products (autocast) are widened and give a float32 state.
  const auto low = gi.detach().to(torch::kBFloat16);
  const auto out = fused::rnn(low, low);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  expect_close(out, torch::tanh(2 * low.to(torch::kFloat32)), "bfloat16 products");
  EXPECT_THROW(fused::rnn(gi, gh.narrow(1, 0, hidden - 1)), c10::Error);
}

INSTANTIATE_TEST_SUITE_P(Hidden, FusedCellTest, ::testing::Values(13, 16, 37, 512));

// Two steps chained, the second reading the first's state: the gradient reaches the
// first step's gates through both (what a sequence's backward does); and bfloat16
// products (autocast) are widened and give float32 states.
TEST(FusedCellChainTest, ChainedStepsAndBFloat16Products) {
  torch::manual_seed(5);
  const int64_t hidden = 24;
  const auto gi = torch::randn({2, 6, 4 * hidden}).requires_grad_();
  const auto w_hh = (0.3 * torch::randn({4 * hidden, hidden})).requires_grad_();
  const auto run = [&](bool use_fused) {
    auto h = torch::zeros({6, hidden});
    auto c = torch::zeros({6, hidden});
    torch::Tensor total = torch::zeros({});
    for (int t = 0; t < 2; ++t) {
      const auto gh = torch::mm(h, w_hh.t());
      std::tie(h, c) = use_fused ? fused::lstm(gi[t], gh, c) : lstm_ops(gi[t], gh, c);
      total = total + h.sum() * (t + 1);
    }
    return std::make_pair(total, torch::autograd::grad({total}, {gi, w_hh}));
  };
  const auto [fused_total, fused_grads] = run(true);
  const auto [ops_total, ops_grads] = run(false);
  expect_close(fused_total, ops_total, "sum");
  expect_close(fused_grads[0], ops_grads[0], "d gi");
  expect_close(fused_grads[1], ops_grads[1], "d w_hh");
  const auto low = torch::randn({3, 3 * hidden}).to(torch::kBFloat16);
  const auto state = torch::randn({3, hidden});
  ASSERT_TRUE(fused::applies(low, low, state));
  const auto out = fused::gru(low, low, state);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  expect_close(out, gru_ops(low.to(torch::kFloat32), low.to(torch::kFloat32), state), "bfloat16 products");
  EXPECT_FALSE(fused::applies(low, low, state.to(torch::kFloat64)));
  EXPECT_FALSE(fused::applies(low, low, torch::Tensor()));
  EXPECT_NE(std::string(fused::capability()).size(), 0u);
}

// The fused softmax cross entropy against log_softmax and gather: loss and nll per
// row, with label smoothing, padded rows (0, no gradient), vocabularies that fill
// whole vectors and leave a partial one, large logits (the shift by the row's
// largest), and bfloat16 logits (widened first).
class FusedCellCrossEntropyTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(FusedCellCrossEntropyTest, LossAndGradientsEqualLogSoftmax) {
  torch::manual_seed(11);
  const int64_t classes = GetParam();
  const int64_t pad = 0;
  for (const double smoothing : {0.0, 0.1}) {
    const auto logits = (8.0 * torch::randn({2, 5, classes})).requires_grad_();
    auto target = torch::randint(0, classes, {2, 5}, torch::kInt64);
    target.index_put_({0, 1}, pad);
    target.index_put_({1, 4}, pad);
    const auto weights = torch::rand({2, 5});  // a different gradient for each row's loss
    const auto [loss, nll] = fused::cross_entropy(logits, target, pad, smoothing);
    const auto fused_grad = torch::autograd::grad({(loss * weights).sum()}, {logits})[0];
    const auto log_probs = torch::log_softmax(logits, -1);
    const auto real = target.ne(pad).to(torch::kFloat32);
    const auto plain = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1) * real;
    const auto smoothed = ((1.0 - smoothing) * plain - smoothing * log_probs.mean(-1) * real);
    const auto ops_grad = torch::autograd::grad({(smoothed * weights).sum()}, {logits})[0];
    const std::string what = "classes " + std::to_string(classes) + ", smoothing " + std::to_string(smoothing);
    expect_close(nll, plain.detach(), "nll, " + what);
    expect_close(loss.detach(), smoothed.detach(), "loss, " + what);
    expect_close(fused_grad, ops_grad, "gradient, " + what);
    EXPECT_EQ(fused_grad[0][1].abs().sum().item<float>(), 0.0f) << "a padded row has no gradient";
  }
  const auto low = torch::randn({4, classes}).to(torch::kBFloat16);
  const auto target = torch::randint(1, classes, {4}, torch::kInt64);
  ASSERT_TRUE(fused::cross_entropy_applies(low));
  expect_close(fused::cross_entropy(low, target, pad, 0.0).second,
               -torch::log_softmax(low.to(torch::kFloat32), -1).gather(-1, target.unsqueeze(-1)).squeeze(-1),
               "bfloat16 logits");
  EXPECT_THROW(fused::cross_entropy(low, torch::full({4}, classes, torch::kInt64), pad, 0.0), c10::Error);
  EXPECT_FALSE(fused::cross_entropy_applies(low.to(torch::kFloat64)));
}

INSTANTIATE_TEST_SUITE_P(Classes, FusedCellCrossEntropyTest, ::testing::Values(7, 16, 37, 1000));

// Attention's fused scores and softmax against LibTorch's ops: widths that fill whole
// vectors (16, 512) and leave a partial one (13, 37); one query row a sentence
// (training) and four (beam search); padded positions (weight exactly 0, no
// gradient to their keys), a sentence with one real position; bfloat16 inputs.
class FusedCellAttentionTest : public ::testing::TestWithParam<int64_t> {};

torch::Tensor padded_mask() {
  auto mask = torch::ones({3, 7}, torch::kBool);
  mask.index_put_({1, torch::indexing::Slice(4, torch::indexing::None)}, false);  // 4 real positions
  mask.index_put_({2, torch::indexing::Slice(1, torch::indexing::None)}, false);  // 1 real position
  return mask;
}

torch::Tensor softmax_ops(const torch::Tensor& scores, const torch::Tensor& mask) {
  return torch::softmax(scores.masked_fill(mask.logical_not().unsqueeze(1), -std::numeric_limits<float>::infinity()),
                        -1);
}

TEST_P(FusedCellAttentionTest, AdditiveScoresAndGradientsEqualLibTorchsOps) {
  torch::manual_seed(13);
  const int64_t width = GetParam();
  const auto mask = padded_mask();
  for (const int64_t group : {1, 4}) {
    const auto keys = torch::randn({3, 7, width}).requires_grad_();
    const auto query = torch::randn({3, group, width}).requires_grad_();
    const auto v = (0.5 * torch::randn({1, width})).requires_grad_();
    const auto upstream = torch::randn({3, group, 7});  // a different gradient for every weight
    const auto fused_weights = fused::additive_attention(keys, query, v, mask);
    const auto fused_grads = torch::autograd::grad({(fused_weights * upstream).sum()}, {keys, query, v});
    const auto scores = torch::matmul(torch::tanh(keys.unsqueeze(1) + query.unsqueeze(2)), v.view({-1}));  // [3, G, 7]
    const auto weights = softmax_ops(scores, mask);
    const auto grads = torch::autograd::grad({(weights * upstream).sum()}, {keys, query, v});
    const std::string what = "width " + std::to_string(width) + ", group " + std::to_string(group);
    expect_close(fused_weights.detach(), weights.detach(), "weights, " + what);
    expect_close(fused_grads[0], grads[0], "keys' gradient, " + what);
    expect_close(fused_grads[1], grads[1], "queries' gradient, " + what);
    expect_close(fused_grads[2], grads[2], "v's gradient, " + what);
    EXPECT_EQ(fused_weights[1].narrow(-1, 4, 3).abs().sum().item<float>(), 0.0f) << "padded positions weigh 0";
    EXPECT_EQ(fused_weights[2].narrow(-1, 0, 1).min().item<float>(), 1.0f) << "one real position weighs 1";
    EXPECT_EQ(fused_grads[0][1].narrow(0, 4, 3).abs().sum().item<float>(), 0.0f) << "padded keys get no gradient";
  }
  const auto keys = torch::randn({3, 7, width}).to(torch::kBFloat16);
  const auto query = torch::randn({3, 2, width}).to(torch::kBFloat16);
  const auto v = torch::randn({width});
  ASSERT_TRUE(fused::attention_applies(keys));
  EXPECT_FALSE(fused::attention_applies(keys.to(torch::kFloat64)));
  const auto widened = torch::matmul(
      torch::tanh(keys.to(torch::kFloat32).unsqueeze(1) + query.to(torch::kFloat32).unsqueeze(2)), v);
  expect_close(fused::additive_attention(keys, query, v, mask), softmax_ops(widened, mask), "bfloat16 inputs");
  EXPECT_THROW(fused::additive_attention(keys, query, torch::randn({width + 1}), mask), c10::Error);
  EXPECT_THROW(fused::additive_attention(keys, query, v, torch::ones({3, 6}, torch::kBool)), c10::Error);
}

TEST_P(FusedCellAttentionTest, MaskedSoftmaxAndGradientEqualLibTorchsOps) {
  torch::manual_seed(17);
  const auto mask = padded_mask();
  const int64_t group = GetParam() % 5 + 1;  // 4, 2, 3, 3 query rows a sentence
  const auto scores = (5.0 * torch::randn({3, group, 7})).requires_grad_();
  const auto upstream = torch::randn({3, group, 7});
  const auto fused_weights = fused::masked_softmax(scores, mask);
  const auto fused_grad = torch::autograd::grad({(fused_weights * upstream).sum()}, {scores})[0];
  const auto weights = softmax_ops(scores, mask);
  const auto grad = torch::autograd::grad({(weights * upstream).sum()}, {scores})[0];
  expect_close(fused_weights.detach(), weights.detach(), "weights");
  expect_close(fused_grad, grad, "gradient");
  expect_close(fused::masked_softmax(scores.detach().to(torch::kBFloat16), mask),
               softmax_ops(scores.detach().to(torch::kBFloat16).to(torch::kFloat32), mask), "bfloat16 scores");
}

INSTANTIATE_TEST_SUITE_P(Width, FusedCellAttentionTest, ::testing::Values(13, 16, 37, 512));

// The AVX2 and generic kernels pass the same tests: the suite again in fresh
// processes of this binary with ATEN_CPU_CAPABILITY narrowing the choice.
TEST(FusedCellCapabilityTest, EveryCapabilityPassesTheSameTests) {
  const char* limit = std::getenv("ATEN_CPU_CAPABILITY");
  if (std::getenv("TANDEM_FUSED_CHILD") != nullptr) {
    const std::string expected = std::string(limit) == "avx2" ? "AVX2" : "DEFAULT";
    EXPECT_EQ(std::string(fused::capability()), expected);
    return;
  }
  for (const std::string capability : {"avx2", "default"}) {
    const std::string command = "env ATEN_CPU_CAPABILITY=" + capability + " TANDEM_FUSED_CHILD=1 timeout 120 /proc/" +
                                std::to_string(::getpid()) +
                                "/exe --gtest_filter='*FusedCell*' > /dev/null 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0)
        << "run: ATEN_CPU_CAPABILITY=" << capability << " TANDEM_FUSED_CHILD=1 tandem_tests --gtest_filter='*FusedCell*'";
  }
}

}  // namespace
}  // namespace tandem::model
