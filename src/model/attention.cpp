#include "tandem/model/attention.h"

#include <torch/torch.h>

#include "tandem/error.h"

namespace tandem::model {

AttentionImpl::AttentionImpl(AttentionType type, int64_t memory_size, int64_t query_size) : type_(type) {
  switch (type) {
    case AttentionType::kBahdanau:
      key_ = register_module("key", torch::nn::Linear(torch::nn::LinearOptions(memory_size, query_size).bias(false)));
      query_ = register_module("query", torch::nn::Linear(torch::nn::LinearOptions(query_size, query_size).bias(false)));
      score_ = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(query_size, 1).bias(false)));
      break;
    case AttentionType::kLuongGeneral:
      key_ = register_module("key", torch::nn::Linear(torch::nn::LinearOptions(memory_size, query_size).bias(false)));
      break;
    case AttentionType::kLuongDot:
      if (memory_size != query_size) throw Error("luong-dot attention needs equal encoder and decoder widths");
      break;
    case AttentionType::kNone:
      throw Error("an Attention module was built for --attention none");
  }
}

AttentionMemory AttentionImpl::prepare(const torch::Tensor& values, const torch::Tensor& mask) {
  return {values, key_ ? key_->forward(values) : values, mask};  // keys [B, S, K]
}

std::pair<torch::Tensor, torch::Tensor> AttentionImpl::forward(const torch::Tensor& query,
                                                               const AttentionMemory& memory) {
  const int64_t B = memory.keys.size(0);
  const int64_t N = query.size(0);
  if (N % B != 0) {
    throw Error("attention got " + std::to_string(N) + " query rows for " + std::to_string(B) + " sentences");
  }
  const int64_t G = N / B;
  torch::Tensor scores;  // [B, G, S]
  if (type_ == AttentionType::kBahdanau) {
    const auto q = query_->forward(query).view({B, G, 1, -1});              // [B, G, 1, Q]
    const auto hidden = torch::tanh(memory.keys.unsqueeze(1) + q);         // [B, G, S, Q]
    scores = score_->forward(hidden).squeeze(-1);                          // [B, G, S]
  } else {
    scores = torch::bmm(query.view({B, G, -1}), memory.keys.transpose(1, 2));  // [B, G, K] x [B, K, S]
  }
  scores = scores.masked_fill(memory.mask.logical_not().unsqueeze(1), -std::numeric_limits<float>::infinity());
  const auto weights = torch::softmax(scores, /*dim=*/-1);    // [B, G, S]
  const auto context = torch::bmm(weights, memory.values);    // [B, G, M]
  return {context.view({N, -1}), weights.view({N, -1})};
}

}  // namespace tandem::model
