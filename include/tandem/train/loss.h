// Cross entropy over the real (non-pad) target tokens, with label smoothing.
#pragma once

#include <torch/types.h>

#include "tandem/data/batch.h"
#include "tandem/model/seq2seq.h"

namespace tandem::train {

struct LossResult {
  torch::Tensor loss;     ///< scalar: smoothed loss summed over real tokens (what is minimised)
  torch::Tensor nll;      ///< scalar: plain negative log-likelihood summed over real tokens
  int64_t tokens = 0;     ///< real target tokens
};

/// @param logits [..., V]; @param target [...] int64, kPadId where nothing is to be predicted
/// @param label_smoothing share of probability mass spread evenly over the vocabulary
LossResult cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double label_smoothing);

/// The teacher-forced loss of `model` on `batch`, what training minimises: the
/// output layer and the softmax run over the real target positions only, so
/// padding costs them nothing. Equal to cross_entropy(model->forward(batch), ...).
LossResult batch_loss(model::Seq2Seq& model, const data::Batch& batch, double label_smoothing);

}  // namespace tandem::train
