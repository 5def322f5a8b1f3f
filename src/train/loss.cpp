#include "tandem/train/loss.h"

#include <torch/torch.h>

#include "model/fused_cells.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::train {

LossResult cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double label_smoothing) {
  if (model::fused::cross_entropy_applies(logits)) {  // one pass each way, no [..., V] log-probabilities kept
    const auto [loss, nll] = model::fused::cross_entropy(logits, target, vocab::kPadId, label_smoothing);
    LossResult result;
    result.loss = loss.sum();
    result.nll = nll.sum();
    result.tokens = target.ne(vocab::kPadId).sum().item<int64_t>();
    return result;
  }
  const auto log_probs = torch::log_softmax(logits.to(torch::kFloat32), /*dim=*/-1);  // [..., V]
  const auto real = target.ne(vocab::kPadId);                                          // [...]
  const auto nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1);             // [...]
  LossResult result;
  result.nll = nll.masked_select(real).sum();
  if (label_smoothing > 0.0) {
    const auto uniform = -log_probs.mean(/*dim=*/-1);  // [...]
    result.loss = ((1.0 - label_smoothing) * nll + label_smoothing * uniform).masked_select(real).sum();
  } else {
    result.loss = result.nll;
  }
  result.tokens = real.sum().item<int64_t>();
  return result;
}

LossResult batch_loss(model::Seq2Seq& model, const data::Batch& batch, double label_smoothing) {
  const auto real = batch.target_output.ne(vocab::kPadId);          // [B, T]
  const auto features = model->features(batch).index({real});       // [R, E]
  return cross_entropy(model->logits(features), batch.target_output.index({real}), label_smoothing);  // [R, V]
}

}  // namespace tandem::train
