// Attention over the encoder states (Bahdanau et al. 2015; Luong et al. 2015).
//
// Usage:
//   Attention attention(AttentionType::kBahdanau, /*memory_size=*/1024, /*query_size=*/512);
//   AttentionMemory memory = attention->prepare(encoder_states, mask);  // once per batch
//   auto [context, weights] = attention->forward(query, memory);        // every decoder step
//
// Scores: Bahdanau  v^T tanh(W_k m_j + W_q q)   (keys W_k m precomputed)
//         general   q^T W_a m_j                 (keys W_a m precomputed)
//         dot       q^T m_j                     (keys are the states themselves)
// Padded positions get weight exactly 0: the weights are a distribution over the
// real source positions of each row.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <utility>

#include "tandem/model/model_options.h"

namespace tandem::model {

/// The encoder states of a batch, ready for attention.
struct AttentionMemory {
  torch::Tensor values;  ///< [B, S, M] encoder states
  torch::Tensor keys;    ///< [B, S, K] precomputed keys
  torch::Tensor mask;    ///< [B, S] bool, true at real positions

  /// Rows `indices` (e.g. for beams), in that order.
  AttentionMemory reorder(const torch::Tensor& indices) const;
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(AttentionType type, int64_t memory_size, int64_t query_size);

  /// @param values [B, S, M] encoder states; @param mask [B, S] bool
  AttentionMemory prepare(const torch::Tensor& values, const torch::Tensor& mask);

  /// @param query [B, Q] decoder state
  /// @return context [B, M] and weights [B, S]
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& query, const AttentionMemory& memory);

 private:
  AttentionType type_;
  torch::nn::Linear key_{nullptr};    // Bahdanau: M -> Q; general: M -> Q
  torch::nn::Linear query_{nullptr};  // Bahdanau: Q -> Q
  torch::nn::Linear score_{nullptr};  // Bahdanau: Q -> 1
};
TORCH_MODULE(Attention);

}  // namespace tandem::model
