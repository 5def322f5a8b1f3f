// A weight multiplied at every step of a sequence, whose
// gradient is one product over all the steps.
//
// Autograd gives a weight used at T steps T gradient products of [B] rows, each
// written to a fresh tensor and then added to the sum: on the CPU that costs T
// full-size writes and additions per weight and update, and products too thin
// to run at the kernels' speed. A StepWeight keeps each step's input and, in
// the backward pass, each step's output gradient in two [T x B] buffers, and
// the weight's gradient is their one product once every step's has arrived
// (the buffers' node runs after all the steps' nodes in the backward pass).
//
// Usage (inside a forward pass over `steps` steps of `batch` rows):
//   StepWeight w(weight, steps, batch);
//   for (int64_t t = 0; t < steps; ++t) y = w.linear(x, t);   // x [B, in] -> [B, out], = x W^T
//
// Without gradients, on a GPU, or under autocast (bfloat16), linear() is the
// plain product and nothing is kept.
//
// One backward pass only: the buffers hold one pass's step inputs and output
// gradients, so a second backward through the same graph (retain_graph) throws
// std::logic_error instead of mixing two passes; so does a gradient that reaches
// the weight other than through linear()/times() (it would be lost). A new
// forward pass (a new StepWeight) is needed for each backward.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace tandem::model {

class StepWeight {
 public:
  /// @param weight [out, in], a parameter or a view of one
  StepWeight(const torch::Tensor& weight, int64_t steps, int64_t batch);

  /// x W^T for step t (each t at most once a forward pass). @param x [batch, in]
  torch::Tensor linear(const torch::Tensor& x, int64_t t) const;

  /// Whether the gradient is deferred (the one-product path).
  bool deferred() const { return alias_.defined(); }

  /// The weight as the steps see it (its gradient must come from linear() only; tests use it).
  const torch::Tensor& alias() const { return alias_; }

  /// Whether a StepWeight of `weight` over `steps` steps would defer its gradient.
  static bool defers(const torch::Tensor& weight, int64_t steps);

 private:
  torch::Tensor weight_;
  torch::Tensor alias_;         ///< the weight as the steps see it; its backward makes the gradient
  torch::Tensor inputs_;        ///< [T, B, in]
  torch::Tensor output_grads_;  ///< [T, B, out], zero for steps whose output gets no gradient
  torch::Tensor used_;          ///< 1 once the backward pass has made the gradient
};

/// The same for a batch of matrices every step multiplies by (attention's
/// keys and values): y_t = bmm(x_t, A), A [B, P, Q] (a view, such as the keys
/// transposed, will do); the gradient of A is one batched product over all steps.
class StepMemory {
 public:
  /// @param memory [B, P, Q]; @param group query rows a sentence (G)
  StepMemory(const torch::Tensor& memory, int64_t steps, int64_t group);

  /// bmm(x, A) for step t. @param x [B, G, P] @return [B, G, Q]
  torch::Tensor times(const torch::Tensor& x, int64_t t) const;

  bool deferred() const { return alias_.defined(); }

 private:
  torch::Tensor memory_;
  torch::Tensor alias_;
  torch::Tensor inputs_;        ///< [B, T, G, P]
  torch::Tensor output_grads_;  ///< [B, T, G, Q]
  torch::Tensor used_;
};

}  // namespace tandem::model
