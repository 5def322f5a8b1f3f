#include "tandem/train/loss.h"

#include <torch/torch.h>

#include "tandem/vocab/special_ids.h"

namespace tandem::train {

LossResult cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double label_smoothing) {
  const auto log_probs = torch::log_softmax(logits.to(torch::kFloat32), /*dim=*/-1);  // [B, T, V]
  const auto real = target.ne(vocab::kPadId);                                          // [B, T]
  const auto nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1);             // [B, T]
  LossResult result;
  result.nll = nll.masked_select(real).sum();
  if (label_smoothing > 0.0) {
    const auto uniform = -log_probs.mean(/*dim=*/-1);  // [B, T]
    result.loss = ((1.0 - label_smoothing) * nll + label_smoothing * uniform).masked_select(real).sum();
  } else {
    result.loss = result.nll;
  }
  result.tokens = real.sum().item<int64_t>();
  return result;
}

}  // namespace tandem::train
