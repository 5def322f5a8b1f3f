// Seq2Seq: embeddings, encoder and decoder; the model Tandem trains and translates with.
// With options.type() == kLanguageModel it is the decoder stack alone (no source
// embeddings, no encoder): encode() only records the batch size, and the decoder
// starts from zeros, so training, scoring and search run unchanged over an empty source.
//
// Usage:
//   Seq2Seq model(ModelOptions(8000, 8000).cell(CellType::kGru));
//   torch::Tensor logits = model->forward(batch);   // teacher forcing: [B, T, V]
//
//   // search: the narrow interface
//   EncoderOutput enc = model->encode(source, lengths);
//   DecoderState state = model->start(enc);
//   StepOutput out = model->step(previous_tokens, state);
//   torch::Tensor logp = torch::log_softmax(model->logits(out.features), -1);
//
// Parameters are named after where they live: "source_embeddings.weight",
// "encoder.rnn.rnn.weight_ih_l0", "decoder.attention.key.weight", ...
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include "tandem/data/batch.h"
#include "tandem/model/decoder.h"
#include "tandem/model/encoder.h"
#include "tandem/model/model_options.h"

namespace tandem::model {

class Seq2SeqImpl : public torch::nn::Module {
 public:
  explicit Seq2SeqImpl(const ModelOptions& options);

  /// @param source [B, S] int64; @param lengths [B] int64 (a language model reads only B)
  EncoderOutput encode(const torch::Tensor& source, const torch::Tensor& lengths);

  /// The decoder's first state for an encoded batch.
  DecoderState start(const EncoderOutput& encoded);

  /// One decoder step; @param previous [B] int64
  StepOutput step(const torch::Tensor& previous, DecoderState& state);

  /// @param features [..., E] @return logits [..., V]
  torch::Tensor logits(const torch::Tensor& features);
  /// The logits of target ids `rows` only (a shortlist). @param rows [R] @return [..., R]
  torch::Tensor logits(const torch::Tensor& features, const torch::Tensor& rows);

  /// Teacher forcing: the gold previous tokens go in. @return the output
  /// layer's input at every step, features [B, T, E]
  torch::Tensor features(const data::Batch& batch);

  /// A language model reading a continuous stream: the features of `previous`
  /// [B, T] (every position predicts the next id), starting from the carried
  /// recurrent `state` (zeros when undefined), which advances past the last
  /// position. @return features [B, T, E]
  torch::Tensor stream_features(const torch::Tensor& previous, RecurrentState& state);

  /// Teacher forcing, with the output layer run once over all steps.
  /// @return logits [B, T, V]
  torch::Tensor forward(const data::Batch& batch);

  const ModelOptions& options() const { return options_; }

 private:
  ModelOptions options_;
  torch::nn::Embedding source_embeddings_{nullptr};
  torch::nn::Embedding target_embeddings_{nullptr};
  Encoder encoder_{nullptr};
  Decoder decoder_{nullptr};
};
TORCH_MODULE(Seq2Seq);

}  // namespace tandem::model
