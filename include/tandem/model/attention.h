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
//
// Queries may come in groups: with N = B x G query rows, rows b*G .. b*G+G-1
// attend to sentence b of the memory (G beams of one sentence in beam search;
// G = 1 in training and greedy search). The memory is never copied per beam.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <utility>

#include "tandem/model/model_options.h"
#include "tandem/model/step_weight.h"

namespace tandem::model {

/// The encoder states of a batch, ready for attention.
struct AttentionMemory {
  torch::Tensor values;  ///< [B, S, M] encoder states
  torch::Tensor keys;    ///< [B, S, K] precomputed keys
  torch::Tensor mask;    ///< [B, S] bool, true at real positions
  /// Set by prepare_steps for teacher forcing: the steps' products with the
  /// values and (Luong) the keys, their gradients one product over all steps.
  std::shared_ptr<const StepMemory> step_values, step_keys;
  std::shared_ptr<const StepWeight> step_query;  ///< Bahdanau's query projection
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(AttentionType type, int64_t memory_size, int64_t query_size);

  /// @param values [B, S, M] encoder states; @param mask [B, S] bool
  AttentionMemory prepare(const torch::Tensor& values, const torch::Tensor& mask);

  /// Before `steps` steps of teacher forcing (one query row a sentence, each
  /// step t once): forward(query, memory, t) then defers the memory's gradients.
  void prepare_steps(AttentionMemory& memory, int64_t steps) const;

  /// @param query [N, Q] decoder states, N = B x G (G query rows a sentence)
  /// @param step the step of teacher forcing after prepare_steps, or -1
  /// @return context [N, M] and weights [N, S]
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& query, const AttentionMemory& memory,
                                                  int64_t step = -1);

 private:
  AttentionType type_;
  torch::nn::Linear key_{nullptr};    // Bahdanau: M -> Q; general: M -> Q
  torch::nn::Linear query_{nullptr};  // Bahdanau: Q -> Q
  torch::nn::Linear score_{nullptr};  // Bahdanau: Q -> 1
};
TORCH_MODULE(Attention);

}  // namespace tandem::model
