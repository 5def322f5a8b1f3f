// Decoder: one step of the target side; every search calls step(), training
// forward_teacher() (the same step at every position, gold previous tokens).
//
// Usage:
//   DecoderState state = decoder->start(encoder_output);
//   for (...) {
//     StepOutput out = decoder->step(previous_tokens, state);   // advances `state`
//     torch::Tensor logits = decoder->logits(out.features);     // [B, V]
//   }
//
// One step (E = dim_emb, H = dim_rnn, M = encoder state width):
//   e   = dropout(word_dropout(embedding(y_{t-1})))                     [B, E]
//   Bahdanau: c = attend(s_{t-1});  s_t = RNN([e; c], s_{t-1});  f = tanh(W [s_t; c; e])
//   Luong:    s_t = RNN([e; f_{t-1}], s_{t-1});  c = attend(s_t);    f = tanh(W [c; s_t])
//             (f_{t-1} is fed back: input feeding)
//   none:     s_t = RNN(e, s_{t-1});  f = tanh(W [s_t; e]), or f = s_t with --deep-output false
//   logits = W_out dropout(f) + b   with W_out the target embeddings when tied   [B, V]
// The features f are E wide, so the output layer can share the embedding matrix,
// and logits() may run once over all time steps in training.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <vector>

#include "tandem/model/attention.h"
#include "tandem/model/encoder.h"
#include "tandem/model/model_options.h"
#include "tandem/model/recurrent_state.h"
#include "tandem/model/rnn_stack.h"

namespace tandem::model {

/// Everything the decoder carries from one step to the next, batch-major.
/// N rows (B sentences x G rows each, G = 1 but in beam search) share the
/// memory of their sentence.
struct DecoderState {
  RecurrentState rnn;      ///< [dec_depth, N, H]
  AttentionMemory memory;  ///< [B, S, ...] encoder states with precomputed keys (empty without attention)
  torch::Tensor feed;      ///< [N, E] previous features for Luong input feeding (else undefined)

  /// The state of rows `indices`, in that order, for a search whose `indices`
  /// keep every row inside its sentence's block of rows (the block shares one
  /// source): only the recurrent state and feed move, the encoder states stay
  /// (no copy of [N, S, M] tensors, neither at the start nor every step).
  /// Growing B rows to B x G (`indices` = 0,0,..,1,1,..) is such a reordering.
  DecoderState reorder_within_sentences(const torch::Tensor& indices) const;

  /// The same, keeping only sentences `sentences` (of the memory's B, in that
  /// order); `indices` picks the rows of the kept sentences' blocks.
  DecoderState select_sentences(const torch::Tensor& sentences, const torch::Tensor& indices) const;
};

struct StepOutput {
  torch::Tensor features;   ///< [B, E] input of the output layer
  torch::Tensor attention;  ///< [B, S] attention weights (undefined with --attention none)
};

class DecoderImpl : public torch::nn::Module {
 public:
  /// `embeddings` belongs to the model (it may be tied); the decoder uses it
  /// without registering it.
  DecoderImpl(const ModelOptions& options, torch::nn::Embedding embeddings);

  /// The first state, from the encoder's output (bridge or zeros).
  DecoderState start(const EncoderOutput& encoded);

  /// One step. @param previous [B] int64 the previous target tokens (bos first)
  StepOutput step(const torch::Tensor& previous, DecoderState& state);

  /// @param features [..., E] @return logits [..., V]
  torch::Tensor logits(const torch::Tensor& features);
  /// The logits of the target ids `rows` only (a shortlist). @param rows [R] @return [..., R]
  torch::Tensor logits(const torch::Tensor& features, const torch::Tensor& rows);

  /// Without attention, every step of teacher forcing at once: nothing but the
  /// recurrent state flows from one step to the next, so the whole sequence runs
  /// through the recurrent stack in one call (equal to step() at every position).
  /// @param previous [B, T] int64 the previous target tokens (bos first)
  /// @return features [B, T, E]; `state` advances past the last position
  torch::Tensor forward_sequence(const torch::Tensor& previous, DecoderState& state);
  /// Teacher forcing over all positions: step() at every position (equal to it),
  /// with the embeddings' share of the first recurrent layer's input products
  /// for all positions in one product; forward_sequence() without attention.
  /// @param previous [B, T] int64 the previous target tokens (bos first)
  /// @return features [B, T, E]; `state` advances past the last position
  torch::Tensor forward_teacher(const torch::Tensor& previous, DecoderState& state);

 private:
  // The previous tokens' embeddings [..., E] through word dropout (--dropout-trg)
  // and dropout (--dropout-emb).
  torch::Tensor embed(const torch::Tensor& previous);

  // One step from the embedded previous tokens e [B, E]; `projected` holds e's
  // share of the first layer's input products at position t (forward_teacher),
  // or is null.
  StepOutput step_from(const torch::Tensor& e, const ProjectedInputs* projected, int64_t t, DecoderState& state);

  ModelOptions options_;
  torch::nn::Embedding embeddings_;
  torch::nn::Dropout embedding_dropout_;
  torch::nn::Dropout output_dropout_;
  std::shared_ptr<RnnStackImpl> rnn_;  // the conditional decoder's first transition
  std::vector<std::shared_ptr<RnnStackImpl>> transitions_;  // its later ones (--dec-cell-base-depth - 1)
  Attention attention_{nullptr};
  torch::nn::Linear bridge_{nullptr};
  torch::nn::Linear features_{nullptr};
  torch::Tensor output_weight_;  // [V, E]: the embeddings when tied
  torch::Tensor output_bias_;    // [V]
};
TORCH_MODULE(Decoder);

}  // namespace tandem::model
