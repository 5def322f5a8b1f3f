#include "tandem/model/step_weight.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "tandem/model/precision.h"
#include "tandem/model/rnn_stack.h"

namespace tandem::model {
namespace {

// h_t = tanh(x_t A^T + h_{t-1} W^T), loss = sum(h_T r) + the steps' outputs
// weighted; `deferred` multiplies by W through a StepWeight.
std::vector<torch::Tensor> recurrence_gradients(bool deferred, int64_t skip_step = -1) {
  torch::manual_seed(7);
  const int64_t steps = 5, batch = 3, width = 4;
  auto w = torch::randn({width, width}, torch::requires_grad());
  auto a = torch::randn({width, width}, torch::requires_grad());
  auto x = torch::randn({steps, batch, width}, torch::requires_grad());
  const auto r = torch::randn({batch, width});
  const StepWeight step_weight(w, steps, batch);
  EXPECT_TRUE(!deferred || step_weight.deferred());
  auto h = torch::zeros({batch, width});
  auto loss = torch::zeros({});
  for (int64_t t = 0; t < steps; ++t) {
    // A step whose product gets no gradient leaves a zero row in the buffers.
    const auto product = deferred ? step_weight.linear(h, t) : h.mm(w.t());
    h = torch::tanh(x[t].mm(a.t()) + (t == skip_step ? product.detach() : product));
    loss = loss + (h * r).sum() * static_cast<double>(t + 1);
  }
  loss.backward();
  return {w.grad(), a.grad(), x.grad()};
}

TEST(StepWeightTest, GradientsEqualThoseOfAProductPerStep) {
  for (const int64_t skip : {-1, 2}) {
    const auto plain = recurrence_gradients(false, skip);
    const auto deferred = recurrence_gradients(true, skip);
    for (size_t i = 0; i < plain.size(); ++i) {
      EXPECT_TRUE(torch::allclose(deferred[i], plain[i], 1e-5, 1e-6)) << "gradient " << i << ", skip " << skip;
    }
  }
}

// The buffers hold one backward pass: a second one through the same graph, or a
// gradient reaching the weight other than through linear(), is an error, never a
// silently wrong gradient.
TEST(StepWeightTest, ASecondBackwardOrAGradientAroundTheStepsIsAnError) {
  const int64_t steps = 3, batch = 2, width = 4;
  auto w = torch::randn({width, width}, torch::requires_grad());
  const auto x = torch::randn({batch, width});
  {
    const StepWeight step_weight(w, steps, batch);
    auto h = x;
    for (int64_t t = 0; t < steps; ++t) h = torch::tanh(step_weight.linear(h, t));
    const auto loss = h.sum();
    loss.backward({}, /*retain_graph=*/true);
    const auto first = w.grad().clone();
    try {
      loss.backward();
      ADD_FAILURE() << "a second backward pass was accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("second backward pass"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(torch::equal(w.grad(), first));
  }
  {
    w.mutable_grad() = torch::Tensor();
    const StepWeight step_weight(w, steps, batch);
    auto h = x;
    for (int64_t t = 0; t < steps; ++t) h = torch::tanh(step_weight.linear(h, t));
    const auto loss = h.sum() + step_weight.alias().sum();  // the weight used around the steps
    try {
      loss.backward();
      ADD_FAILURE() << "a gradient around the steps was accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("outside linear()"), std::string::npos) << e.what();
    }
  }
  {
    // And for StepMemory: a second pass.
    auto memory = torch::randn({batch, width, width}, torch::requires_grad());
    const StepMemory step_memory(memory, steps, 1);
    auto q = torch::randn({batch, 1, width});
    for (int64_t t = 0; t < steps; ++t) q = torch::tanh(step_memory.times(q, t));
    const auto loss = q.sum();
    loss.backward({}, /*retain_graph=*/true);
    EXPECT_THROW(loss.backward(), std::exception);
  }
}

TEST(StepWeightTest, WithoutGradientsOrUnderAutocastItIsThePlainProduct) {
  const auto w = torch::randn({3, 4}, torch::requires_grad());
  const auto x = torch::randn({2, 4});
  {
    torch::NoGradGuard no_grad;
    const StepWeight step_weight(w, 4, 2);
    EXPECT_FALSE(step_weight.deferred());
    EXPECT_TRUE(torch::equal(step_weight.linear(x, 0), x.mm(w.t())));
  }
  {
    PrecisionScope bfloat16(Precision::kBFloat16, torch::kCPU);
    EXPECT_FALSE(StepWeight(w, 4, 2).deferred());
  }
  EXPECT_FALSE(StepWeight(w.detach(), 4, 2).deferred());  // no gradient wanted
  EXPECT_FALSE(StepWeight(w, 1, 2).deferred());           // one step: nothing to gain
  EXPECT_TRUE(StepWeight(w, 4, 2).deferred());
}

// On the CPU from a zero state, training runs each direction step by step with
// deferred gradients; from an explicit zero state it takes LibTorch's packed
// path. Outputs and every gradient must agree, for every cell, two layers, both
// directions, padded rows.
TEST(StepWeightTest, TheEncoderPathEqualsLibTorchsOpsWithGradients) {
  for (const auto cell : {CellType::kRnn, CellType::kGru, CellType::kLstm}) {
    torch::manual_seed(11);
    auto stack = make_rnn_stack(cell, RnnStackOptions(6, 5).layers(2).bidirectional(true));
    const auto inputs = torch::randn({3, 7, 6}, torch::requires_grad());
    const auto lengths = torch::tensor({7, 4, 1}, torch::kLong);
    const auto weights = torch::randn({3, 7, 10});
    const auto gradients = [&](const RecurrentState& state) {
      stack->zero_grad();
      inputs.mutable_grad() = torch::Tensor();
      auto [outputs, final_state] = stack->forward(inputs, lengths, state);
      const auto mask = (torch::arange(7).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1);
      ((outputs * weights * mask).sum() + final_state.h.pow(2).sum()).backward();
      std::vector<torch::Tensor> out{outputs.detach() * mask, final_state.h.detach(), inputs.grad().clone()};
      for (const auto& p : stack->parameters()) out.push_back(p.grad().clone());
      return out;
    };
    const auto stepped = gradients({});
    const int64_t layers_x_dirs = 4;
    const auto zeros = torch::zeros({layers_x_dirs, 3, 5});
    const auto packed = gradients(cell == CellType::kLstm ? RecurrentState{zeros, zeros} : RecurrentState{zeros, {}});
    ASSERT_EQ(stepped.size(), packed.size());
    for (size_t i = 0; i < stepped.size(); ++i) {
      EXPECT_TRUE(torch::allclose(stepped[i], packed[i], 1e-4, 1e-5))
          << cell_type_name(cell) << ": tensor " << i << " differs by "
          << (stepped[i] - packed[i]).abs().max().item<float>();
    }
  }
}

}  // namespace
}  // namespace tandem::model
