// Cross entropy over the real (non-pad) target tokens, with label smoothing.
#pragma once

#include <torch/types.h>

namespace tandem::train {

struct LossResult {
  torch::Tensor loss;     ///< scalar: smoothed loss summed over real tokens (what is minimised)
  torch::Tensor nll;      ///< scalar: plain negative log-likelihood summed over real tokens
  int64_t tokens = 0;     ///< real target tokens
};

/// @param logits [B, T, V]; @param target [B, T] int64 padded with kPadId
/// @param label_smoothing share of probability mass spread evenly over the vocabulary
LossResult cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double label_smoothing);

}  // namespace tandem::train
