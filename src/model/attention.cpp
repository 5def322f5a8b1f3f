#include "tandem/model/attention.h"

#include <torch/torch.h>

#include "tandem/error.h"

namespace tandem::model {

AttentionMemory AttentionMemory::reorder(const torch::Tensor& indices) const {
  return {values.index_select(0, indices), keys.index_select(0, indices), mask.index_select(0, indices)};
}

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
  torch::Tensor scores;  // [B, S]
  if (type_ == AttentionType::kBahdanau) {
    const auto hidden = torch::tanh(memory.keys + query_->forward(query).unsqueeze(1));  // [B, S, Q]
    scores = score_->forward(hidden).squeeze(-1);                                       // [B, S]
  } else {
    scores = torch::bmm(memory.keys, query.unsqueeze(-1)).squeeze(-1);  // [B, S, K] x [B, K, 1] -> [B, S]
  }
  scores = scores.masked_fill(memory.mask.logical_not(), -std::numeric_limits<float>::infinity());
  const auto weights = torch::softmax(scores, /*dim=*/-1);                            // [B, S]
  const auto context = torch::bmm(weights.unsqueeze(1), memory.values).squeeze(1);  // [B, M]
  return {context, weights};
}

}  // namespace tandem::model
